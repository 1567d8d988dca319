"""The embedded default store: one SQLite file (WAL) under the tracking root.

One connection per process and root, shared by threads under a lock. Writers take the
write lock up front (`BEGIN IMMEDIATE`) and retry with backoff and jitter when another
process holds it, so "database is locked" never reaches the caller.

Durability: every `apply` is one committed transaction. With WAL and `synchronous=NORMAL`
a committed transaction survives the death of any process; an operating-system crash or
power loss may lose the last transactions before a checkpoint.
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from tracking.entities import (
    ChildStats,
    Experiment,
    ExperimentStats,
    KeyStats,
    Metric,
    MetricStats,
    Run,
    RunData,
    RunGroup,
    RunGroups,
    RunIds,
    RunInfo,
    RunKeys,
    RunStatus,
)
from tracking.errors import InvalidInputError, NotFoundError, ParamConflictError, StoreError
from tracking.store.base import Batch, Store
from tracking.store.registry import Query, RegistrySql
from tracking.store.schema import MIGRATIONS, SCHEMA_VERSION

DB_FILENAME = "tracking.db"
_CHUNK = 900  # stay under SQLite's host-parameter limit
_T = TypeVar("_T")

_RUN_COLUMNS = (
    "r.run_id, r.experiment_id, r.run_name, r.parent_run_id, r.status, r.start_time, "
    "r.end_time, r.note, r.lifecycle_stage"
)


_ACTIVE = "r.lifecycle_stage = 'active'"
_TOP_LEVEL = ("(r.parent_run_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs p "
              "WHERE p.run_id = r.parent_run_id AND p.experiment_id = r.experiment_id "
              "AND p.lifecycle_stage = 'active'))")


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class SqliteStore(RegistrySql, Store):
    """A tracking store in `<root>/tracking.db`. Open it with `SqliteStore.open(root)`."""

    _open: dict[tuple[str, int], SqliteStore] = {}
    _open_lock = threading.Lock()

    def __init__(self, root: str | os.PathLike, *, read_only: bool = False) -> None:
        self.root = str(Path(root).resolve())
        self.artifact_root = os.path.join(self.root, "artifacts")
        self.path = os.path.join(self.root, DB_FILENAME)
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            if read_only:
                if not os.path.exists(self.path):
                    raise StoreError(f"tracking store: no database at {self.path}")
                _migrate_older_schema(self.root, self.path)
                uri = Path(self.path).as_uri() + "?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                             isolation_level=None)
            else:
                os.makedirs(self.root, mode=0o700, exist_ok=True)
                self._conn = sqlite3.connect(self.path, check_same_thread=False,
                                             isolation_level=None, timeout=30.0)
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"tracking store: cannot open {self.path}: {e}") from None
        try:
            self._conn.execute("PRAGMA busy_timeout = 30000")
            if not read_only:
                self._retry(self._set_wal)
                self._retry(self._migrate)
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = OFF")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        except (sqlite3.Error, StoreError) as e:
            self._conn.close()
            if isinstance(e, StoreError):
                raise
            raise StoreError(f"tracking store: cannot open {self.path}: {e}") from None
        if version > SCHEMA_VERSION:
            self._conn.close()
            raise StoreError(
                f"tracking store: {self.path} has schema version {version}, newer than this "
                f"sweepbook understands ({SCHEMA_VERSION}); upgrade sweepbook"
            )

    @classmethod
    def open(cls, root: str | os.PathLike) -> SqliteStore:
        """The process's shared writable store for `root` (one connection per process)."""
        key = (str(Path(root).resolve()), os.getpid())
        with cls._open_lock:
            store = cls._open.get(key)
            if store is None:
                store = cls._open[key] = cls(root)
            return store

    # -- plumbing ------------------------------------------------------------------------

    def _set_wal(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"tracking store: cannot use WAL mode for {self.path} (got {mode})")

    def _migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION once, under an exclusive lock."""
        conn = self._conn
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return  # current, or newer (refused by the caller without touching it)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for steps in MIGRATIONS[version:]:
                for statement in steps:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _retry(self, operation: Callable[[], _T]) -> _T:
        """Run `operation`, retrying with backoff and jitter while the database is busy."""
        delay = 0.005
        deadline = time.monotonic() + 120.0
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() > deadline:
                    raise StoreError(f"tracking store: {self.path}: {e}") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def _write(self, work: Callable[[sqlite3.Connection], None]) -> None:
        if self.read_only:
            raise StoreError(f"tracking store: {self.path} is open read-only")

        def transaction() -> None:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                work(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        with self._lock:
            try:
                self._retry(transaction)
            except sqlite3.Error as e:
                raise StoreError(f"tracking store: {self.path}: {e}") from None

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._retry(lambda: self._conn.execute(sql, args).fetchall())

    def _registry(self, work: Callable[[Query], _T], *, write: bool) -> _T:
        if not write:
            return work(self._read)
        done: list[_T] = []  # a busy retry runs the transaction again: the last result wins
        self._write(lambda conn: done.append(
            work(lambda sql, args=(): conn.execute(sql, args).fetchall())))
        return done[-1]

    # -- experiments ---------------------------------------------------------------------

    def create_experiment(self, name: str, tags: dict[str, str] | None = None) -> str:
        created: list[str] = []

        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM experiments WHERE name = ?", (name,)).fetchone():
                raise InvalidInputError(f"experiment {name!r} already exists")
            cursor = conn.execute(
                "INSERT INTO experiments (name, artifact_location, creation_time) "
                "VALUES (?, '', ?)",
                (name, int(time.time() * 1000)),
            )
            experiment_id = cursor.lastrowid
            conn.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                         (f"artifacts/{experiment_id}", experiment_id))
            conn.executemany(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                [(experiment_id, k, v) for k, v in (tags or {}).items()],
            )
            created.append(str(experiment_id))

        self._write(work)
        return created[0]

    def _experiments(self, where: str = "", args: Sequence[Any] = ()) -> list[Experiment]:
        rows = self._read(
            "SELECT experiment_id, name, artifact_location, creation_time FROM experiments "
            f"{where} ORDER BY experiment_id", args)
        tags: dict[int, dict[str, str]] = {}
        for experiment_id, key, value in self._read(
                "SELECT experiment_id, key, value FROM experiment_tags"):
            tags.setdefault(experiment_id, {})[key] = value
        return [
            Experiment(str(eid), name, os.path.join(self.root, location), created,
                       tags.get(eid, {}))
            for eid, name, location, created in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self._experiments("WHERE experiment_id = ?", (_as_int_id(experiment_id),))
        if not found:
            raise NotFoundError(f"experiment id {experiment_id!r} not found in {self.root}")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._experiments("WHERE name = ?", (name,))
        return found[0] if found else None

    def search_experiments(self) -> list[Experiment]:
        return self._experiments()

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        eid = _as_int_id(experiment_id)
        self.get_experiment(experiment_id)
        self._write(lambda conn: conn.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            (eid, key, value)))

    # -- writes --------------------------------------------------------------------------

    def apply(self, batch: Batch) -> None:
        if len(batch):
            self._write(lambda conn: _apply(conn, batch))

    def set_lifecycle(self, run_id: str, stage: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            cursor = conn.execute("UPDATE runs SET lifecycle_stage = ? WHERE run_id = ?",
                                  (stage, run_id))
            if cursor.rowcount == 0:
                raise NotFoundError(f"run {run_id!r} not found in {self.root}")

        self._write(work)

    # -- reads ---------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.run_id = ?", (run_id,))
        if not rows:
            raise NotFoundError(f"run {run_id!r} not found in {self.root}")
        return self._runs_from_rows(rows)[0]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.get_run(run_id)
        rows = self._read(
            "SELECT key, value, is_nan, timestamp, step FROM metrics WHERE run_id = ? AND key = ? "
            "ORDER BY step, timestamp, rowid", (run_id, key))
        return [Metric(k, _value(v, nan), ts, step) for k, v, nan, ts, step in rows]

    def get_metric_histories(self, run_ids: Sequence[str]) -> list[tuple[str, Metric]]:
        out: list[tuple[str, Metric]] = []
        for chunk in _chunks(list(run_ids)):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                "SELECT run_id, key, value, is_nan, timestamp, step FROM metrics "
                f"WHERE run_id IN ({marks}) ORDER BY run_id, key, step, timestamp, rowid", chunk)
            out += [(rid, Metric(k, _value(v, nan), ts, step)) for rid, k, v, nan, ts, step in rows]
        return out

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
        include_deleted: bool = False,
    ) -> list[Run]:
        if max_results is not None and (isinstance(max_results, bool)
                                        or not isinstance(max_results, int) or max_results < 0):
            raise InvalidInputError(f"max_results: must be a non-negative integer or None "
                                    f"(got {max_results!r})")
        where_sql, where_args, order_sql, order_args, _ = _compiled(filter_string, order_by)
        ids = [_as_int_id(e) for e in experiment_ids]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        stage = "" if include_deleted else "AND r.lifecycle_stage = 'active'"
        limit = "" if max_results is None else f"LIMIT {int(max_results)}"
        sql = (f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.experiment_id IN ({marks}) {stage} "
               f"AND ({where_sql}) {order_sql} {limit}")
        return self._runs_from_rows(self._read(sql, [*ids, *where_args, *order_args]))

    def param_types(self, run_ids: Sequence[str]) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for chunk in _chunks(list(run_ids)):
            marks = ",".join("?" * len(chunk))
            for run_id, key, kind in self._read(
                    f"SELECT run_id, key, value_type FROM params WHERE run_id IN ({marks})", chunk):
                out[(run_id, key)] = kind
        return out

    # -- reads for tables ----------------------------------------------------------------

    def experiment_stats(self, filter_string: str = "") -> dict[str, ExperimentStats]:
        where_sql, where_args, *_ = _compiled(filter_string, None)
        counts = {eid: rest for eid, *rest in self._read(
            f"SELECT r.experiment_id, COUNT(*), SUM({_TOP_LEVEL}), SUM({where_sql}), "
            "MAX(MAX(r.start_time), COALESCE(MAX(r.end_time), 0)) "
            f"FROM runs r WHERE {_ACTIVE} GROUP BY r.experiment_id", where_args)}
        statuses: dict[int, dict[str, int]] = {}
        for eid, status, n in self._read(
                f"SELECT r.experiment_id, r.status, COUNT(*) FROM runs r WHERE {_ACTIVE} "
                "GROUP BY r.experiment_id, r.status"):
            statuses.setdefault(eid, {})[status] = n
        out = {}
        for (eid,) in self._read("SELECT experiment_id FROM experiments ORDER BY experiment_id"):
            total, top, matching, last = counts.get(eid, (0, 0, 0, None))
            out[str(eid)] = ExperimentStats(str(eid), total, top or 0, matching or 0,
                                            statuses.get(eid, {}), last)
        return out

    def search_run_groups(self, experiment_id: str, filter_string: str = "",
                          order_by: Sequence[str] | None = None, *, offset: int = 0,
                          max_results: int = 50, children: int = 20) -> RunGroups:
        for name, value in (("offset", offset), ("max_results", max_results),
                            ("children", children)):
            _check_count(name, value)
        where_sql, where_args, order_sql, order_args, empty = _compiled(filter_string, order_by)
        eid = _as_int_id(experiment_id)
        in_experiment = f"r.experiment_id = ? AND {_ACTIVE}"
        groups = f"{in_experiment} AND {_TOP_LEVEL}"
        args: list = [eid]
        if not empty:
            groups += (f" AND (({where_sql}) OR r.run_id IN (SELECT r.parent_run_id FROM runs r "
                       f"WHERE {in_experiment} AND r.parent_run_id IS NOT NULL "
                       f"AND ({where_sql})))")
            args += [*where_args, eid, *where_args]
        total = self._read(f"SELECT COUNT(*) FROM runs r WHERE {groups}", args)[0][0]
        top = self._read(f"SELECT r.run_id, {where_sql} FROM runs r WHERE {groups} "
                         f"{order_sql} LIMIT ? OFFSET ?",
                         [*where_args, *args, *order_args, max_results, offset])
        counts: dict[str, tuple[int, int]] = {}
        first: dict[str, list[str]] = {}
        for chunk in _chunks([rid for rid, _ in top]):
            marks = ",".join("?" * len(chunk))
            for parent, n, matching in self._read(
                    f"SELECT r.parent_run_id, COUNT(*), SUM({where_sql}) FROM runs r "
                    f"WHERE {in_experiment} AND r.parent_run_id IN ({marks}) "
                    "GROUP BY r.parent_run_id", [*where_args, eid, *chunk]):
                counts[parent] = (n, matching or 0)
            parents = [p for p in chunk if counts.get(p, (0, 0))[1]]
            if not children or not parents:
                continue
            marks = ",".join("?" * len(parents))
            for parent, run_id in self._read(
                    "SELECT parent_run_id, run_id FROM (SELECT r.parent_run_id, r.run_id, "
                    f"ROW_NUMBER() OVER (PARTITION BY r.parent_run_id {order_sql}) AS n "
                    f"FROM runs r WHERE {in_experiment} AND r.parent_run_id IN ({marks}) "
                    f"AND ({where_sql})) WHERE n <= ? ORDER BY parent_run_id, n",
                    [*order_args, eid, *parents, *where_args, children]):
                first.setdefault(parent, []).append(run_id)
        return RunGroups(total, tuple(
            RunGroup(rid, bool(matched), *counts.get(rid, (0, 0)), tuple(first.get(rid, ())))
            for rid, matched in top))

    def search_run_ids(self, experiment_ids: Sequence[str], filter_string: str = "",
                       order_by: Sequence[str] | None = None, *,
                       parent_run_id: str | None = None, offset: int = 0,
                       max_results: int | None = None) -> RunIds:
        _check_count("offset", offset)
        if max_results is not None:
            _check_count("max_results", max_results)
        where_sql, where_args, order_sql, order_args, _ = _compiled(filter_string, order_by)
        ids = [_as_int_id(e) for e in experiment_ids]
        if not ids:
            return RunIds(0, ())
        where = (f"r.experiment_id IN ({','.join('?' * len(ids))}) AND {_ACTIVE} "
                 f"AND ({where_sql})")
        args = [*ids, *where_args]
        if parent_run_id is not None:
            where += " AND r.parent_run_id = ?"
            args.append(parent_run_id)
        total = self._read(f"SELECT COUNT(*) FROM runs r WHERE {where}", args)[0][0]
        rows = self._read(f"SELECT r.run_id FROM runs r WHERE {where} {order_sql} "
                          "LIMIT ? OFFSET ?",
                          [*args, *order_args, -1 if max_results is None else max_results,
                           offset])
        return RunIds(total, tuple(row[0] for row in rows))

    def run_summaries(self, run_ids: Sequence[str], *, params: Sequence[str] | None = None,
                      metrics: Sequence[str] | None = None,
                      tags: Sequence[str] | None = None) -> list[Run]:
        ids = list(dict.fromkeys(run_ids))
        rows: dict[str, tuple] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for row in self._read(f"SELECT {_RUN_COLUMNS} FROM runs r "
                                  f"WHERE r.run_id IN ({marks})", chunk):
                rows[row[0]] = row
        values: dict[str, dict[str, dict[str, Any]]] = {
            kind: {rid: {} for rid in rows} for kind in ("params", "metrics", "tags")}
        found = list(rows)
        half = _CHUNK // 2
        for kind, table, keys in (("params", "params", params),
                                  ("metrics", "latest_metrics", metrics),
                                  ("tags", "tags", tags)):
            extra = ", is_nan" if kind == "metrics" else ""
            key_chunks = [None] if keys is None else list(_chunks(list(dict.fromkeys(keys)), half))
            for key_chunk in key_chunks:
                for chunk in _chunks(found, half):
                    sql = (f"SELECT run_id, key, value{extra} FROM {table} "
                           f"WHERE run_id IN ({','.join('?' * len(chunk))})")
                    args = list(chunk)
                    if key_chunk is not None:
                        sql += f" AND key IN ({','.join('?' * len(key_chunk))})"
                        args += key_chunk
                    for rid, key, value, *nan in self._read(sql, args):
                        values[kind][rid][key] = _value(value, nan[0]) if nan else value
        return [self._run_from_row(rows[rid], values["params"][rid], values["metrics"][rid],
                                   values["tags"][rid]) for rid in found]

    def search_run_keys(self, experiment_id: str, filter_string: str = "") -> RunKeys:
        where_sql, where_args, *_ = _compiled(filter_string, None)
        matching = (f"SELECT r.run_id FROM runs r WHERE r.experiment_id = ? AND {_ACTIVE} "
                    f"AND ({where_sql})")
        args = [_as_int_id(experiment_id), *where_args]
        total = self._read(f"SELECT COUNT(*) FROM ({matching})", args)[0][0]
        kinds = []
        for table, varies in (
                ("params", "MIN(value) != MAX(value)"),
                ("latest_metrics",
                 "MIN(value) != MAX(value) OR SUM(is_nan = 1) NOT IN (0, COUNT(*))"),
                ("tags", "MIN(value) != MAX(value)")):
            kinds.append(tuple(
                KeyStats(key, present, bool(differs))
                for key, differs, present in self._read(
                    f"SELECT key, {varies}, COUNT(*) FROM {table} "
                    f"WHERE run_id IN ({matching}) GROUP BY key ORDER BY key", args)))
        return RunKeys(total, *kinds)

    def metric_stats(self, run_ids: Sequence[str]) -> dict[tuple[str, str], MetricStats]:
        out: dict[tuple[str, str], MetricStats] = {}
        for chunk in _chunks(list(run_ids)):
            marks = ",".join("?" * len(chunk))
            for rid, key, *stats in self._read(
                    "SELECT run_id, key, COUNT(*), MIN(step), MAX(step), MAX(timestamp), "
                    "MIN(value), MAX(value) "  # a NaN is NULL: left out
                    f"FROM metrics WHERE run_id IN ({marks}) GROUP BY run_id, key", chunk):
                out[(rid, key)] = MetricStats(*stats[:4], *(_value(v, 0) for v in stats[4:]))
        return out

    def child_stats(self, run_id: str) -> ChildStats:
        family = "SELECT run_id FROM runs WHERE parent_run_id = ? OR run_id = ?"
        counts = dict(self._read(
            "SELECT status, COUNT(*) FROM runs WHERE parent_run_id = ? "
            "AND lifecycle_stage = 'active' GROUP BY status", [run_id]))
        started, ended = self._read(
            "SELECT MAX(start_time), MAX(end_time) FROM runs WHERE parent_run_id = ? "
            "OR run_id = ?", [run_id, run_id])[0]
        points, last_point = self._read(
            f"SELECT COUNT(*), MAX(timestamp) FROM metrics WHERE run_id IN ({family})",
            [run_id, run_id])[0]
        tag_count = self._read(f"SELECT COUNT(*) FROM tags WHERE run_id IN ({family})",
                               [run_id, run_id])[0][0]
        return ChildStats(counts, started, ended, points, last_point, tag_count)

    def _run_from_row(self, row: tuple, params: dict[str, str], metrics: dict[str, float],
                      tags: dict[str, str]) -> Run:
        rid, eid, name, parent, status, start, end, note, stage = row
        info = RunInfo(
            run_id=rid, run_name=name, experiment_id=str(eid), parent_run_id=parent,
            status=RunStatus(status), start_time=start, end_time=end,
            artifact_uri=os.path.join(self.artifact_root, str(eid), rid),
            lifecycle_stage=stage,
        )
        return Run(info, RunData(params, metrics, tags, note))

    def _runs_from_rows(self, rows: list[tuple]) -> list[Run]:
        run_ids = [row[0] for row in rows]
        params: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
        metrics: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
        tags: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
        for chunk in _chunks(run_ids):
            marks = ",".join("?" * len(chunk))
            for rid, key, value in self._read(
                    f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks})", chunk):
                params[rid][key] = value
            for rid, key, value in self._read(
                    f"SELECT run_id, key, value FROM tags WHERE run_id IN ({marks})", chunk):
                tags[rid][key] = value
            for rid, key, value, nan in self._read(
                    "SELECT run_id, key, value, is_nan FROM latest_metrics "
                    f"WHERE run_id IN ({marks})", chunk):
                metrics[rid][key] = _value(value, nan)
        return [self._run_from_row(row, params[row[0]], metrics[row[0]], tags[row[0]])
                for row in rows]


def _migrate_older_schema(root: str, path: str) -> None:
    """Before a read-only open: bring an older schema up to date once, through a writable
    connection, so readers (the UI) see the tables this version expects. A store this
    process may not write keeps its version and is refused in one line."""
    try:
        with closing(sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True)) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error:
        return  # the read-only open reports it
    if version >= SCHEMA_VERSION:
        return
    if not os.access(path, os.W_OK):
        raise StoreError(f"tracking store: {path} has schema version {version}, older than "
                         f"{SCHEMA_VERSION}, and cannot be upgraded read-only; open it once "
                         "with write access (any writing sweepbook command upgrades it)")
    SqliteStore(root)._conn.close()


def _reset_open_lock_in_child() -> None:
    SqliteStore._open_lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_reset_open_lock_in_child)


class _Compiled(NamedTuple):
    where: str
    where_args: list
    order: str
    order_args: list
    empty: bool
    """True when there is no filter"""


def _compiled(filter_string: str, order_by: Sequence[str] | None) -> _Compiled:
    """A filter and order_by, compiled to SQL over `runs r` and bound args."""
    from tracking import query  # only searches need the grammar: workers skip its import
    from tracking.store.sql import compile_filter, compile_order_by

    expr = query.parse_filter(filter_string or "")
    return _Compiled(*compile_filter(expr), *compile_order_by(query.parse_order_by(order_by)),
                     expr is None)


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{name}: must be a non-negative integer (got {value!r})")


def _as_int_id(experiment_id: str | int) -> int:
    """An experiment id as a 64-bit integer; any other id names no experiment."""
    try:
        eid = int(experiment_id)
    except (TypeError, ValueError):
        eid = None
    if eid is None or not -(2**63) <= eid < 2**63:
        raise NotFoundError(f"experiment id {experiment_id!r} not found")
    return eid


def _value(stored: float | None, flag: int) -> float:
    """Undo `_encode`: the is_nan column is 1 for NaN (stored as NULL), 2 for -0.0."""
    if flag == 1 or stored is None:
        return math.nan
    return -0.0 if flag == 2 else float(stored)


def _encode(value: float) -> tuple[float | None, int]:
    """SQLite turns NaN into NULL and -0.0 into 0: keep both exact through the flag."""
    if math.isnan(value):
        return None, 1
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return 0.0, 2
    return value, 0


def _apply(conn: sqlite3.Connection, batch: Batch) -> None:
    """Write one batch inside an open transaction."""
    if batch.new_runs:
        conn.executemany(
            "INSERT INTO runs (run_id, experiment_id, run_name, parent_run_id, status, start_time,"
            " end_time, note) VALUES (?, ?, ?, ?, ?, ?, ?, '')",
            [(i.run_id, int(i.experiment_id), i.run_name, i.parent_run_id, i.status.value,
              i.start_time, i.end_time) for i in batch.new_runs],
        )
    touched = {p[0] for p in batch.params} | {t[0] for t in batch.tags} | set(batch.notes)
    touched |= {m[0] for m in batch.metrics} | set(batch.starts) | set(batch.ends)
    _check_runs_exist(conn, touched - {i.run_id for i in batch.new_runs})
    if batch.params:
        _write_params(conn, batch.params, {i.run_id for i in batch.new_runs})
    if batch.tags:
        conn.executemany(
            "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value", batch.tags)
    if batch.metrics:
        _write_metrics(conn, batch.metrics)
    if batch.notes:
        conn.executemany("UPDATE runs SET note = ? WHERE run_id = ?",
                         [(note, run_id) for run_id, note in batch.notes.items()])
    if batch.starts:
        conn.executemany("UPDATE runs SET status = ?, start_time = ? WHERE run_id = ?",
                         [(RunStatus.RUNNING.value, start, run_id)
                          for run_id, start in batch.starts.items()])
    if batch.ends:
        conn.executemany("UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?",
                         [(status.value, end, run_id)
                          for run_id, (status, end) in batch.ends.items()])


def _check_runs_exist(conn: sqlite3.Connection, run_ids: set[str]) -> None:
    missing = set(run_ids)
    for chunk in _chunks(sorted(run_ids)):
        marks = ",".join("?" * len(chunk))
        missing -= {row[0] for row in conn.execute(
            f"SELECT run_id FROM runs WHERE run_id IN ({marks})", chunk)}
    if missing:
        raise NotFoundError(f"run {sorted(missing)[0]!r} not found")


def _write_params(conn: sqlite3.Connection, params: list[tuple[str, str, str, str]],
                  new_runs: set[str]) -> None:
    """Insert params; one already stored with another value is a conflict (a run created
    in this batch has none stored)."""
    wanted: dict[tuple[str, str], tuple[str, str]] = {}
    for run_id, key, value, kind in params:
        earlier = wanted.get((run_id, key))
        if earlier is not None and earlier[0] != value:
            raise ParamConflictError(_conflict(key, earlier[0], value))
        wanted[(run_id, key)] = (value, kind)
    for (run_id, key), (value, _) in wanted.items():
        if run_id in new_runs:
            continue
        row = conn.execute("SELECT value FROM params WHERE run_id = ? AND key = ?",
                           (run_id, key)).fetchone()
        if row is not None and row[0] != value:
            raise ParamConflictError(_conflict(key, row[0], value))
    conn.executemany(
        "INSERT OR IGNORE INTO params (run_id, key, value, value_type) VALUES (?, ?, ?, ?)",
        [(rid, key, value, kind) for (rid, key), (value, kind) in wanted.items()],
    )


def _conflict(key: str, old: str, new: str) -> str:
    return (f"param {key!r} was already logged as {old!r}; cannot change it to {new!r} "
            "(params are immutable)")


def _write_metrics(conn: sqlite3.Connection,
                   metrics: list[tuple[str, str, float, int, int]]) -> None:
    rows = []
    latest: dict[tuple[str, str], tuple[int, int, float]] = {}
    for run_id, key, value, step, timestamp in metrics:
        if value != 0.0 and value == value:  # neither NaN nor a zero: stored as it is
            rows.append((run_id, key, value, 0, step, timestamp))
        else:
            rows.append((run_id, key, *_encode(value), step, timestamp))
        current = latest.get((run_id, key))
        if current is None or step > current[0] or (step == current[0]
                                                    and timestamp >= current[1]):
            latest[(run_id, key)] = (step, timestamp, value)
    conn.executemany(
        "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows)
    conn.executemany(
        "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
        "value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, "
        "timestamp = excluded.timestamp "
        "WHERE (excluded.step, excluded.timestamp) "
        ">= (latest_metrics.step, latest_metrics.timestamp)",
        [(rid, key, *_encode(v), step, ts)
         for (rid, key), (step, ts, v) in latest.items()],
    )
