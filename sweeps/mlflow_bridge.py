"""Sweeps into MLflow, history out of MLflow, through the `mlflow` client library.

`export_runs` copies sweepbook runs (a sweep and its trials) into an MLflow tracking server
(``http://host:port``) or store (``sqlite:///mlflow.db``, a ``file:`` mlruns folder): params,
every metric point with its step and timestamp, tags, the note (``mlflow.note.content``),
status (PRUNED becomes KILLED with a ``sweepbook.status`` tag), start and end times, nesting
(``mlflow.parentRunId``) and artifacts. `import_runs` does the reverse. Both are idempotent:
each copy carries its source's id in a tag (``sweepbook.run_id`` in MLflow,
``sweepbook.mlflow_run_id`` here), and running again adds only what is new.

MLflow clamps +/-inf metric values to the largest finite float; the infinite points are
recorded in the ``sweepbook.infinite`` tag (JSON ``{key: [[step, "+inf"], ...]}``) and
restored on import, so nothing is silently changed.

    from sweeps.mlflow_bridge import export_runs
    export_runs(client, [sweep, *trials], connect("http://127.0.0.1:5000"), "churn")
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sweeps.errors import SweepsError
from tracking import Client, Metric, Param, Run, RunStatus, RunTag

RUN_ID_TAG = "sweepbook.run_id"
MLFLOW_RUN_ID_TAG = "sweepbook.mlflow_run_id"
STATUS_TAG = "sweepbook.status"
INFINITE_TAG = "sweepbook.infinite"
POINTS_TAG = "sweepbook.metric_points"
ARTIFACTS_TAG = "sweepbook.artifacts"
PARENT_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"
RUN_NAME_TAG = "mlflow.runName"
MAX_ENTRIES, MAX_PARAMS, MAX_TAGS = 1000, 100, 100
"""MLflow's limits per log_batch call: 1000 entries in all, of them at most 100 params and
100 tags."""
MAX_TAG_LENGTH = 8000
PAGE = 10_000
# MLflow system tags that are sweepbook fields: read into the field, never stored as tags
_TO_FIELDS = {PARENT_TAG, NOTE_TAG, RUN_NAME_TAG, "mlflow.source.type"}
_TO_TAGS = {"mlflow.user": "sys.user", "mlflow.source.name": "sys.entry_point",
            "mlflow.source.git.commit": "sys.git.commit"}
_BRIDGE_TAGS = {STATUS_TAG, INFINITE_TAG, POINTS_TAG, ARTIFACTS_TAG}  # export bookkeeping
_TO_MLFLOW = {"PRUNED": "KILLED", "QUEUED": "SCHEDULED"}
_FROM_MLFLOW = {"SCHEDULED": RunStatus.QUEUED}

Progress = Callable[[int, int], None]
"""`progress(done, total)`, called after each run."""


@dataclass(frozen=True)
class Transfer:
    """What an export or import did: runs created and runs updated, metric points added."""

    created: int
    updated: int
    points: int
    experiment: str


def connect(uri: str) -> Any:
    """An `mlflow.MlflowClient` for `uri`; a server is checked first (one-line error).

    >>> target = connect("http://127.0.0.1:5000")
    """
    try:
        import mlflow
    except ImportError:
        raise SweepsError("the MLflow bridge needs the mlflow client: pip install "
                          "'sweepbook[mlflow]'") from None
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):
                pass
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise SweepsError(f"cannot reach the MLflow server at {uri}: {reason}") from None
    elif not uri.startswith(("sqlite:///", "file:", "postgresql://", "mysql://")):
        raise SweepsError(f"not an MLflow tracking URI: {uri!r} (give http://host:port, "
                          "sqlite:///mlflow.db or file:/path/to/mlruns)")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    return mlflow.MlflowClient(tracking_uri=uri)


def _batches(metrics: list[Any], params: list[Any], tags: list[Any]
             ) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    """(metrics, params, tags) chunks within MLflow's log_batch limits, as few as possible."""
    while metrics or params or tags:
        p, params = params[:MAX_PARAMS], params[MAX_PARAMS:]
        t, tags = tags[:MAX_TAGS], tags[MAX_TAGS:]
        room = MAX_ENTRIES - len(p) - len(t)
        m, metrics = metrics[:room], metrics[room:]
        yield m, p, t


def _fingerprint(folder: Any) -> str:
    """Files, bytes and latest change of an artifact folder: changes when its content does."""
    files = size = latest = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            files, size, latest = files + 1, size + stat.st_size, max(latest, stat.st_mtime_ns)
    return f"{files}:{size}:{latest}" if files else ""


def _all_runs(mlflow_client: Any, experiment_ids: list[str]) -> list[Any]:
    """Every run (all lifecycle stages: a deleted copy is still a copy) of the experiments."""
    from mlflow.entities import ViewType

    runs: list[Any] = []
    token = None
    while True:
        page = mlflow_client.search_runs(experiment_ids, run_view_type=ViewType.ALL,
                                         max_results=PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _identity(point: Any) -> tuple[str, int, int, str]:
    """What tells two metric points apart (NaN equals NaN here)."""
    return point.key, point.step, point.timestamp, repr(float(point.value))


def _infinite(points: Sequence[Metric]) -> dict[str, list[list[Any]]]:
    found: dict[str, list[list[Any]]] = {}
    for point in points:
        if math.isinf(point.value):
            found.setdefault(point.key, []).append(
                [point.step, "+inf" if point.value > 0 else "-inf"])
    return found


# -- export ------------------------------------------------------------------------------

def export_runs(client: Client, runs: Sequence[Run], target: Any, experiment: str, *,
                progress: Progress | None = None, workers: int | None = None) -> Transfer:
    """Copy `runs` into MLflow experiment `experiment` of `target` (a `connect(uri)`
    client), creating it if needed; runs exported before are updated, never duplicated.

    Parents are written before their children; runs of one generation go `workers` at a
    time (default: 4 to a server, 1 to a store MLflow opens in this process)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    found = target.get_experiment_by_name(experiment)
    experiment_id = (target.create_experiment(experiment) if found is None
                     else found.experiment_id)
    copies = {run.data.tags[RUN_ID_TAG]: run for run in _all_runs(target, [experiment_id])
              if RUN_ID_TAG in run.data.tags}
    ids = {source: copy.info.run_id for source, copy in copies.items()}
    histories: dict[str, list[Metric]] = {}
    for run_id, point in client.get_metric_histories([run.info.run_id for run in runs]):
        histories.setdefault(run_id, []).append(point)
    if workers is None:
        workers = 4 if target.tracking_uri.startswith(("http://", "https://")) else 1
    created = added = done = 0
    pending = list(runs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while pending:
            waiting = {run.info.run_id for run in pending}
            generation = [r for r in pending if r.info.parent_run_id not in waiting] or pending
            futures = [pool.submit(_export_run, client, target, experiment_id, run,
                                   histories.get(run.info.run_id, []),
                                   copies.get(run.info.run_id), ids) for run in generation]
            for future in as_completed(futures):
                new, points = future.result()
                created, added, done = created + new, added + points, done + 1
                if progress is not None:
                    progress(done, len(runs))
            pending = [run for run in pending if run not in generation]
    return Transfer(created, len(runs) - created, added, experiment)


def _export_run(client: Client, target: Any, experiment_id: str, run: Run,
                points: list[Metric], copy: Any, ids: dict[str, str]) -> tuple[bool, int]:
    """Create or update the MLflow copy of one run; (created, metric points added)."""
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.entities import Param as MlflowParam
    from mlflow.entities import RunTag as MlflowTag

    info, data = run.info, run.data
    tags = {**data.tags, RUN_ID_TAG: info.run_id, POINTS_TAG: str(len(points))}
    if info.status is RunStatus.PRUNED:
        tags[STATUS_TAG] = info.status.value
    if info.parent_run_id in ids:
        tags[PARENT_TAG] = ids[info.parent_run_id]
    if data.note:
        tags[NOTE_TAG] = data.note
    infinite = _infinite(points)
    if infinite:
        tags[INFINITE_TAG] = json.dumps(infinite)[:MAX_TAG_LENGTH]
    folder = client.artifact_dir(info.run_id)
    fingerprint = _fingerprint(folder) if folder.is_dir() else ""
    if fingerprint:
        tags[ARTIFACTS_TAG] = fingerprint
    if copy is None:
        mlflow_run_id = target.create_run(experiment_id, start_time=info.start_time,
                                          run_name=info.run_name).info.run_id
        ids[info.run_id] = mlflow_run_id
        new_points, params = points, dict(data.params)
    else:
        mlflow_run_id = copy.info.run_id
        params = {k: v for k, v in data.params.items() if k not in copy.data.params}
        new_points = [] if copy.data.tags.get(POINTS_TAG) == str(len(points)) else \
            _new_points(target, mlflow_run_id, points)
        tags = {k: v for k, v in tags.items() if copy.data.tags.get(k) != v}
    if fingerprint and (copy is None or ARTIFACTS_TAG in tags):
        target.log_artifacts(mlflow_run_id, str(folder))
    for batch in _batches([MlflowMetric(p.key, p.value, p.timestamp, p.step) for p in new_points],
                          [MlflowParam(k, v) for k, v in params.items()],
                          [MlflowTag(k, v) for k, v in tags.items()]):
        target.log_batch(mlflow_run_id, *batch)
    status = _TO_MLFLOW.get(info.status.value, info.status.value)
    if copy is None or (copy.info.status, copy.info.end_time) != (status, info.end_time):
        if info.end_time is not None:
            target.set_terminated(mlflow_run_id, status, end_time=info.end_time)
        else:
            target.update_run(mlflow_run_id, status=status)
    return copy is None, len(new_points)


def _new_points(mlflow_client: Any, run_id: str, points: Sequence[Metric]) -> list[Metric]:
    """The points not yet in the MLflow run's histories."""
    have: set[tuple[str, int, int, str]] = set()
    for key in {p.key for p in points}:
        have.update(_identity(m) for m in mlflow_client.get_metric_history(run_id, key))
    return [p for p in points if _identity(p) not in have]


# -- import ------------------------------------------------------------------------------

def import_runs(client: Client, source: Any, experiments: Sequence[str] = (), *,
                progress: Progress | None = None) -> list[Transfer]:
    """Copy the runs of the MLflow experiments of `source` (a `connect(uri)` client; every
    experiment when `experiments` is empty) into `client`'s store, into experiments of the
    same names; runs imported before are updated, never duplicated."""
    from mlflow.entities import ViewType

    mlflow_client = source
    found = mlflow_client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    by_name = {e.name: e for e in found}
    missing = [name for name in experiments if name not in by_name]
    if missing:
        raise SweepsError(f"no MLflow experiment named {missing[0]!r} at "
                          f"{mlflow_client.tracking_uri}; there: "
                          + (", ".join(sorted(by_name)) or "none"))
    chosen = [by_name[name] for name in experiments] if experiments else found
    return [_import_experiment(client, mlflow_client, e, progress) for e in chosen]


def _parents_first(runs: list[Any]) -> list[Any]:
    ids = {run.info.run_id for run in runs}
    ordered: list[Any] = []
    placed: set[str] = set()
    pending = sorted(runs, key=lambda r: r.info.start_time or 0)
    while pending:
        later = []
        for run in pending:
            parent = run.data.tags.get(PARENT_TAG)
            if parent is None or parent not in ids or parent in placed:
                ordered.append(run)
                placed.add(run.info.run_id)
            else:
                later.append(run)
        if len(later) == len(pending):  # a cycle of parents: keep them top-level
            ordered.extend(later)
            break
        pending = later
    return ordered


def _import_experiment(client: Client, mlflow_client: Any, experiment: Any,
                       progress: Progress | None) -> Transfer:
    experiment_id = client.get_or_create_experiment(experiment.name)
    copies = {run.data.tags[MLFLOW_RUN_ID_TAG]: run
              for run in client.search_runs([experiment_id], run_view_type="ALL")
              if MLFLOW_RUN_ID_TAG in run.data.tags}
    ids = {source: copy.info.run_id for source, copy in copies.items()}
    runs = _parents_first([run for run in _all_runs(mlflow_client, [experiment.experiment_id])
                           if run.info.lifecycle_stage == "active"])
    created = updated = added = 0
    for done, source in enumerate(runs, 1):
        info, data = source.info, source.data
        infinite = json.loads(data.tags.get(INFINITE_TAG, "{}"))
        tags = {_TO_TAGS.get(k, k): v for k, v in data.tags.items()
                if k not in _TO_FIELDS and k not in _BRIDGE_TAGS}
        tags[MLFLOW_RUN_ID_TAG] = info.run_id
        copy = copies.get(info.run_id)
        if copy is None:
            parent = ids.get(data.tags.get(PARENT_TAG, ""))
            run_id = client.create_run(experiment_id, start_time=info.start_time,
                                       run_name=info.run_name or None, tags=tags,
                                       parent_run_id=parent).info.run_id
            ids[info.run_id] = run_id
            params = dict(data.params)
            have: set[tuple[str, int, int, str]] = set()
            created += 1
        else:
            run_id = copy.info.run_id
            params = {k: v for k, v in data.params.items() if k not in copy.data.params}
            have = {_identity(m) for _, m in client.get_metric_histories([run_id])}
            updated += 1
        points = [point for key in data.metrics
                  for m in mlflow_client.get_metric_history(info.run_id, key)
                  for point in [Metric(key, _restored(m, infinite), m.timestamp, m.step)]
                  if _identity(point) not in have]
        client.log_batch(run_id, metrics=points, params=[Param(k, v) for k, v in params.items()],
                         tags=[RunTag(k, v) for k, v in tags.items()])
        added += len(points)
        if NOTE_TAG in data.tags:
            client.set_note(run_id, data.tags[NOTE_TAG])
        _import_artifacts(client, mlflow_client, info.run_id, run_id)
        if info.status not in ("RUNNING", "SCHEDULED"):
            status = (RunStatus.PRUNED if data.tags.get(STATUS_TAG) == "PRUNED"
                      else RunStatus.parse(info.status))
            client.set_terminated(run_id, status, end_time=info.end_time)
        if progress is not None:
            progress(done, len(runs))
    return Transfer(created, updated, added, experiment.name)


def _restored(point: Any, infinite: dict[str, list[list[Any]]]) -> float:
    """A clamped point's +/-inf, from the `sweepbook.infinite` tag of an exported run."""
    if math.isfinite(point.value) and abs(point.value) == 1.7976931348623157e308:
        for step, sign in infinite.get(point.key, ()):
            if step == point.step and (sign == "+inf") == (point.value > 0):
                return math.inf if sign == "+inf" else -math.inf
    return point.value


def _import_artifacts(client: Client, mlflow_client: Any, source_id: str, run_id: str) -> None:
    if not mlflow_client.list_artifacts(source_id):
        return
    with tempfile.TemporaryDirectory(prefix="sweeps-import-") as folder:
        local = mlflow_client.download_artifacts(source_id, "", folder)
        client.log_artifacts(run_id, local if os.path.isdir(local) else folder)


__all__ = ["Transfer", "connect", "export_runs", "import_runs"]
