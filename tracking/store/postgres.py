"""The team store: a PostgreSQL database (psycopg 3), artifacts under a shared folder.

One connection per process and store, shared by threads under a lock; a forked child
opens its own on first use (the parent's socket is never touched). Every `apply` is one
transaction. Params stay immutable under races: rows go in with ``ON CONFLICT DO
NOTHING`` and the stored values are checked afterwards in the same transaction, so a
conflicting writer rolls back. Metrics go in with COPY. A read-only store opens its
sessions with ``default_transaction_read_only = on``, so the server refuses any write.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

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
from tracking.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION
from tracking.store.registry import Query, RegistrySql
from tracking.store.sqlite import _ACTIVE, _TOP_LEVEL, _as_int_id, _check_count, _conflict

if TYPE_CHECKING:
    import psycopg

_T = TypeVar("_T")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_MIGRATION_LOCK = 0x5357_4550  # pg_advisory_xact_lock key: one migrator at a time
_RUN_COLUMNS = (
    "r.run_id, r.experiment_id, r.run_name, r.parent_run_id, r.status, r.start_time, "
    "r.end_time, r.note, r.lifecycle_stage"
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("tracking store: PostgreSQL needs psycopg; "
                         "pip install sweepbook[postgres]") from None
    return psycopg


def display_uri(uri: str) -> str:
    """The URI with any password replaced by ***, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", uri)


class PostgresStore(RegistrySql, Store):
    """A tracking store in a PostgreSQL database. Open it with `tracking.store.open_store`."""

    _open: dict[tuple[str, str, bool], PostgresStore] = {}
    _open_lock = threading.Lock()

    def __init__(self, uri: str, *, artifact_root: str, read_only: bool = False) -> None:
        self.conninfo = re.sub(r"^(postgres(?:ql)?)\+psycopg://", r"\1://", uri)
        self.root = display_uri(self.conninfo)
        self.artifact_root = artifact_root
        self.read_only = read_only
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._pid = os.getpid()
        _stores.add(self)
        try:
            if not read_only:
                self._call(self._migrate, write=False)
            version = self._call(self._version, write=False)
        except BaseException:
            self.close()
            raise
        if version is None:
            self.close()
            raise StoreError(f"tracking store: {self.root} has no tracking schema "
                             "(open it once for writing to create it)")
        if version > SCHEMA_VERSION:
            self.close()
            raise StoreError(
                f"tracking store: {self.root} has schema version {version}, newer than this "
                f"sweepbook understands ({SCHEMA_VERSION}); upgrade sweepbook")

    @classmethod
    def open(cls, uri: str, *, artifact_root: str, read_only: bool = False) -> PostgresStore:
        """The process's shared store for this database and artifact root."""
        key = (uri, artifact_root, read_only)
        with cls._open_lock:
            store = cls._open.get(key)
            if store is None:
                store = cls._open[key] = cls(uri, artifact_root=artifact_root,
                                             read_only=read_only)
            return store

    def close(self) -> None:
        """Close this process's connection (the next call opens a new one)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # -- plumbing ------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        """This process's connection, opened (again) when missing, broken or inherited."""
        if self._pid != os.getpid():
            _forget_inherited(self._conn)
            self._conn, self._pid = None, os.getpid()
        if self._conn is not None and not self._conn.closed:
            return self._conn
        psycopg = _psycopg()
        read_only = {"options": "-c default_transaction_read_only=on"} if self.read_only else {}
        try:
            self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=30,
                                         **read_only)
        except psycopg.Error as e:
            raise StoreError(f"tracking store: cannot connect to {self.root}: "
                             f"{_first_line(e)}") from None
        return self._conn

    def _migrate(self, conn: psycopg.Connection) -> None:
        """Bring the schema to SCHEMA_VERSION, one migrator at a time (advisory lock)."""
        if (self._version(conn) or 0) >= SCHEMA_VERSION:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = 0 if row is None else row[0]
            for steps in MIGRATIONS[version:]:
                for statement in steps:
                    conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = %s",
                         (max(version, SCHEMA_VERSION),))

    def _version(self, conn: psycopg.Connection) -> int | None:
        """The schema version, or None when the database has no tracking schema."""
        if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        return None if row is None else row[0]

    def _call(self, work: Callable[[psycopg.Connection], _T], *, write: bool) -> _T:
        """Run `work` on this process's connection (in a transaction when writing);
        database errors become one-line StoreErrors and a lost connection is reopened. Work
        is run again on the new connection only when it cannot have reached the server: a
        write whose commit was under way when the connection died is not repeated here."""
        if write and self.read_only:
            raise StoreError(f"tracking store: {self.root} is open read-only")
        psycopg = _psycopg()
        committing = False

        def in_transaction(conn: psycopg.Connection) -> _T:
            nonlocal committing
            with conn.transaction():
                result = work(conn)
                committing = True  # from here on the server may have the write
            return result

        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    return in_transaction(conn) if write else work(conn)
                except psycopg.OperationalError as e:
                    if not conn.closed or attempt == 2 or committing:
                        raise StoreError(f"tracking store: {self.root}: {_first_line(e)}") from None
                    time.sleep(0.1)  # the server went away: reconnect once
                except psycopg.Error as e:
                    raise StoreError(f"tracking store: {self.root}: {_first_line(e)}") from None
        raise AssertionError("unreachable")

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self._call(lambda conn: conn.execute(sql, args).fetchall(), write=False)

    def _registry(self, work: Callable[[Query], _T], *, write: bool) -> _T:
        def query(conn: psycopg.Connection) -> Query:
            def run(sql: str, args: Sequence[Any] = ()) -> list[tuple]:
                cursor = conn.execute(sql.replace("?", "%s"), args)
                return cursor.fetchall() if cursor.description else []
            return run
        return self._call(lambda conn: work(query(conn)), write=write)

    # -- experiments ---------------------------------------------------------------------

    def create_experiment(self, name: str, tags: dict[str, str] | None = None) -> str:
        def work(conn: psycopg.Connection) -> str:
            row = conn.execute(
                "INSERT INTO experiments (name, artifact_location, creation_time) "
                "VALUES (%s, '', %s) ON CONFLICT (name) DO NOTHING RETURNING experiment_id",
                (name, int(time.time() * 1000))).fetchone()
            if row is None:
                raise InvalidInputError(f"experiment {name!r} already exists")
            experiment_id = row[0]
            conn.execute("UPDATE experiments SET artifact_location = %s "
                         "WHERE experiment_id = %s", (str(experiment_id), experiment_id))
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (%s, %s, %s)",
                    [(experiment_id, k, v) for k, v in (tags or {}).items()])
            return str(experiment_id)

        return self._call(work, write=True)

    def _experiments(self, where: str = "", args: Sequence[Any] = ()) -> list[Experiment]:
        rows = self._read(
            "SELECT experiment_id, name, artifact_location, creation_time FROM experiments "
            f"{where} ORDER BY experiment_id", args)
        tags: dict[int, dict[str, str]] = {}
        for experiment_id, key, value in self._read(
                "SELECT experiment_id, key, value FROM experiment_tags "
                "WHERE experiment_id = ANY(%s)", ([row[0] for row in rows],)):
            tags.setdefault(experiment_id, {})[key] = value
        return [
            Experiment(str(eid), name, os.path.join(self.artifact_root, location), created,
                       tags.get(eid, {}))
            for eid, name, location, created in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self._experiments("WHERE experiment_id = %s", (_as_int_id(experiment_id),))
        if not found:
            raise NotFoundError(f"experiment id {experiment_id!r} not found in {self.root}")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._experiments("WHERE name = %s", (name,))
        return found[0] if found else None

    def search_experiments(self) -> list[Experiment]:
        return self._experiments()

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        eid = _as_int_id(experiment_id)
        self.get_experiment(experiment_id)
        self._call(lambda conn: conn.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            (eid, key, value)), write=True)

    # -- writes --------------------------------------------------------------------------

    def apply(self, batch: Batch) -> None:
        if len(batch):
            self._call(lambda conn: _apply(conn, batch), write=True)

    def set_lifecycle(self, run_id: str, stage: str) -> None:
        def work(conn: psycopg.Connection) -> None:
            cursor = conn.execute("UPDATE runs SET lifecycle_stage = %s WHERE run_id = %s",
                                  (stage, run_id))
            if cursor.rowcount == 0:
                raise NotFoundError(f"run {run_id!r} not found in {self.root}")

        self._call(work, write=True)

    # -- reads ---------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.run_id = %s", (run_id,))
        if not rows:
            raise NotFoundError(f"run {run_id!r} not found in {self.root}")
        return self._runs_from_rows(rows)[0]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.get_run(run_id)
        rows = self._read(
            "SELECT key, value, timestamp, step FROM metrics WHERE run_id = %s AND key = %s "
            "ORDER BY step, timestamp, seq", (run_id, key))
        return [Metric(k, _value(v), ts, step) for k, v, ts, step in rows]

    def get_metric_histories(self, run_ids: Sequence[str]) -> list[tuple[str, Metric]]:
        rows = self._read(
            "SELECT run_id, key, value, timestamp, step FROM metrics WHERE run_id = ANY(%s) "
            "ORDER BY run_id, key, step, timestamp, seq", (list(run_ids),))
        return [(rid, Metric(k, _value(v), ts, step)) for rid, k, v, ts, step in rows]

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
        stage = "" if include_deleted else "AND r.lifecycle_stage = 'active'"
        limit = "" if max_results is None else f"LIMIT {int(max_results)}"
        sql = (f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.experiment_id = ANY(%s) {stage} "
               f"AND ({where_sql}) {order_sql} {limit}")
        return self._runs_from_rows(self._read(sql, [ids, *where_args, *order_args]))

    def param_types(self, run_ids: Sequence[str]) -> dict[tuple[str, str], str]:
        rows = self._read("SELECT run_id, key, value_type FROM params WHERE run_id = ANY(%s)",
                          (list(run_ids),))
        return {(run_id, key): kind for run_id, key, kind in rows}

    # -- reads for tables ----------------------------------------------------------------

    def experiment_stats(self, filter_string: str = "") -> dict[str, ExperimentStats]:
        where_sql, where_args, *_ = _compiled(filter_string, None)
        counts = {eid: rest for eid, *rest in self._read(
            f"SELECT r.experiment_id, COUNT(*), COUNT(*) FILTER (WHERE {_TOP_LEVEL}), "
            f"COUNT(*) FILTER (WHERE {where_sql}), "
            "GREATEST(MAX(r.start_time), COALESCE(MAX(r.end_time), 0)) "
            f"FROM runs r WHERE {_ACTIVE} GROUP BY r.experiment_id", where_args)}
        statuses: dict[int, dict[str, int]] = {}
        for eid, status, n in self._read(
                f"SELECT r.experiment_id, r.status, COUNT(*) FROM runs r WHERE {_ACTIVE} "
                "GROUP BY r.experiment_id, r.status"):
            statuses.setdefault(eid, {})[status] = n
        out = {}
        for (eid,) in self._read("SELECT experiment_id FROM experiments ORDER BY experiment_id"):
            total, top, matching, last = counts.get(eid, (0, 0, 0, None))
            out[str(eid)] = ExperimentStats(str(eid), total, top, matching,
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
        in_experiment = f"r.experiment_id = %s AND {_ACTIVE}"
        groups = f"{in_experiment} AND {_TOP_LEVEL}"
        args: list = [eid]
        if not empty:
            groups += (f" AND (({where_sql}) OR r.run_id IN (SELECT r.parent_run_id FROM runs r "
                       f"WHERE {in_experiment} AND r.parent_run_id IS NOT NULL "
                       f"AND ({where_sql})))")
            args += [*where_args, eid, *where_args]
        total = self._read(f"SELECT COUNT(*) FROM runs r WHERE {groups}", args)[0][0]
        top = self._read(f"SELECT r.run_id, {where_sql} FROM runs r WHERE {groups} "
                         f"{order_sql} LIMIT %s OFFSET %s",
                         [*where_args, *args, *order_args, max_results, offset])
        top_ids = [rid for rid, _ in top]
        counts = {parent: (n, matching) for parent, n, matching in self._read(
            f"SELECT r.parent_run_id, COUNT(*), COUNT(*) FILTER (WHERE {where_sql}) FROM runs r "
            f"WHERE {in_experiment} AND r.parent_run_id = ANY(%s) GROUP BY r.parent_run_id",
            [*where_args, eid, top_ids])}
        first: dict[str, list[str]] = {}
        parents = [p for p in top_ids if counts.get(p, (0, 0))[1]]
        if children and parents:
            for parent, run_id in self._read(
                    "SELECT parent_run_id, run_id FROM (SELECT r.parent_run_id, r.run_id, "
                    f"ROW_NUMBER() OVER (PARTITION BY r.parent_run_id {order_sql}) AS n "
                    f"FROM runs r WHERE {in_experiment} AND r.parent_run_id = ANY(%s) "
                    f"AND ({where_sql})) AS ranked WHERE n <= %s ORDER BY parent_run_id, n",
                    [*order_args, eid, parents, *where_args, children]):
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
        where = f"r.experiment_id = ANY(%s) AND {_ACTIVE} AND ({where_sql})"
        args = [ids, *where_args]
        if parent_run_id is not None:
            where += " AND r.parent_run_id = %s"
            args.append(parent_run_id)
        total = self._read(f"SELECT COUNT(*) FROM runs r WHERE {where}", args)[0][0]
        rows = self._read(f"SELECT r.run_id FROM runs r WHERE {where} {order_sql} "
                          "LIMIT %s OFFSET %s", [*args, *order_args, max_results, offset])
        return RunIds(total, tuple(row[0] for row in rows))

    def run_summaries(self, run_ids: Sequence[str], *, params: Sequence[str] | None = None,
                      metrics: Sequence[str] | None = None,
                      tags: Sequence[str] | None = None) -> list[Run]:
        ids = list(dict.fromkeys(run_ids))
        rows = {row[0]: row for row in self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.run_id = ANY(%s)", (ids,))}
        found = [rid for rid in ids if rid in rows]
        values = self._run_values(found, params=params, metrics=metrics, tags=tags)
        return [self._run_from_row(rows[rid], values, rid) for rid in found]

    def search_run_keys(self, experiment_id: str, filter_string: str = "") -> RunKeys:
        where_sql, where_args, *_ = _compiled(filter_string, None)
        matching = (f"SELECT r.run_id FROM runs r WHERE r.experiment_id = %s AND {_ACTIVE} "
                    f"AND ({where_sql})")
        args = [_as_int_id(experiment_id), *where_args]
        total = self._read(f"SELECT COUNT(*) FROM ({matching}) AS matching", args)[0][0]
        kinds = []
        for table, varies in (
                ("params", "MIN(value) != MAX(value)"),
                ("latest_metrics",  # a NaN (NULL) differs from every number
                 "MIN(value) != MAX(value) OR COUNT(value) NOT IN (0, COUNT(*))"),
                ("tags", "MIN(value) != MAX(value)")):
            kinds.append(tuple(
                KeyStats(key, present, bool(differs))
                for key, differs, present in self._read(
                    f"SELECT key, {varies}, COUNT(*) FROM {table} "
                    f"WHERE run_id IN ({matching}) GROUP BY key ORDER BY key", args)))
        return RunKeys(total, *kinds)

    def metric_stats(self, run_ids: Sequence[str]) -> dict[tuple[str, str], MetricStats]:
        return {(rid, key): MetricStats(*stats[:4], *(_value(v) for v in stats[4:]))
                for rid, key, *stats in self._read(
                    "SELECT run_id, key, COUNT(*), MIN(step), MAX(step), MAX(timestamp), "
                    "MIN(value), MAX(value) "  # a NaN is NULL: left out
                    "FROM metrics WHERE run_id = ANY(%s) GROUP BY run_id, key",
                    (list(run_ids),))}

    def child_stats(self, run_id: str) -> ChildStats:
        family = "SELECT run_id FROM runs WHERE parent_run_id = %s OR run_id = %s"
        counts = dict(self._read(
            "SELECT status, COUNT(*) FROM runs WHERE parent_run_id = %s "
            "AND lifecycle_stage = 'active' GROUP BY status", [run_id]))
        started, ended = self._read(
            "SELECT MAX(start_time), MAX(end_time) FROM runs WHERE parent_run_id = %s "
            "OR run_id = %s", [run_id, run_id])[0]
        points, last_point = self._read(
            f"SELECT COUNT(*), MAX(timestamp) FROM metrics WHERE run_id IN ({family})",
            [run_id, run_id])[0]
        tag_count = self._read(f"SELECT COUNT(*) FROM tags WHERE run_id IN ({family})",
                               [run_id, run_id])[0][0]
        return ChildStats(counts, started, ended, points, last_point, tag_count)

    def _run_values(self, run_ids: list[str], **keys: Sequence[str] | None,
                    ) -> dict[str, dict[str, dict[str, Any]]]:
        """kind -> run_id -> key -> value for params, metrics (latest) and tags; a kind's
        keys narrow it (None: every key)."""
        values: dict[str, dict[str, dict[str, Any]]] = {
            kind: {rid: {} for rid in run_ids} for kind in ("params", "metrics", "tags")}
        if not run_ids:
            return values

        def work(conn: psycopg.Connection) -> None:
            for kind, table in (("params", "params"), ("metrics", "latest_metrics"),
                                ("tags", "tags")):
                wanted = keys.get(kind)
                sql = f"SELECT run_id, key, value FROM {table} WHERE run_id = ANY(%s)"
                args: list = [run_ids]
                if wanted is not None:
                    sql += " AND key = ANY(%s)"
                    args.append(list(wanted))
                into = values[kind]
                for rid, key, value in conn.execute(sql, args):
                    into[rid][key] = _value(value) if kind == "metrics" else value

        self._call(work, write=False)
        return values

    def _run_from_row(self, row: tuple, values: dict[str, dict[str, dict[str, Any]]],
                      rid: str) -> Run:
        rid, eid, name, parent, status, start, end, note, stage = row
        info = RunInfo(
            run_id=rid, run_name=name, experiment_id=str(eid), parent_run_id=parent,
            status=RunStatus(status), start_time=start, end_time=end,
            artifact_uri=os.path.join(self.artifact_root, str(eid), rid),
            lifecycle_stage=stage,
        )
        return Run(info, RunData(values["params"][rid], values["metrics"][rid],
                                 values["tags"][rid], note))

    def _runs_from_rows(self, rows: list[tuple]) -> list[Run]:
        values = self._run_values([row[0] for row in rows])
        return [self._run_from_row(row, values, row[0]) for row in rows]


def _compiled(filter_string: str, order_by: Sequence[str] | None) -> tuple:
    """(where, where args, order, order args, no filter) in PostgreSQL's dialect."""
    from tracking import query
    from tracking.store.sql import POSTGRES, compile_filter, compile_order_by

    expr = query.parse_filter(filter_string or "")
    return (*compile_filter(expr, POSTGRES),
            *compile_order_by(query.parse_order_by(order_by), POSTGRES), expr is None)


_stores: weakref.WeakSet[PostgresStore] = weakref.WeakSet()


def _reset_locks_in_child() -> None:
    """Another thread may have held a lock at the fork: the child starts with fresh ones."""
    PostgresStore._open_lock = threading.Lock()
    for store in list(_stores):
        store._lock = threading.RLock()


os.register_at_fork(after_in_child=_reset_locks_in_child)


def _forget_inherited(conn: psycopg.Connection | None) -> None:
    """In a forked child, let go of the parent's connection without a word on its socket:
    the socket's descriptor is pointed at /dev/null first, so closing it sends nothing."""
    if conn is None or conn.closed:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(devnull, conn.fileno())
    finally:
        os.close(devnull)
    conn.close()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _value(stored: float | None) -> float:
    return math.nan if stored is None else stored


def _stored(value: float) -> float | None:
    return None if math.isnan(value) else value


def _apply(conn: psycopg.Connection, batch: Batch) -> None:
    """Write one batch inside an open transaction."""
    with conn.cursor() as cursor:
        if batch.new_runs:
            cursor.executemany(
                "INSERT INTO runs (run_id, experiment_id, run_name, parent_run_id, status, "
                "start_time, end_time, note) VALUES (%s, %s, %s, %s, %s, %s, %s, '')",
                [(i.run_id, int(i.experiment_id), i.run_name, i.parent_run_id, i.status.value,
                  i.start_time, i.end_time) for i in batch.new_runs])
        touched = {p[0] for p in batch.params} | {t[0] for t in batch.tags} | set(batch.notes)
        touched |= {m[0] for m in batch.metrics} | set(batch.starts) | set(batch.ends)
        missing = touched - {i.run_id for i in batch.new_runs}
        if missing:
            missing -= {row[0] for row in cursor.execute(
                "SELECT run_id FROM runs WHERE run_id = ANY(%s)", (sorted(missing),))}
            if missing:
                raise NotFoundError(f"run {sorted(missing)[0]!r} not found")
        if batch.params:
            _write_params(cursor, batch.params)
        if batch.tags:
            cursor.executemany(
                "INSERT INTO tags (run_id, key, value) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value", batch.tags)
        if batch.metrics:
            _write_metrics(cursor, batch.metrics)
        if batch.notes:
            cursor.executemany("UPDATE runs SET note = %s WHERE run_id = %s",
                               [(note, run_id) for run_id, note in batch.notes.items()])
        if batch.starts:
            cursor.executemany(
                "UPDATE runs SET status = %s, start_time = %s WHERE run_id = %s",
                [(RunStatus.RUNNING.value, start, run_id)
                 for run_id, start in batch.starts.items()])
        if batch.ends:
            cursor.executemany(
                "UPDATE runs SET status = %s, end_time = %s WHERE run_id = %s",
                [(status.value, end, run_id) for run_id, (status, end) in batch.ends.items()])


def _write_params(cursor: psycopg.Cursor, params: list[tuple[str, str, str, str]]) -> None:
    wanted: dict[tuple[str, str], tuple[str, str]] = {}
    for run_id, key, value, kind in params:
        earlier = wanted.get((run_id, key))
        if earlier is not None and earlier[0] != value:
            raise ParamConflictError(_conflict(key, earlier[0], value))
        wanted[(run_id, key)] = (value, kind)
    run_ids = [rid for rid, _ in wanted]
    keys = [key for _, key in wanted]
    # A concurrent writer of the same key makes ON CONFLICT wait for its commit; the check
    # below then reads the committed value (each statement sees the latest commits).
    cursor.execute(
        "INSERT INTO params (run_id, key, value, value_type) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
        "ON CONFLICT (run_id, key) DO NOTHING",
        (run_ids, keys, [v for v, _ in wanted.values()], [k for _, k in wanted.values()]))
    for run_id, key, stored in cursor.execute(
            "SELECT p.run_id, p.key, p.value FROM params p "
            "JOIN unnest(%s::text[], %s::text[]) AS w(run_id, key) "
            "ON p.run_id = w.run_id AND p.key = w.key", (run_ids, keys)):
        if stored != wanted[(run_id, key)][0]:
            raise ParamConflictError(_conflict(key, stored, wanted[(run_id, key)][0]))


def _write_metrics(cursor: psycopg.Cursor, metrics: list[tuple[str, str, float, int, int]]) -> None:
    latest: dict[tuple[str, str], tuple[int, int, float]] = {}
    lines = []
    text: dict[str, str] = {}  # run ids and keys in COPY's text format, each escaped once
    for run_id, key, value, step, timestamp in metrics:
        rid = text.get(run_id) or text.setdefault(run_id, run_id.translate(_COPY_ESCAPES))
        name = text.get(key) or text.setdefault(key, key.translate(_COPY_ESCAPES))
        number = "\\N" if value != value else float.__repr__(value)  # NaN is NULL
        lines.append(f"{rid}\t{name}\t{number}\t{step}\t{timestamp}\n")
        current = latest.get((run_id, key))
        if current is None or step > current[0] or (step == current[0]
                                                    and timestamp >= current[1]):
            latest[(run_id, key)] = (step, timestamp, value)
    with cursor.copy("COPY metrics (run_id, key, value, step, timestamp) FROM STDIN") as copy:
        copy.write("".join(lines))
    columns: list[list[Any]] = [[], [], [], [], []]
    for (run_id, key), (step, timestamp, value) in latest.items():
        row = (run_id, key, _stored(value), step, timestamp)
        for column, item in zip(columns, row, strict=True):
            column.append(item)
    cursor.execute(
        "INSERT INTO latest_metrics (run_id, key, value, step, timestamp) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[], %s::bigint[], %s::bigint[]) "
        "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, step = excluded.step, "
        "timestamp = excluded.timestamp "
        "WHERE (excluded.step, excluded.timestamp) "
        ">= (latest_metrics.step, latest_metrics.timestamp)", columns)
