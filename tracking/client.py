"""`Client`: ids in, entities out, for code that manages many runs at once.

Writes are buffered and written in batches: when the buffer is large, on a short timer,
when a run ends, at interpreter exit, and before any read by this client. Params are the
exception: they are written at once, so that a conflicting value raises at the call.
A run ended through `set_terminated` is on disk before the call returns.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracking import artifacts, environment, validation
from tracking.entities import (
    LIFECYCLE_TAG,
    ChildStats,
    Experiment,
    ExperimentStats,
    FileInfo,
    Metric,
    MetricStats,
    Param,
    Run,
    RunData,
    RunGroups,
    RunIds,
    RunInfo,
    RunKeys,
    RunStatus,
    RunTag,
    ViewType,
)
from tracking.errors import InvalidInputError, StoreError, TrackingError
from tracking.names import random_run_name
from tracking.registry import RegistryMethods
from tracking.store import open_store, resolve_uri
from tracking.store.base import Batch, Store
from tracking.store.sqlite import SqliteStore
from tracking.writer import RunWriter

if TYPE_CHECKING:
    import pandas

DEFAULT_TRACKING_URI = "runs"
_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_unflushed: set[Client] = set()
"""Clients holding buffered writes: kept alive until flushed, so none is lost to garbage
collection before the timer or the exit hook writes it."""


def resolve_tracking_uri(uri: str | os.PathLike | None) -> str:
    """The canonical form of `uri` (see `tracking.store.resolve_uri`); None -> ./runs."""
    return resolve_uri(uri if uri is not None else DEFAULT_TRACKING_URI)


def now_ms() -> int:
    return int(time.time() * 1000)


def dict_text(dictionary: Mapping[str, Any], artifact_file: str) -> str:
    """`dictionary` as YAML when `artifact_file` ends with .yaml/.yml, else as JSON."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml
        return yaml.safe_dump(dict(dictionary), sort_keys=False)
    return json.dumps(dictionary, indent=2, default=str)


class Client(RegistryMethods):
    """A tracking client over one store (see the module docstring for buffering); its model
    registry methods (MlflowClient's names) come from `tracking.registry.RegistryMethods`.

    `tracking_uri` is anything `tracking.store.open_store` takes: a folder, ``file:``,
    ``sqlite:///runs/tracking.db`` or ``postgresql://user:pass@host/db`` (artifacts then go
    under ``$SWEEPS_ARTIFACT_ROOT``).

    >>> client = Client("runs")
    >>> run = client.create_run(client.get_or_create_experiment("demo"))
    >>> client.log_metric(run.info.run_id, "loss", 0.3, step=1)
    >>> client.set_terminated(run.info.run_id)
    """

    def __init__(self, tracking_uri: str | os.PathLike | None = None, *,
                 flush_interval: float = 1.0, max_buffered: int = 20_000,
                 store: Store | None = None) -> None:
        if tracking_uri is None and store is None:  # as MLflow: the fluent API's current uri
            from tracking.fluent import get_tracking_uri
            tracking_uri = get_tracking_uri()
        self.tracking_uri = resolve_tracking_uri(tracking_uri) if store is None else store.root
        self.store: Store = store or open_store(self.tracking_uri)
        self._flush_interval = flush_interval
        self._max_buffered = max_buffered
        self._pending = Batch()
        self._refused: TrackingError | None = None
        self._lock = threading.RLock()
        self._experiment_of: dict[str, str] = {}
        self._timer: threading.Thread | None = None
        self._wake = threading.Event()
        _clients.add(self)

    # -- buffering -----------------------------------------------------------------------

    def flush(self) -> None:
        """Write every buffered change now, in one transaction.

        If the store cannot be written (StoreError), the changes stay buffered for the
        next flush. If the store refuses some of them (a run deleted meanwhile), the batch
        is written run by run: every other run's changes land, the refused run's are
        dropped, and the first refusal is raised. A refusal met by the background flush is
        raised by the next call of `flush`."""
        with self._lock:
            refused, self._refused = self._refused, None
            if not len(self._pending):
                if refused is not None:
                    raise refused
                return
            batch, self._pending = self._pending, Batch()
            try:
                self.store.apply(batch)
            except StoreError:
                batch.extend(self._pending)
                self._pending = batch
                raise
            except TrackingError as e:
                refused = refused or e
                for part in batch.by_run():
                    try:
                        self.store.apply(part)
                    except StoreError:
                        self._pending.extend(part)  # kept for the next flush
                    except TrackingError:
                        pass  # refused: this run's changes cannot be written
            finally:
                if not len(self._pending):
                    _unflushed.discard(self)
            if refused is not None:
                raise refused

    def _enqueue(self, batch: Batch) -> None:
        """Queue an already validated batch for the next flush (see the module docstring)."""
        with self._lock:
            self._pending.extend(batch)
            _unflushed.add(self)
            full = len(self._pending) >= self._max_buffered
        if full:
            self.flush()
        elif self._timer is None:
            self._start_timer()

    def _start_timer(self) -> None:
        with self._lock:
            if self._timer is not None:
                return
            ref = weakref.ref(self)
            interval = self._flush_interval
            wake = self._wake

            def loop() -> None:
                while not wake.wait(interval):
                    client = ref()
                    if client is None:
                        return
                    try:
                        client.flush()
                    except StoreError:  # still buffered: the next flush tries again
                        pass
                    except TrackingError as e:  # the caller's next flush raises it
                        client._refused = e
                    del client

            self._timer = threading.Thread(target=loop, name="tracking-flush", daemon=True)
            self._timer.start()

    def _reset_after_fork(self) -> None:
        """In a forked child: drop the parent's buffer (the parent writes it), start with
        fresh locks and no timer, and open this process's own connection."""
        self._pending = Batch()
        self._refused = None
        self._lock = threading.RLock()
        self._timer = None
        self._wake = threading.Event()
        if isinstance(self.store, SqliteStore) and not self.store.read_only:
            self.store = SqliteStore.open(self.store.root)

    # -- experiments ---------------------------------------------------------------------

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: Mapping[str, Any] | None = None) -> str:
        """Create experiment `name` and return its id (MLflow's signature). Artifacts always
        live under the store's artifact root: an `artifact_location` is refused.

        >>> experiment_id = client.create_experiment("churn", tags={"team": "ml"})
        """
        validation.name(name, "experiment name")
        if artifact_location is not None:
            raise InvalidInputError(
                f"create_experiment: artifact_location is not supported (got "
                f"{artifact_location!r}); artifacts live under the store's artifact root "
                f"({self.store.artifact_root})")
        return self.store.create_experiment(
            name, {validation.key(k, "tag"): validation.tag_value(k, v)
                   for k, v in (tags or {}).items()})

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def get_or_create_experiment(self, name: str) -> str:
        """The id of experiment `name`, created if missing (safe against concurrent creation)."""
        found = self.store.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.create_experiment(name)
        except InvalidInputError:
            found = self.store.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def search_experiments(self, view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                           max_results: int | None = None, filter_string: str | None = None,
                           order_by: Sequence[str] | None = None) -> list[Experiment]:
        """Experiments seen by `view_type` (deleted ones are hidden by default), at most
        `max_results`. MLflow's `filter_string` and `order_by` are not supported."""
        if filter_string or order_by:
            raise NotImplementedError(
                "search_experiments: filter_string and order_by are not supported; "
                "use get_experiment_by_name, or filter the returned list")
        view = ViewType.parse(view_type)
        found = [e for e in self.store.search_experiments() if view.sees(e.lifecycle_stage)]
        return found if max_results is None else found[:max_results]

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted and soft-delete its runs (as MLflow; its name stays
        taken)."""
        experiment = self.get_experiment(experiment_id)
        self.flush()
        for run in self.store.search_runs([experiment.experiment_id]):
            self.store.set_lifecycle(run.info.run_id, "deleted")
        self.store.set_experiment_tag(experiment.experiment_id, LIFECYCLE_TAG, "deleted")

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.store.set_experiment_tag(str(experiment_id), validation.key(key, "tag"),
                                      validation.tag_value(key, value))

    # -- runs ----------------------------------------------------------------------------

    def create_run(self, experiment_id: str, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None,
                   parent_run_id: str | None = None, *, buffered: bool = False,
                   status: RunStatus = RunStatus.RUNNING,
                   capture_environment: bool = False) -> Run:
        """Create a RUNNING (or `status`) run. `buffered=True` defers the write to the next
        flush; `capture_environment=True` tags it with the source version and environment
        (`sys.*`), as `tracking.start_run` does."""
        if capture_environment:
            tags = {**environment.capture(), **(tags or {})}
        if not buffered:
            self.get_experiment(str(experiment_id))
        if parent_run_id is not None:
            self._experiment_id_of(parent_run_id)
        with self.batch(buffered=buffered) as writes:
            writes.create_run(experiment_id, run_name=run_name, parent_run_id=parent_run_id,
                              status=status, start_time=start_time, tags=tags)
        batch = writes._batch
        return Run(batch.new_runs[0], RunData({}, {}, {k: v for _, k, v in batch.tags}, ""))

    def get_run(self, run_id: str) -> Run:
        self.flush()
        return self.store.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        """The parent of run `run_id`, or None for a top-level run."""
        parent = self.get_run(run_id).info.parent_run_id
        return None if parent is None else self.get_run(parent)

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        validation.key(key, "metric key")
        self._experiment_id_of(run_id)
        point = (run_id, key, validation.metric_value(key, value), validation.step(key, step),
                 validation.timestamp(key, timestamp, now_ms()))
        self._enqueue(Batch(metrics=[point]))

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param now; raises ParamConflictError if it was logged with another value."""
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._experiment_id_of(run_id)
        with self.batch(buffered=True) as writes:
            writes.set_tags(run_id, {key: value})

    def set_note(self, run_id: str, text: str) -> None:
        self._experiment_id_of(run_id)
        with self.batch(buffered=True) as writes:
            writes.set_note(run_id, text)

    def log_batch(self, run_id: str, metrics: Iterable[Metric] = (),
                  params: Iterable[Param] = (), tags: Iterable[RunTag] = ()) -> None:
        """Write metrics, params and tags of one run in one transaction, now."""
        with self.batch() as writes:
            writes.log_metrics(run_id, metrics)
            writes._params(run_id, ((p.key, p.value) for p in params))
            writes._tags(run_id, ((t.key, t.value) for t in tags))

    @contextlib.contextmanager
    def batch(self, *, buffered: bool = False) -> Iterator[Writes]:
        """Gather writes to any number of runs; at the end of the block they are written in
        one transaction (after everything buffered before), or with `buffered=True` queued
        for the next flush. Nothing is written if the block raises.

        >>> with client.batch() as writes:
        ...     run_id = writes.create_run(experiment_id, run_name="trial-0")
        ...     writes.log_params(run_id, {"lr": 0.1})
        ...     writes.set_terminated(run_id, RunStatus.FINISHED)
        """
        writes = Writes(self)
        yield writes
        batch = writes._batch
        for info in batch.new_runs:
            self._experiment_of[info.run_id] = info.experiment_id
        if buffered:
            self._enqueue(batch)
        else:
            self._write(batch)

    def _write(self, batch: Batch) -> None:
        """Write an already validated batch now, after everything buffered before it."""
        with self._lock:
            self.flush()
            self.store.apply(batch)

    def set_terminated(self, run_id: str, status: str | RunStatus = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        """End a run; it is on disk before this returns."""
        with self.batch() as writes:
            writes.set_terminated(run_id, status, end_time)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.flush()
        return self.store.get_metric_history(run_id, key)

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                    max_results: int | None = None,
                    order_by: Sequence[str] | None = None) -> list[Run]:
        """Runs of these experiments that match `filter_string` (see tracking.query), in
        MLflow's argument order.

        >>> client.search_runs(["1"], "metrics.acc > 0.9", order_by=["metrics.acc DESC"])
        """
        self.flush()
        view = ViewType.parse(run_view_type)
        ids = [str(e) for e in experiment_ids]
        if view is ViewType.ACTIVE_ONLY:
            return self.store.search_runs(ids, filter_string, order_by, max_results)
        runs = [run for run in self.store.search_runs(ids, filter_string, order_by,
                                                       include_deleted=True)
                if view.sees(run.info.lifecycle_stage)]
        return runs if max_results is None else runs[:max_results]

    def search_runs_frame(self, experiment_ids: Sequence[str], filter_string: str = "",
                          order_by: Sequence[str] | None = None,
                          max_results: int | None = None) -> pandas.DataFrame:
        """Like search_runs, as a DataFrame with MLflow's columns (see tracking.frames)."""
        from tracking.frames import runs_frame
        return runs_frame(self.search_runs(experiment_ids, filter_string,
                                           max_results=max_results, order_by=order_by))

    def get_metric_histories(self, run_ids: Sequence[str]) -> list[tuple[str, Metric]]:
        """Every metric point of these runs as (run_id, Metric), by run, key, step."""
        self.flush()
        return self.store.get_metric_histories(list(run_ids))

    def param_types(self, run_ids: Sequence[str]) -> dict[tuple[str, str], str]:
        """(run_id, key) -> the type name each param was logged with (int, float, str...)."""
        self.flush()
        return self.store.param_types(list(run_ids))

    def typed_params(self, runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
        """run_id -> {key: value}: each run's params as the int, float, bool, None or str
        they were logged as (`RunData.params` holds their text).

        >>> client.typed_params([run])[run.info.run_id]
        {'lr': 0.1, 'depth': 4}
        """
        types = self.param_types([run.info.run_id for run in runs])
        return {run.info.run_id: {
            key: validation.param_from_text(key, text, types.get((run.info.run_id, key), "str"))
            for key, text in run.data.params.items()} for run in runs}

    # -- reads for tables: counts and pages of active runs without loading whole runs ----

    def experiment_stats(self, filter_string: str = "") -> dict[str, ExperimentStats]:
        """Run counts of every experiment, by id; `matching_count` counts the runs matching
        `filter_string`.

        >>> by_team = client.experiment_stats("tags.team = 'a'")
        """
        self.flush()
        return self.store.experiment_stats(filter_string)

    def search_run_groups(self, experiment_id: str, filter_string: str = "",
                          order_by: Sequence[str] | None = None, *, offset: int = 0,
                          max_results: int = 50, children: int = 20) -> RunGroups:
        """A page of top-level runs, each with its first `children` matching children; a
        run is listed when it or a child matches, and pages never split a run from its
        children (see `Store.search_run_groups`)."""
        self.flush()
        return self.store.search_run_groups(str(experiment_id), filter_string, order_by,
                                            offset=offset, max_results=max_results,
                                            children=children)

    def search_run_ids(self, experiment_ids: Sequence[str], filter_string: str = "",
                       order_by: Sequence[str] | None = None, *,
                       parent_run_id: str | None = None, offset: int = 0,
                       max_results: int | None = None) -> RunIds:
        """Like search_runs, run ids only, from `offset`, with the total number matching;
        `parent_run_id` keeps only that run's direct children."""
        self.flush()
        return self.store.search_run_ids([str(e) for e in experiment_ids], filter_string,
                                         order_by, parent_run_id=parent_run_id, offset=offset,
                                         max_results=max_results)

    def run_summaries(self, run_ids: Sequence[str], *, params: Sequence[str] | None = None,
                      metrics: Sequence[str] | None = None,
                      tags: Sequence[str] | None = None) -> list[Run]:
        """The runs that exist among `run_ids`, in order, holding only the named keys
        (None: every key; []: none), for tables of many runs."""
        self.flush()
        return self.store.run_summaries(list(run_ids), params=params, metrics=metrics,
                                        tags=tags)

    def search_run_keys(self, experiment_id: str, filter_string: str = "") -> RunKeys:
        """Every param, metric and tag key of the runs matching `filter_string`, each with
        how many runs have it and whether its value varies among them."""
        self.flush()
        return self.store.search_run_keys(str(experiment_id), filter_string)

    def metric_stats(self, run_ids: Sequence[str]) -> dict[tuple[str, str], MetricStats]:
        """(run_id, key) -> the number of points and the step range of that history."""
        self.flush()
        return self.store.metric_stats(list(run_ids))

    def child_stats(self, run_id: str) -> ChildStats:
        """A run's children by status, and counters that change whenever the run or a
        child is written to (for live progress)."""
        self.flush()
        return self.store.child_stats(run_id)

    def delete_run(self, run_id: str) -> None:
        self.flush()
        self.store.set_lifecycle(run_id, "deleted")

    def restore_run(self, run_id: str) -> None:
        self.flush()
        self.store.set_lifecycle(run_id, "active")

    # -- artifacts -----------------------------------------------------------------------

    def _experiment_id_of(self, run_id: str) -> str:
        if run_id not in self._experiment_of:
            self._experiment_of[run_id] = self.get_run(run_id).info.experiment_id
        return self._experiment_of[run_id]

    @property
    def artifact_root(self) -> Path:
        """The folder holding every run's artifact folder, `<experiment_id>/<run_id>`."""
        return Path(self.store.artifact_root)

    def artifact_dir(self, run_id: str) -> Path:
        """The run's artifact folder (it may not exist yet)."""
        return self.artifact_root / self._experiment_id_of(run_id) / run_id

    def log_artifact(self, run_id: str, local_path: str | os.PathLike,
                     artifact_path: str | None = None) -> str:
        return artifacts.log_artifact(self.artifact_dir(run_id), local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike,
                      artifact_path: str | None = None) -> list[str]:
        return artifacts.log_artifacts(self.artifact_dir(run_id), local_dir, artifact_path)

    def log_text(self, run_id: str, text: str | bytes, artifact_file: str) -> str:
        """Save `text` (or bytes, as they are) as the artifact file `artifact_file`."""
        return artifacts.write_artifact(self.artifact_dir(run_id), artifact_file, text)

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> str:
        """Save a dict as JSON, or YAML when `artifact_file` ends with .yaml/.yml."""
        return self.log_text(run_id, dict_text(dictionary, artifact_file), artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return artifacts.list_artifacts(self.artifact_dir(run_id), path)

    def download_artifacts(self, run_id: str, path: str | None = None,
                           dst_path: str | os.PathLike | None = None) -> str:
        if dst_path is None:
            import tempfile
            dst_path = tempfile.mkdtemp(prefix="tracking-")
        return artifacts.copy_artifacts(self.artifact_dir(run_id), path, dst_path)

    def writer(self, run_id: str) -> ClientWriter:
        """A RunWriter that logs to `run_id` through this client."""
        return ClientWriter(self, run_id)


class Writes:
    """Writes to any number of runs, gathered for one transaction by `Client.batch`.
    Each value is checked as it is given, as by Client's single-call methods; a run that
    does not exist makes the whole batch fail with NotFoundError when it is written."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._batch = Batch()

    def create_run(self, experiment_id: str, *, run_name: str | None = None,
                   parent_run_id: str | None = None, status: RunStatus = RunStatus.RUNNING,
                   start_time: int | None = None, tags: Mapping[str, Any] | None = None,
                   run_id: str | None = None) -> str:
        """Create a run (RUNNING unless `status`, e.g. QUEUED); returns its id."""
        run_id = run_id or uuid.uuid4().hex
        validation.key(run_id, "run id")
        self._batch.new_runs.append(RunInfo(
            run_id=run_id,
            run_name=validation.name(run_name, "run name") if run_name else random_run_name(),
            experiment_id=str(experiment_id), parent_run_id=parent_run_id,
            status=RunStatus.parse(status),
            start_time=start_time if start_time is not None else now_ms(), end_time=None,
            artifact_uri=os.path.join(self._client.store.artifact_root, str(experiment_id),
                                      run_id)))
        self._tags(run_id, (tags or {}).items())
        return run_id

    def log_metrics(self, run_id: str, metrics: Iterable[Metric]) -> None:
        """Append metric points (a None step is 0, a None timestamp now)."""
        now = now_ms()
        keys: set[str] = set()  # each distinct key is checked once

        def metric_key(key: Any) -> str:
            if type(key) is not str or key not in keys:
                keys.add(validation.key(key, "metric key"))
            return key

        self._batch.metrics += [
            (run_id, metric_key(m.key), validation.metric_value(m.key, m.value),
             validation.step(m.key, m.step), validation.timestamp(m.key, m.timestamp, now))
            for m in metrics]

    def log_params(self, run_id: str, params: Mapping[str, Any], *,
                   encoded: bool = False) -> None:
        """Log params (immutable: another value for a logged key fails the batch with
        ParamConflictError). `encoded=True`: values are the (text, type name) pairs a
        `RunWriter` receives."""
        items = params.items() if not encoded else (
            (k, validation.param_from_text(k, *pair)) for k, pair in params.items())
        self._params(run_id, items)

    def _params(self, run_id: str, items: Iterable[tuple[str, Any]]) -> None:
        self._batch.params += [(run_id, validation.key(k, "param key"),
                                *validation.param_value(k, v)) for k, v in items]

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self._tags(run_id, tags.items())

    def _tags(self, run_id: str, items: Iterable[tuple[str, Any]]) -> None:
        self._batch.tags += [(run_id, validation.key(k, "tag key"), validation.tag_value(k, v))
                             for k, v in items]

    def set_note(self, run_id: str, text: str) -> None:
        self._batch.notes[run_id] = validation.note(text)

    def start(self, run_id: str, start_time: int | None = None) -> None:
        """A QUEUED run began: it is RUNNING from `start_time` (ms; default now)."""
        self._batch.starts[run_id] = start_time if start_time is not None else now_ms()

    def set_terminated(self, run_id: str, status: str | RunStatus = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        """End a run (written after the batch's other writes)."""
        self._batch.ends[run_id] = (RunStatus.parse(status),
                                    end_time if end_time is not None else now_ms())

    def reopen(self, run_id: str) -> None:
        """Make an ended run RUNNING again, with no end time."""
        self._batch.ends[run_id] = (RunStatus.RUNNING, None)


class ClientWriter(RunWriter):
    """Writes one run's already validated data through a Client."""

    def __init__(self, client: Client, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def log_metrics(self, metrics: Sequence[Metric]) -> None:
        self.client._enqueue(Batch(metrics=[(self.run_id, m.key, m.value, m.step, m.timestamp)
                                           for m in metrics]))

    def log_params(self, params: Mapping[str, tuple[str, str]]) -> None:
        self.client._write(Batch(params=[(self.run_id, k, text, kind)
                                        for k, (text, kind) in params.items()]))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.client._enqueue(Batch(tags=[(self.run_id, k, v) for k, v in tags.items()]))

    def set_note(self, text: str) -> None:
        self.client._enqueue(Batch(notes={self.run_id: text}))

    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None) -> None:
        self.client.log_artifact(self.run_id, local_path, artifact_path)

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None) -> None:
        self.client.log_artifacts(self.run_id, local_dir, artifact_path)

    def write_artifact(self, relative_file: str, data: bytes) -> None:
        artifacts.write_artifact(self.client.artifact_dir(self.run_id), relative_file, data)

    def end(self, status: RunStatus) -> None:
        self.client.set_terminated(self.run_id, status)

    def flush(self) -> None:
        self.client.flush()


def _after_fork_in_child() -> None:
    _unflushed.clear()
    for client in list(_clients):
        client._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _flush_all_clients() -> None:
    for client in list(_clients):
        try:
            client.flush()
        except Exception as e:  # noqa: BLE001 - exiting: report, do not raise
            print(f"tracking: could not write buffered data at exit: {e}")
