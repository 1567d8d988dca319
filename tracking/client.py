"""`Client`: ids in, entities out, for code that manages many runs at once.

Writes are buffered and written in batches: when the buffer is large, on a short timer,
when a run ends, at interpreter exit, and before any read by this client. Params are the
exception: they are written at once, so that a conflicting value raises at the call.
A run ended through `set_terminated` is on disk before the call returns.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracking import artifacts, validation
from tracking.entities import (
    Experiment,
    FileInfo,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from tracking.errors import InvalidInputError, StoreError
from tracking.names import random_run_name
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
    """The tracking root folder for `uri` (a folder path, or `file:` URI); None -> ./runs."""
    text = os.fspath(uri) if uri is not None else DEFAULT_TRACKING_URI
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif text.startswith("file:"):
        text = text[len("file:"):]
    elif "://" in text:
        raise InvalidInputError(
            f"tracking uri: only local folders are supported (got {text!r}); "
            "give a folder such as ./runs")
    if not text or "\x00" in text:
        raise InvalidInputError(f"tracking uri: not a folder path (got {text!r})")
    return str(Path(text).expanduser().resolve())


def now_ms() -> int:
    return int(time.time() * 1000)


def dict_text(dictionary: Mapping[str, Any], artifact_file: str) -> str:
    """`dictionary` as YAML when `artifact_file` ends with .yaml/.yml, else as JSON."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml
        return yaml.safe_dump(dict(dictionary), sort_keys=False)
    return json.dumps(dictionary, indent=2, default=str)


class Client:
    """A tracking client over one store (see the module docstring for buffering).

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
        self.store: Store = store or SqliteStore.open(self.tracking_uri)
        self._flush_interval = flush_interval
        self._max_buffered = max_buffered
        self._pending = Batch()
        self._lock = threading.RLock()
        self._experiment_of: dict[str, str] = {}
        self._timer: threading.Thread | None = None
        self._wake = threading.Event()
        _clients.add(self)

    # -- buffering -----------------------------------------------------------------------

    def flush(self) -> None:
        """Write every buffered change now, in one transaction.

        If the store cannot be written (StoreError), the changes stay buffered for the
        next flush; a batch the store refuses (a missing run) is dropped and raised."""
        with self._lock:
            if not len(self._pending):
                return
            batch, self._pending = self._pending, Batch()
            try:
                self.store.apply(batch)
            except StoreError:
                batch.extend(self._pending)
                self._pending = batch
                raise
            finally:
                if not len(self._pending):
                    _unflushed.discard(self)

    def enqueue(self, batch: Batch) -> None:
        """Queue an already validated batch for the next flush (see the module docstring).
        For hosts that write on others' behalf, like a sweep's coordinator."""
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
                    except Exception:  # the next flush (or the caller's) reports it
                        pass
                    del client

            self._timer = threading.Thread(target=loop, name="tracking-flush", daemon=True)
            self._timer.start()

    def _reset_after_fork(self) -> None:
        """In a forked child: drop the parent's buffer (the parent writes it), start with
        fresh locks and no timer, and open this process's own connection."""
        self._pending = Batch()
        self._lock = threading.RLock()
        self._timer = None
        self._wake = threading.Event()
        if isinstance(self.store, SqliteStore) and not self.store.read_only:
            self.store = SqliteStore.open(self.store.root)

    # -- experiments ---------------------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, Any] | None = None) -> str:
        validation.name(name, "experiment name")
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

    def search_experiments(self) -> list[Experiment]:
        return self.store.search_experiments()

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.store.set_experiment_tag(str(experiment_id), validation.key(key, "tag"),
                                      validation.tag_value(key, value))

    # -- runs ----------------------------------------------------------------------------

    def create_run(self, experiment_id: str, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None,
                   parent_run_id: str | None = None, *, buffered: bool = False) -> Run:
        """Create a RUNNING run. `buffered=True` defers the write to the next flush."""
        if not buffered:
            self.get_experiment(str(experiment_id))
        if parent_run_id is not None:
            self._experiment_id_of(parent_run_id)
        run_id = uuid.uuid4().hex
        info = RunInfo(
            run_id=run_id,
            run_name=validation.name(run_name, "run name") if run_name else random_run_name(),
            experiment_id=str(experiment_id), parent_run_id=parent_run_id,
            status=RunStatus.RUNNING,
            start_time=start_time if start_time is not None else now_ms(), end_time=None,
            artifact_uri=os.path.join(self.tracking_uri, "artifacts", str(experiment_id), run_id),
        )
        clean_tags = {validation.key(k, "tag"): validation.tag_value(k, v)
                      for k, v in (tags or {}).items()}
        batch = Batch(new_runs=[info], tags=[(run_id, k, v) for k, v in clean_tags.items()])
        self._experiment_of[run_id] = info.experiment_id
        if buffered:
            self.enqueue(batch)
        else:
            self.write(batch)
        return Run(info, RunData({}, {}, clean_tags, ""))

    def get_run(self, run_id: str) -> Run:
        self.flush()
        return self.store.get_run(run_id)

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        validation.key(key, "metric key")
        self._experiment_id_of(run_id)
        point = (run_id, key, validation.metric_value(key, value), validation.step(key, step),
                 validation.timestamp(key, timestamp, now_ms()))
        self.enqueue(Batch(metrics=[point]))

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param now; raises ParamConflictError if it was logged with another value."""
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        validation.key(key, "tag key")
        self._experiment_id_of(run_id)
        self.enqueue(Batch(tags=[(run_id, key, validation.tag_value(key, value))]))

    def set_note(self, run_id: str, text: str) -> None:
        self._experiment_id_of(run_id)
        self.enqueue(Batch(notes={run_id: validation.note(text)}))

    def log_batch(self, run_id: str, metrics: Iterable[Metric] = (),
                  params: Iterable[Param] = (), tags: Iterable[RunTag] = ()) -> None:
        """Write metrics, params and tags of one run in one transaction, now."""
        now = now_ms()
        keys: set[str] = set()  # each distinct key is checked once

        def metric_key(key: Any) -> str:
            if type(key) is not str or key not in keys:
                keys.add(validation.key(key, "metric key"))
            return key

        batch = Batch(
            metrics=[(run_id, metric_key(m.key),
                      validation.metric_value(m.key, m.value), validation.step(m.key, m.step),
                      validation.timestamp(m.key, m.timestamp, now)) for m in metrics],
            params=[(run_id, validation.key(p.key, "param key"),
                     *validation.param_value(p.key, p.value)) for p in params],
            tags=[(run_id, validation.key(t.key, "tag key"), validation.tag_value(t.key, t.value))
                  for t in tags],
        )
        self.write(batch)

    def write(self, batch: Batch) -> None:
        """Write an already validated batch now, after everything buffered before it."""
        with self._lock:
            self.flush()
            self.store.apply(batch)

    def set_terminated(self, run_id: str, status: str | RunStatus = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        """End a run; it is on disk before this returns."""
        status = RunStatus.parse(status)
        self.write(Batch(ends={run_id: (status, end_time if end_time is not None else now_ms())}))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.flush()
        return self.store.get_metric_history(run_id, key)

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    order_by: Sequence[str] | None = None,
                    max_results: int | None = None) -> list[Run]:
        """Runs of these experiments that match `filter_string` (see tracking.query)."""
        self.flush()
        return self.store.search_runs([str(e) for e in experiment_ids], filter_string,
                                      order_by, max_results)

    def search_runs_frame(self, experiment_ids: Sequence[str], filter_string: str = "",
                          order_by: Sequence[str] | None = None,
                          max_results: int | None = None) -> pandas.DataFrame:
        """Like search_runs, as a DataFrame with MLflow's columns (see tracking.frames)."""
        from tracking.frames import runs_frame
        return runs_frame(self.search_runs(experiment_ids, filter_string, order_by, max_results))

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

    def artifact_dir(self, run_id: str) -> Path:
        """The run's artifact folder (it may not exist yet)."""
        return Path(self.tracking_uri, "artifacts", self._experiment_id_of(run_id), run_id)

    def log_artifact(self, run_id: str, local_path: str | os.PathLike,
                     artifact_path: str | None = None) -> str:
        return artifacts.log_artifact(self.artifact_dir(run_id), local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike,
                      artifact_path: str | None = None) -> list[str]:
        return artifacts.log_artifacts(self.artifact_dir(run_id), local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
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
        return artifacts.download_artifacts(self.artifact_dir(run_id), path, dst_path)

    def writer(self, run_id: str) -> ClientWriter:
        """A RunWriter that logs to `run_id` through this client."""
        return ClientWriter(self, run_id)


class ClientWriter(RunWriter):
    """Writes one run's already validated data through a Client."""

    def __init__(self, client: Client, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def log_metrics(self, metrics: Sequence[Metric]) -> None:
        self.client.enqueue(Batch(metrics=[(self.run_id, m.key, m.value, m.step, m.timestamp)
                                           for m in metrics]))

    def log_params(self, params: Mapping[str, tuple[str, str]]) -> None:
        self.client.write(Batch(params=[(self.run_id, k, text, kind)
                                        for k, (text, kind) in params.items()]))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.client.enqueue(Batch(tags=[(self.run_id, k, v) for k, v in tags.items()]))

    def set_note(self, text: str) -> None:
        self.client.enqueue(Batch(notes={self.run_id: text}))

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
