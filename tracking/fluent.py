"""MLflow's fluent API: module functions that log to the active run.

The stack of active runs lives in a `contextvars.ContextVar`, so threads and asyncio
tasks each have their own. A host (a sweep's trial worker) can push a run with its own
writer through `attach`; inside it, `start_run()` re-enters that run instead of failing,
so an ordinary training script works unchanged.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracking import environment, lines, system_metrics, validation
from tracking.client import Client, ClientWriter, dict_text, now_ms, resolve_tracking_uri
from tracking.entities import Experiment, Metric, Run, RunData, RunInfo, RunStatus, ViewType
from tracking.errors import InvalidInputError, NotFoundError
from tracking.writer import RunWriter

if TYPE_CHECKING:
    import pandas

    from tracking.data import Dataset

DEFAULT_EXPERIMENT = "Default"
TRACKING_URI_ENV = "SWEEPS_TRACKING_URI"
MLFLOW_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
NOTE_TAG = "mlflow.note.content"

_uri: contextvars.ContextVar[str | None] = contextvars.ContextVar("tracking_uri", default=None)
_experiment_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tracking_experiment_id", default=None)
_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "tracking_active_runs", default=())
_last: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "tracking_last_active_run", default=None)
_clients: dict[str, Client] = {}
_monitors: dict[str, system_metrics.SystemMetricsMonitor] = {}


@dataclass(frozen=True)
class ActiveRun:
    """The run a `with start_run():` block logs to. `owned` runs end when the block ends;
    runs attached from a host (a sweep trial) are ended by the host."""

    info: RunInfo
    data: RunData
    writer: RunWriter
    owned: bool = True

    @property
    def _info(self) -> RunInfo:  # MLflow's ActiveRun is a Run; scripts reach for _info
        return self.info

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _end(self, status)


# -- where to log ------------------------------------------------------------------------

def set_tracking_uri(uri: str | os.PathLike) -> None:
    """Log to the store in folder `uri` from now on (in this context). A new store has
    no active experiment: the one set before belongs to the old store."""
    resolved = resolve_tracking_uri(uri)
    if resolved != get_tracking_uri():
        _experiment_id.set(None)
    _uri.set(resolved)


def get_tracking_uri() -> str:
    """The tracking root: set_tracking_uri, else $SWEEPS_TRACKING_URI, else
    $MLFLOW_TRACKING_URI, else ./runs."""
    return _uri.get() or resolve_tracking_uri(os.environ.get(TRACKING_URI_ENV)
                                              or os.environ.get(MLFLOW_TRACKING_URI_ENV) or None)


def _client() -> Client:
    uri = get_tracking_uri()
    client = _clients.get(uri)
    if client is None:
        client = _clients[uri] = Client(uri)
    return client


def set_experiment(experiment_name: str | None = None,
                   experiment_id: str | None = None) -> Experiment:
    """Make an experiment active (created if the name is new) and return it."""
    client = _client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInputError("set_experiment: give exactly one of experiment_name, "
                                "experiment_id")
    if experiment_id is None:
        experiment_id = client.get_or_create_experiment(experiment_name)
    experiment = client.get_experiment(experiment_id)
    _experiment_id.set(experiment.experiment_id)
    return experiment


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: Mapping[str, Any] | None = None) -> str:
    """Create experiment `name` and return its id (see `Client.create_experiment`)."""
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment `experiment_id`; raises NotFoundError when missing."""
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment named `name`, or None (as MLflow)."""
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    """Mark an experiment and its runs deleted (see `Client.delete_experiment`)."""
    _client().delete_experiment(experiment_id)


def search_experiments(view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                       max_results: int | None = None, filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    """The store's experiments (see `Client.search_experiments`)."""
    return _client().search_experiments(view_type, max_results, filter_string, order_by)


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag on the active experiment."""
    client = _client()
    client.set_experiment_tag(_active_experiment_id(client), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    """Set tags on the active experiment."""
    for key, value in tags.items():
        set_experiment_tag(key, value)


def _active_experiment_id(client: Client) -> str:
    return _experiment_id.get() or client.get_or_create_experiment(DEFAULT_EXPERIMENT)


# -- run lifecycle -----------------------------------------------------------------------

def start_run(run_id: str | None = None, experiment_id: str | None = None,
              run_name: str | None = None, nested: bool = False,
              tags: Mapping[str, Any] | None = None, description: str | None = None,
              parent_run_id: str | None = None, log_system_metrics: bool | None = None, *,
              capture_environment: bool = True) -> ActiveRun:
    """Start a run (or reopen `run_id`) and make it active; use it as a context manager.

    >>> with start_run(run_name="baseline") as run:
    ...     log_metric("loss", 0.4, step=1)

    An exception inside the block ends the run FAILED, Ctrl-C ends it KILLED. MLflow's
    system tags in `tags` set the run's own fields (``mlflow.runName`` its name,
    ``mlflow.parentRunId`` its parent, ``mlflow.note.content`` its note).
    `log_system_metrics` (default: `enable_system_metrics_logging()`) samples system
    metrics while the run is active.
    """
    tags = dict(tags or {})
    run_name = run_name or tags.pop("mlflow.runName", None)
    parent_run_id = parent_run_id or tags.pop("mlflow.parentRunId", None)
    description = description if description is not None else tags.pop(NOTE_TAG, None)
    stack = _stack.get()
    if stack and not nested and parent_run_id is None:
        if not stack[-1].owned and run_id in (None, stack[-1].info.run_id):
            # re-enter the host's run
            return _push(ActiveRun(stack[-1].info, stack[-1].data, stack[-1].writer, False))
        raise InvalidInputError(
            f"start_run: run {stack[-1].info.run_id} is already active; "
            "end it with end_run() or pass nested=True")
    if description is not None:
        description = validation.note(description)
    env_run = os.environ.get(lines.RUN_ID_ENV)
    if not stack and run_id is None and env_run:
        return _push(_attach_from_environment(env_run))
    client = _client()
    if run_id is not None:
        run = client.get_run(run_id)
        with client.batch() as writes:
            writes.reopen(run_id)
    else:
        if nested and parent_run_id is None and stack:  # as MLflow: no parent, a top-level run
            parent_run_id = stack[-1].info.run_id
        all_tags = tags
        if capture_environment:
            all_tags = {**environment.capture(), **all_tags}
        run = client.create_run(experiment_id or _active_experiment_id(client),
                                tags=all_tags, run_name=run_name, parent_run_id=parent_run_id)
    writer = client.writer(run.info.run_id)
    if description is not None:
        writer.set_note(description)
    if system_metrics.enabled() if log_system_metrics is None else log_system_metrics:
        _monitors[run.info.run_id] = system_metrics.SystemMetricsMonitor(writer).start()
    return _push(ActiveRun(run.info, run.data, writer))


def _attach_from_environment(run_id: str) -> ActiveRun:
    """The run a host named in $TRACKING_RUN_ID; events as lines if $TRACKING_EVENTS=stdout."""
    if os.environ.get(lines.EVENTS_ENV) == "stdout":
        info = RunInfo(run_id=run_id, run_name=run_id, experiment_id="",
                       parent_run_id=None, status=RunStatus.RUNNING, start_time=now_ms(),
                       end_time=None, artifact_uri="")
        return ActiveRun(info, RunData({}, {}, {}), lines.LineWriter(run_id), owned=False)
    client = _client()
    run = client.get_run(run_id)
    return ActiveRun(run.info, run.data, client.writer(run_id), owned=False)


@contextlib.contextmanager
def attach(info: RunInfo, writer: RunWriter) -> Iterator[ActiveRun]:
    """For hosts: make `info` the active run, logging through `writer`, for the block.
    The host ends the run; `start_run()` inside the block re-enters it."""
    token = _stack.set((*_stack.get(), ActiveRun(info, RunData({}, {}, {}), writer, False)))
    try:
        yield _stack.get()[-1]
    finally:
        _stack.reset(token)


def _push(active: ActiveRun) -> ActiveRun:
    _stack.set((*_stack.get(), active))
    return active


def _end(active: ActiveRun, status: RunStatus) -> None:
    stack = _stack.get()
    if active not in stack:
        return
    index = len(stack) - 1 - stack[::-1].index(active)
    for inner in stack[index + 1:][::-1]:  # end runs left open inside this one first
        if inner.owned:
            monitor = _monitors.pop(inner.info.run_id, None)
            if monitor is not None:
                monitor.stop()
            inner.writer.end(status)
    _stack.set(stack[:index])
    _last.set(active)
    monitor = _monitors.pop(active.info.run_id, None) if active.owned else None
    if monitor is not None:
        monitor.stop()
    if active.owned:
        active.writer.end(status)
    else:
        active.writer.flush()


def active_run() -> ActiveRun | None:
    """The innermost active run, or None."""
    stack = _stack.get()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run, else the run that ended last in this context (as stored now), or
    None (MLflow's `last_active_run`)."""
    active = active_run() or _last.get()
    if active is None:
        return None
    active.writer.flush()
    if isinstance(active.writer, ClientWriter):  # read from the run's own store
        return active.writer.client.get_run(active.info.run_id)
    return Run(active.info, active.data)


def end_run(status: str | RunStatus = "FINISHED") -> None:
    """End the innermost active run with `status` (durable before this returns)."""
    stack = _stack.get()
    if stack:
        _end(stack[-1], RunStatus.parse(status))


@atexit.register
def _end_runs_at_exit() -> None:
    """As MLflow does: runs still active at interpreter exit end FINISHED."""
    with contextlib.suppress(Exception):
        while _stack.get():
            _end(_stack.get()[0], RunStatus.FINISHED)


def _current() -> ActiveRun:
    """The active run, starting one when none is (as MLflow does)."""
    return active_run() or start_run()


# -- logging -----------------------------------------------------------------------------

def log_param(key: str, value: Any) -> Any:
    """Log a param of the active run (immutable once logged); returns the value."""
    log_params({key: value})
    return value


def log_params(params: Mapping[str, Any]) -> None:
    _current().writer.log_params({validation.key(k, "param key"): validation.param_value(k, v)
                                  for k, v in params.items()})


def log_metric(key: str, value: float, step: int | None = None,
               timestamp: int | None = None) -> None:
    """Append a point to metric `key` of the active run (NaN and +/-inf kept exactly)."""
    validation.key(key, "metric key")
    _current().writer.log_metrics([Metric(
        key, validation.metric_value(key, value), validation.timestamp(key, timestamp, now_ms()),
        validation.step(key, step))])


def log_metrics(metrics: Mapping[str, float], step: int | None = None,
                timestamp: int | None = None) -> None:
    now = now_ms()
    _current().writer.log_metrics([
        Metric(validation.key(k, "metric key"), validation.metric_value(k, v),
               validation.timestamp(k, timestamp, now), validation.step(k, step))
        for k, v in metrics.items()])


def set_tag(key: str, value: Any) -> None:
    set_tags({key: value})


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags of the active run; MLflow's ``mlflow.note.content`` sets its note."""
    tags = dict(tags)
    if NOTE_TAG in tags:
        set_note(tags.pop(NOTE_TAG))
    if tags:
        _current().writer.set_tags({validation.key(k, "tag key"): validation.tag_value(k, v)
                                    for k, v in tags.items()})


def set_note(text: str) -> None:
    """Set the active run's note (free text; Markdown is rendered, sanitised, in reports)."""
    _current().writer.set_note(validation.note(text))


def log_artifact(local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
    """Copy a file into the active run's artifact folder (under `artifact_path`)."""
    _current().writer.log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
    """Copy a folder's contents into the active run's artifact folder."""
    _current().writer.log_artifacts(local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    _current().writer.write_artifact(artifact_file, text.encode("utf-8"))


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> None:
    """Save a dict as JSON, or YAML when `artifact_file` ends with .yaml/.yml."""
    log_text(dict_text(dictionary, artifact_file), artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Save a plotly figure (.html self-contained, or .json) or a matplotlib figure
    (.png, .svg, .pdf, ...) as an artifact."""
    module = type(figure).__module__
    if module.startswith("plotly"):
        if artifact_file.endswith(".json"):
            data = figure.to_json().encode("utf-8")
        elif artifact_file.endswith(".html"):
            data = figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
        else:
            raise InvalidInputError(f"log_figure: a plotly figure is saved as .html or .json "
                                    f"(got {artifact_file!r})")
    elif module.startswith("matplotlib"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=os.path.splitext(artifact_file)[1].lstrip(".") or "png")
        data = buffer.getvalue()
    else:
        raise InvalidInputError(f"log_figure: expected a plotly or matplotlib figure "
                                f"(got {type(figure).__name__})")
    _current().writer.write_artifact(artifact_file, data)


def log_input(dataset: Dataset, context: str | None = None,
              tags: Mapping[str, Any] | None = None) -> None:
    """Record a dataset the active run reads (see tracking.data): its digest, source,
    schema and profile as ``dataset.<name>.*`` tags, with `context` ("training", ...).

    >>> log_input(tracking.data.from_pandas(frame, name="churn"), context="training")
    """
    extra = {f"dataset.{dataset.name}.tag.{k}": v for k, v in (tags or {}).items()}
    set_tags({**dataset.tags(context), **extra})


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifact folder, or `artifact_path` inside it."""
    root = _current().info.artifact_uri
    return root if not artifact_path else os.path.join(root, artifact_path)


# -- reading -----------------------------------------------------------------------------

def get_parent_run(run_id: str) -> Run | None:
    """The parent of run `run_id`, or None for a top-level run."""
    return _client().get_parent_run(run_id)


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def search_runs(experiment_ids: Sequence[str] | None = None, filter_string: str = "",
                run_view_type: ViewType | int | str | None = None,
                max_results: int | None = 100_000,
                order_by: Sequence[str] | None = None, output_format: str = "pandas",
                search_all_experiments: bool = False,
                experiment_names: Sequence[str] | None = None) -> pandas.DataFrame | list[Run]:
    """Runs matching `filter_string`, as a DataFrame (or a list of Runs with
    `output_format="list"`). Without experiment ids or names: the active experiment,
    or every experiment when none is active.

    >>> search_runs(experiment_names=["churn"],
    ...             filter_string="params.model = 'rf' and metrics.acc > 0.9",
    ...             order_by=["metrics.acc DESC"])
    """
    client = _client()
    ids = [str(e) for e in experiment_ids or ()]
    for name in experiment_names or ():
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFoundError(f"search_runs: no experiment named {name!r} in "
                                f"{client.tracking_uri}")
        ids.append(experiment.experiment_id)
    if not ids:
        active = _experiment_id.get()
        ids = ([active] if active and not search_all_experiments
               else [e.experiment_id for e in client.search_experiments()])
    if output_format not in ("pandas", "list"):
        raise InvalidInputError(f"search_runs: output_format must be 'pandas' or 'list' "
                                f"(got {output_format!r})")
    runs = client.search_runs(ids, filter_string, ViewType.parse(run_view_type), max_results,
                              order_by)
    if output_format == "list":
        return runs
    from tracking.frames import runs_frame
    return runs_frame(runs)


# -- MLflow names not supported ------------------------------------------------------------

UNSUPPORTED = {
    "autolog": "tracking.sklearn.autolog()",
    "log_image": "log_figure (a matplotlib or plotly figure) or log_artifact",
    "log_table": "log_dict or log_text",
    "load_table": "search_runs",
    "log_model": "tracking.sklearn.log_model or tracking.pyfunc.log_model",
    "evaluate": "log_metrics with your own scores",
    "run": "sweeps run (a sweep config) or python train.py",
    "projects": "sweeps run (a sweep config)",
    "trace": "log_metric / set_tag (tracing is not supported)",
    "start_span": "log_metric / set_tag (tracing is not supported)",
    "search_traces": "search_runs",
    "genai": "log_metrics (GenAI evaluation is not supported)",
    "deployments": "tracking.pyfunc.load_model",
    "set_registry_uri": "set_tracking_uri (the registry lives in the tracking store)",
    "get_registry_uri": "get_tracking_uri (the registry lives in the tracking store)",
    "login": "set_tracking_uri with a local folder, or sweeps export --to",
    "search_logged_models": "search_runs",
    "log_outputs": "log_artifact",
    "doctor": "sweeps ls",
    "pytorch": "log_artifact of a saved model, or tracking.pyfunc",
    "tensorflow": "log_artifact of a saved model, or tracking.pyfunc",
    "keras": "log_artifact of a saved model, or tracking.pyfunc",
    "xgboost": "tracking.sklearn (its scikit-learn API), or tracking.pyfunc",
    "lightgbm": "tracking.sklearn (its scikit-learn API), or tracking.pyfunc",
    "transformers": "log_artifact of a saved model, or tracking.pyfunc",
    "openai": "log_text / log_dict",
    "langchain": "log_text / log_dict",
    "spark": "log_artifact, or tracking.pyfunc",
}
"""MLflow names that ordinary scripts use and tracking does not have, each with the
nearest supported feature; `import tracking as mlflow; mlflow.autolog()` raises a one-line
NotImplementedError naming both instead of an AttributeError."""


def unsupported(module: str, name: str) -> NotImplementedError | None:
    """The error for MLflow name `name` of `module`, or None when it is not an MLflow name."""
    nearest = UNSUPPORTED.get(name)
    if nearest is None:
        return None
    return NotImplementedError(f"{module}.{name} (MLflow's) is not supported; nearest: "
                               f"{nearest}")
