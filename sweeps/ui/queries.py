"""Read-only SQL for the UI's tables: pages of top-level runs, child groups, per-run summaries.

The store's `search_runs` loads whole runs (every param, tag and metric), which is right for
a report and too slow for a table over 10,000 runs. These queries read only the rows of one
page. They use their own read-only connection (`file:...?mode=ro`): in WAL mode a reader never
blocks the writer and the writer never blocks a reader, so a sweep writing the store is not
slowed down by a browser reading it. Filters and order_by clauses are compiled by
`tracking.query`; every value is a `?` parameter and no user text is pasted into SQL.

A *group* is a top-level run (no parent in the experiment) with its direct children: a sweep
and its trials. Pages are counted in groups, so a sweep is never split across pages. A group
is listed when its top-level run matches the filter or any of its children does.

Long-term home: a `Store.search_run_groups(experiment_id, filter, order_by, offset, limit)`
returning (total, [(top run summary, child count, matching child count, first children)])
and a `Store.run_summaries(run_ids, param_keys, metric_keys, tag_keys)` in the store
contract, so a server store can answer them with its own SQL.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracking import query
from tracking.store.sqlite import DB_FILENAME

_CHUNK = 900
_ACTIVE = "r.experiment_id = ? AND r.lifecycle_stage = 'active'"
_TOP_LEVEL = ("(r.parent_run_id IS NULL OR r.parent_run_id NOT IN "
              "(SELECT p.run_id FROM runs p WHERE p.experiment_id = ? "
              "AND p.lifecycle_stage = 'active'))")
MAX_CELL_CHARS = 200


@dataclass(frozen=True)
class Filter:
    """A parsed filter and order_by, compiled once (FilterSyntaxError if malformed)."""

    where_sql: str
    where_args: list
    order_sql: str
    order_args: list
    empty: bool

    @classmethod
    def parse(cls, filter_text: str, order_by: Sequence[str]) -> Filter:
        expr = query.parse_filter(filter_text or "")
        where_sql, where_args = query.compile_filter(expr)
        order_sql, order_args = query.compile_order_by(query.parse_order_by(list(order_by)))
        return cls(where_sql, where_args, order_sql, order_args, expr is None)


def _chunks(items: Sequence[Any], size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def metric_value(value: float | None, is_nan: int) -> float:
    if is_nan == 1 or value is None:
        return math.nan
    return -0.0 if is_nan == 2 else float(value)


class ReadOnlyDB:
    """One read-only connection to `<root>/tracking.db`, opened on first use.

    Until the database exists every query returns nothing; the next call tries again."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.path = os.path.join(str(root), DB_FILENAME)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and os.path.exists(self.path):
            uri = Path(self.path).as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 5000")
            try:
                conn.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
            except sqlite3.Error:  # created but not migrated yet: try again next time
                conn.close()
                return None
            self._conn = conn
        return self._conn

    @property
    def ready(self) -> bool:
        with self._lock:
            return self._connect() is not None

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return []
            return conn.execute(sql, list(args)).fetchall()

    def data_version(self) -> int:
        """Changes whenever another connection commits (for caches)."""
        with self._lock:
            conn = self._connect()
            return -1 if conn is None else conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# -- experiments ---------------------------------------------------------------------------

def experiments(db: ReadOnlyDB) -> list[dict[str, Any]]:
    """Every experiment with its run counts and last activity (ms), by id."""
    counts = {
        eid: (total, top, running, last)
        for eid, total, top, running, last in db.rows(
            "SELECT r.experiment_id, COUNT(*), SUM(r.parent_run_id IS NULL), "
            "SUM(r.status = 'RUNNING'), MAX(MAX(r.start_time), COALESCE(MAX(r.end_time), 0)) "
            "FROM runs r WHERE r.lifecycle_stage = 'active' GROUP BY r.experiment_id")
    }
    sweeps = dict(db.rows(
        "SELECT r.experiment_id, COUNT(*) FROM runs r JOIN tags t ON t.run_id = r.run_id "
        "WHERE t.key = 'sweep.role' AND t.value = 'sweep' AND r.lifecycle_stage = 'active' "
        "GROUP BY r.experiment_id"))
    out = []
    for eid, name, created in db.rows(
            "SELECT experiment_id, name, creation_time FROM experiments ORDER BY experiment_id"):
        total, top, running, last = counts.get(eid, (0, 0, 0, None))
        out.append({"experiment_id": str(eid), "name": name, "creation_time": created,
                    "run_count": total, "top_level_count": top or 0,
                    "sweep_count": sweeps.get(eid, 0), "running_count": running or 0,
                    "last_activity": last or created})
    return out


def experiment(db: ReadOnlyDB, experiment_id: int) -> dict[str, Any] | None:
    for item in experiments(db):
        if item["experiment_id"] == str(experiment_id):
            return item
    return None


# -- columns -------------------------------------------------------------------------------

def columns(db: ReadOnlyDB, experiment_id: int, flt: Filter) -> dict[str, Any]:
    """Keys of params, metrics and tags among the runs matching `flt`: in how many runs each is
    `present`, and whether its value `varies` (one pass, MIN != MAX, no DISTINCT sort)."""
    matching = (f"SELECT r.run_id FROM runs r WHERE {_ACTIVE} AND ({flt.where_sql})")
    args = [experiment_id, *flt.where_args]
    total = db.rows(f"SELECT COUNT(*) FROM ({matching})", args)
    out: dict[str, Any] = {"matching_runs": total[0][0] if total else 0}
    for kind, table, varies in (
            ("params", "params", "MIN(value) != MAX(value)"),
            ("metrics", "latest_metrics",
             "MIN(value) != MAX(value) OR SUM(is_nan = 1) NOT IN (0, COUNT(*))"),
            ("tags", "tags", "MIN(value) != MAX(value)")):
        out[kind] = [
            {"key": key, "varies": bool(differs), "present": present}
            for key, differs, present in db.rows(
                f"SELECT key, {varies}, COUNT(*) FROM {table} "
                f"WHERE run_id IN ({matching}) GROUP BY key ORDER BY key", args)
        ]
    return out


def page_keys(db: ReadOnlyDB, run_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(param keys, metric keys) among a page of runs: its default columns."""
    params: set[str] = set()
    metrics: set[str] = set()
    for chunk in _chunks(list(run_ids)):
        marks = ",".join("?" * len(chunk))
        params.update(r[0] for r in db.rows(
            f"SELECT DISTINCT key FROM params WHERE run_id IN ({marks})", chunk))
        metrics.update(r[0] for r in db.rows(
            f"SELECT DISTINCT key FROM latest_metrics WHERE run_id IN ({marks})", chunk))
    return sorted(params), sorted(metrics)


# -- groups --------------------------------------------------------------------------------

def _group_where(experiment_id: int, flt: Filter) -> tuple[str, list]:
    """Top-level runs that match, or have a child that matches."""
    if flt.empty:
        return f"{_ACTIVE} AND {_TOP_LEVEL}", [experiment_id, experiment_id]
    sql = (f"{_ACTIVE} AND {_TOP_LEVEL} AND (({flt.where_sql}) OR r.run_id IN "
           f"(SELECT r.parent_run_id FROM runs r WHERE {_ACTIVE} "
           f"AND r.parent_run_id IS NOT NULL AND ({flt.where_sql})))")
    return sql, [experiment_id, experiment_id, *flt.where_args, experiment_id, *flt.where_args]


def top_level_page(db: ReadOnlyDB, experiment_id: int, flt: Filter, offset: int,
                   limit: int) -> tuple[int, list[str]]:
    """(number of groups, run ids of the top-level runs on this page)."""
    where, args = _group_where(experiment_id, flt)
    total = db.rows(f"SELECT COUNT(*) FROM runs r WHERE {where}", args)
    ids = [row[0] for row in db.rows(
        f"SELECT r.run_id FROM runs r WHERE {where} {flt.order_sql} LIMIT ? OFFSET ?",
        [*args, *flt.order_args, limit, offset])]
    return (total[0][0] if total else 0), ids


def child_counts(db: ReadOnlyDB, experiment_id: int, parent_ids: Sequence[str],
                 flt: Filter) -> dict[str, tuple[int, int]]:
    """parent id -> (children, children matching the filter)."""
    out: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(list(parent_ids)):
        marks = ",".join("?" * len(chunk))
        for parent, total, matching in db.rows(
                f"SELECT r.parent_run_id, COUNT(*), SUM(CASE WHEN ({flt.where_sql}) "
                f"THEN 1 ELSE 0 END) FROM runs r WHERE {_ACTIVE} "
                f"AND r.parent_run_id IN ({marks}) GROUP BY r.parent_run_id",
                [*flt.where_args, experiment_id, *chunk]):
            out[parent] = (total, matching or 0)
    return out


def first_children(db: ReadOnlyDB, experiment_id: int, parent_ids: Sequence[str],
                   flt: Filter, per_parent: int) -> dict[str, list[str]]:
    """parent id -> ids of its first `per_parent` matching children, in filter order."""
    out: dict[str, list[str]] = {p: [] for p in parent_ids}
    window = flt.order_sql  # "ORDER BY ..."
    for chunk in _chunks(list(parent_ids)):
        marks = ",".join("?" * len(chunk))
        rows = db.rows(
            "SELECT parent_run_id, run_id FROM (SELECT r.parent_run_id, r.run_id, "
            f"ROW_NUMBER() OVER (PARTITION BY r.parent_run_id {window}) AS n "
            f"FROM runs r WHERE {_ACTIVE} AND r.parent_run_id IN ({marks}) "
            f"AND ({flt.where_sql})) WHERE n <= ? ORDER BY parent_run_id, n",
            [*flt.order_args, experiment_id, *chunk, *flt.where_args, per_parent])
        for parent, run_id in rows:
            out[parent].append(run_id)
    return out


def matching(db: ReadOnlyDB, run_ids: Sequence[str], flt: Filter) -> set[str]:
    """The runs among `run_ids` that match the filter themselves."""
    out: set[str] = set()
    for chunk in _chunks(list(run_ids)):
        marks = ",".join("?" * len(chunk))
        out.update(row[0] for row in db.rows(
            f"SELECT r.run_id FROM runs r WHERE r.run_id IN ({marks}) AND ({flt.where_sql})",
            [*chunk, *flt.where_args]))
    return out


def children_page(db: ReadOnlyDB, parent_id: str, flt: Filter, offset: int,
                  limit: int) -> tuple[int, list[str]]:
    """(matching children of one run, ids on this page)."""
    where = f"r.parent_run_id = ? AND r.lifecycle_stage = 'active' AND ({flt.where_sql})"
    args = [parent_id, *flt.where_args]
    total = db.rows(f"SELECT COUNT(*) FROM runs r WHERE {where}", args)
    ids = [row[0] for row in db.rows(
        f"SELECT r.run_id FROM runs r WHERE {where} {flt.order_sql} LIMIT ? OFFSET ?",
        [*args, *flt.order_args, limit, offset])]
    return (total[0][0] if total else 0), ids


# -- per-run summaries ---------------------------------------------------------------------

def _cell(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def summaries(db: ReadOnlyDB, run_ids: Sequence[str], *, params: Sequence[str] | None,
              metrics: Sequence[str] | None, tags: Sequence[str]) -> dict[str, dict[str, Any]]:
    """run id -> its table row: attributes and the requested values (None = every key).

    Values are keyed "params.<key>", "metrics.<key>", "tags.<key>"; long text is cut."""
    out: dict[str, dict[str, Any]] = {}
    ids = list(dict.fromkeys(run_ids))
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for rid, eid, name, parent, status, start, end in db.rows(
                "SELECT run_id, experiment_id, run_name, parent_run_id, status, start_time, "
                f"end_time FROM runs WHERE run_id IN ({marks})", chunk):
            out[rid] = {"run_id": rid, "experiment_id": str(eid), "run_name": name,
                        "parent_run_id": parent, "status": status, "start_time": start,
                        "end_time": end, "values": {}}
    for kind, table, columns_sql, keys in (
            ("params", "params", "key, value", params),
            ("metrics", "latest_metrics", "key, value, is_nan", metrics),
            ("tags", "tags", "key, value", tags)):
        if keys is not None and not keys:
            continue
        key_list = None if keys is None else list(dict.fromkeys(keys))[:_CHUNK // 2]
        for chunk in _chunks(ids, _CHUNK // 2):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT run_id, {columns_sql} FROM {table} WHERE run_id IN ({marks})"
            args: list = list(chunk)
            if key_list is not None:
                sql += f" AND key IN ({','.join('?' * len(key_list))})"
                args += key_list
            for row in db.rows(sql, args):
                values = out[row[0]]["values"] if row[0] in out else None
                if values is None:
                    continue
                if kind == "metrics":
                    values[f"metrics.{row[1]}"] = metric_value(row[2], row[3])
                else:
                    values[f"{kind}.{row[1]}"] = _cell(row[2])
    return out


# -- sweeps --------------------------------------------------------------------------------

def sweep_progress(db: ReadOnlyDB, sweep_id: str) -> dict[str, Any]:
    """Counts of the sweep's trials by status, and a fingerprint that changes with any write
    to the sweep (for live polling and the report cache)."""
    counts = dict(db.rows(
        "SELECT status, COUNT(*) FROM runs WHERE parent_run_id = ? "
        "AND lifecycle_stage = 'active' GROUP BY status", [sweep_id]))
    times = db.rows(
        "SELECT MAX(start_time), MAX(end_time) FROM runs WHERE parent_run_id = ? OR run_id = ?",
        [sweep_id, sweep_id])
    points = db.rows(
        "SELECT COUNT(*), MAX(m.timestamp) FROM metrics m WHERE m.run_id IN "
        "(SELECT run_id FROM runs WHERE parent_run_id = ? OR run_id = ?)",
        [sweep_id, sweep_id])
    tag_count = db.rows(
        "SELECT COUNT(*) FROM tags t WHERE t.run_id IN "
        "(SELECT run_id FROM runs WHERE parent_run_id = ? OR run_id = ?)",
        [sweep_id, sweep_id])
    started, ended = times[0] if times else (None, None)
    n_points, last_point = points[0] if points else (0, None)
    last = max((t for t in (started, ended, last_point) if t is not None), default=None)
    fingerprint = "-".join(str(x) for x in (
        sorted(counts.items()), started, ended, n_points, last_point,
        tag_count[0][0] if tag_count else 0))
    return {"counts": counts, "last_update": last, "fingerprint": fingerprint}


def best_child(db: ReadOnlyDB, sweep_id: str, metric: str,
               maximize: bool) -> tuple[str, float] | None:
    """(run id, value) of the finished child with the best latest value of `metric`."""
    direction = "DESC" if maximize else "ASC"
    rows = db.rows(
        "SELECT r.run_id, m.value FROM runs r JOIN latest_metrics m ON m.run_id = r.run_id "
        "WHERE r.parent_run_id = ? AND r.status = 'FINISHED' AND m.key = ? AND m.is_nan != 1 "
        f"AND r.lifecycle_stage = 'active' ORDER BY m.value {direction} LIMIT 1",
        [sweep_id, metric])
    return (rows[0][0], float(rows[0][1])) if rows else None


def trial_numbers(db: ReadOnlyDB, run_ids: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _chunks(list(run_ids)):
        marks = ",".join("?" * len(chunk))
        out.update(db.rows(f"SELECT run_id, value FROM tags WHERE key = 'trial.number' "
                           f"AND run_id IN ({marks})", chunk))
    return out
