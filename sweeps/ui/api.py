"""The JSON API of `sweeps ui`. The pages use it, and so can scripts (same Host rules apply).

| Route                                    | Returns                                              |
|------------------------------------------|------------------------------------------------------|
| `GET /api`                               | this table, as JSON                                  |
| `GET /api/experiments`                   | experiments with run counts and last activity        |
| `GET /api/experiments/{id}`              | one experiment, as above                             |
| `GET /api/experiments/{id}/runs`         | one page of run groups (top-level runs + children)   |
| `GET /api/experiments/{id}/columns`      | every param/metric/tag key of the matching runs      |
| `GET /api/runs/{id}`                     | a run: params, metrics, tags by group, note          |
| `GET /api/runs/{id}/children`            | one page of a run's children                         |
| `GET /api/runs/{id}/metrics/{key}`       | a metric's history (steps, values, timestamps)       |
| `GET /api/runs/{id}/artifacts?path=`     | the files and folders in one artifact folder         |
| `GET /api/runs/{id}/artifacts/preview`   | a preview of one file (`?path=`)                     |
| `GET /api/runs/{id}/artifacts/download`  | one file as an attachment (`?path=`)                 |
| `GET /api/compare?run_ids=a,b`           | 2 to 100 runs side by side, with differing keys      |
| `GET /api/sweeps/{id}/status`            | a sweep's counts by status, best trial, version      |
| `PATCH /api/runs/{id}`                   | set a note or tags (only with `--allow-edits`)       |

Details:
- `.../runs` takes `filter` (the `search_runs` grammar), `order_by` (repeatable, e.g.
  ``metrics.`loss` DESC``), `page` (1-based), `page_size` (<= 500, default 50), `children`
  (per group, <= 200, default 20) and `columns` (repeatable, e.g. `params.lr`; `-` for none;
  default every metric and param of the runs on the page). Pages count top-level runs, so a
  sweep and its trials are never split. It returns `{total_groups, pages, rows,
  shown_columns}`: each row has `values` ("params.x", "metrics.y", "tags.z"), `child_count`,
  `child_matching`, `children` (the first matching ones) and `matched` (false when listed only
  for a matching child).
- `.../columns` takes `filter` and returns `{matching_runs, params, metrics, tags}`, each a list
  of `{key, present, varies}`: `varies` is true when the key has more than one value among the
  matching runs (for "only columns that vary"). It scans every matching run, so the page asks
  for it after the table is drawn.
- `.../children` takes the same `filter`, `order_by`, `page`, `page_size`, `columns`.
- `.../metrics/{key}` returns at most 5,000 points, evenly sampled (`sampled: true`).
- `.../artifacts` returns `{path, files: [{path, name, is_dir, size, preview}]}`; `preview`
  returns `{path, size, kind, text?, rows?, truncated}` with kind image, json, csv, text (HTML
  and SVG too, as text), binary or none; `download` serves HTML/SVG/text as `text/plain`, and
  only png/jpeg/gif/webp inline (`inline=1`).
- `.../status` returns `{status, counts: {STATUS: n}, total, budget, best: {run_id, trial,
  metric, goal, value}, last_update, version}`; `version` changes whenever the sweep's data does.
- PATCH takes a JSON object `{"note": str}` and/or `{"tags": {key: str}}`; tags starting with
  `sys.`, `sweep.` or `trial.` are refused.

Numbers that are not finite come as the strings "NaN", "Infinity", "-Infinity"; times are
milliseconds since the epoch. Errors are `{"error": "one line"}` with 400 (bad input; a filter
error adds `position` and `field`), 403 (Host or Origin refused), 404, 405 (edits not enabled),
413, 415 (a change without a JSON body) or 503 (the store cannot be read).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sweeps import records
from sweeps.report.markdown import render_markdown
from sweeps.ui import artifacts, queries
from sweeps.ui.state import NoStore, UIState
from tracking.errors import (
    ArtifactPathError,
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    StoreError,
)

MAX_PAGE_SIZE = 500
MAX_CHILDREN = 200
MAX_COMPARE = 100
MAX_POINTS = 5000
MAX_BODY = 1 << 20
RESERVED_TAG_PREFIXES = ("sys.", "sweep.", "trial.")


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def plain(value: Any) -> Any:
    """JSON-ready: non-finite floats as strings, tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(plain(content), ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode("utf-8")


def one_line(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": one_line(message), **extra}, status_code=status)


def endpoint(handler: Callable[[UIState, Request], Any]) -> Callable[[Request], Response]:
    """A sync handler (run in a worker thread) whose errors become JSON."""

    @functools.wraps(handler)
    def wrapped(request: Request) -> Response:
        state: UIState = request.app.state.ui
        try:
            result = handler(state, request)
        except ApiError as e:
            return error(e.status, str(e), **e.extra)
        except FilterSyntaxError as e:
            return error(400, str(e), position=e.position,
                         field="order_by" if str(e).startswith("order_by") else "filter")
        except ArtifactPathError as e:
            return error(400, str(e))
        except NotFoundError as e:
            return error(404, str(e))
        except InvalidInputError as e:
            return error(400, str(e))
        except NoStore:
            return error(404, "no tracking data yet")
        except StoreError as e:
            return error(503, str(e))
        return result if isinstance(result, Response) else JSONResponse(result)

    return wrapped


# -- parameters ----------------------------------------------------------------------------

def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name}: expected a whole number, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name}: must be between {low} and {high} (got {value})")
    return value


def _experiment_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise ApiError(404, f"experiment {text[:40]!r} not found")
    return int(text)


def _filter(request: Request) -> queries.Filter:
    order = [o for o in request.query_params.getlist("order_by") if o.strip()]
    return queries.Filter.parse(request.query_params.get("filter", ""), order)


def _asked_columns(request: Request) -> list[str] | None:
    """The `columns` asked for; None for the default (every metric and param on the page)."""
    asked = [c for c in request.query_params.getlist("columns") if c]
    if not asked:
        return None
    return [] if asked == ["-"] else asked[:200]


def _keys(shown: list[str], kind: str) -> list[str]:
    prefix = kind + "."
    return [c[len(prefix):] for c in shown if c.startswith(prefix)]


def _row(summary: dict[str, Any]) -> dict[str, Any]:
    values = summary["values"]
    summary["is_sweep"] = values.get(f"tags.{records.ROLE}") == records.SWEEP
    summary["trial_number"] = values.get(f"tags.{records.NUMBER}")
    return summary


COLUMNS_MAX_AGE = 5.0
"""While a sweep writes, the column list (a scan of every matching run's keys) is recomputed
at most every 5 s; between writes it is kept."""


def _columns(state: UIState, experiment_id: int, flt: queries.Filter,
             filter_text: str) -> dict[str, Any]:
    version = state.db.data_version()
    cache = state.columns_cache
    key = (experiment_id, filter_text)
    found = cache.get(key)
    now = time.monotonic()
    if found is not None and (found[0] == version or now - found[1] < COLUMNS_MAX_AGE):
        return found[2]
    columns = queries.columns(state.db, experiment_id, flt)
    if len(cache) > 64:
        cache.clear()
    cache[key] = (version, now, columns)
    return columns


def _summaries(state: UIState, ids: list[str], shown: list[str]) -> dict[str, dict[str, Any]]:
    tags = [records.ROLE, records.NUMBER, *_keys(shown, "tags")]
    return queries.summaries(state.db, ids, params=_keys(shown, "params"),
                             metrics=_keys(shown, "metrics"), tags=tags)


# -- experiments and runs ------------------------------------------------------------------

@endpoint
def api_index(state: UIState, request: Request) -> Any:
    routes = []
    for line in (__doc__ or "").splitlines():
        if line.startswith("| `"):
            route, returns = (c.strip() for c in line.strip("|").split("|"))
            routes.append({"route": route.strip("`"), "returns": returns})
    return {"routes": routes, "details": (__doc__ or "").split("Details:", 1)[-1].strip()}


@endpoint
def list_experiments(state: UIState, request: Request) -> Any:
    return {"experiments": queries.experiments(state.db), "root": state.root}


@endpoint
def get_experiment(state: UIState, request: Request) -> Any:
    experiment_id = _experiment_id(request.path_params["experiment_id"])
    found = queries.experiment(state.db, experiment_id)
    if found is None:
        raise ApiError(404, f"experiment {experiment_id} not found")
    return found


def _experiment(state: UIState, request: Request) -> tuple[int, dict[str, Any]]:
    experiment_id = _experiment_id(request.path_params["experiment_id"])
    found = queries.experiment(state.db, experiment_id)
    if found is None:
        raise ApiError(404, f"experiment {experiment_id} not found")
    return experiment_id, found


@endpoint
def experiment_columns(state: UIState, request: Request) -> Any:
    experiment_id, _ = _experiment(state, request)
    flt = _filter(request)
    return _columns(state, experiment_id, flt, request.query_params.get("filter", ""))


@endpoint
def experiment_runs(state: UIState, request: Request) -> Any:
    experiment_id, found = _experiment(state, request)
    flt = _filter(request)
    page = _int(request, "page", 1, 1, 10**9)
    page_size = _int(request, "page_size", 50, 1, MAX_PAGE_SIZE)
    per_group = _int(request, "children", 20, 0, MAX_CHILDREN)
    total, top_ids = queries.top_level_page(state.db, experiment_id, flt,
                                            (page - 1) * page_size, page_size)
    counts = queries.child_counts(state.db, experiment_id, top_ids, flt)
    parents = [rid for rid in top_ids if counts.get(rid, (0, 0))[1]]
    first = (queries.first_children(state.db, experiment_id, parents, flt, per_group)
             if per_group and parents else {})
    matched = set(top_ids) if flt.empty else queries.matching(state.db, top_ids, flt)
    child_ids = [c for rid in top_ids for c in first.get(rid, [])]
    shown = _asked_columns(request)
    if shown is None:
        params, metrics = queries.page_keys(state.db, [*top_ids, *child_ids])
        shown = ([f"metrics.{k}" for k in metrics] + [f"params.{k}" for k in params])[:60]
    summaries = _summaries(state, [*top_ids, *child_ids], shown)
    rows = []
    for rid in top_ids:
        if rid not in summaries:  # deleted between the two reads
            continue
        row = _row(summaries[rid])
        row["child_count"], row["child_matching"] = counts.get(rid, (0, 0))
        row["children"] = [_row(summaries[c]) for c in first.get(rid, []) if c in summaries]
        row["matched"] = rid in matched
        rows.append(row)
    return {
        "experiment": found, "filter": request.query_params.get("filter", ""),
        "order_by": request.query_params.getlist("order_by"), "page": page,
        "page_size": page_size, "total_groups": total,
        "pages": max(1, -(-total // page_size)), "shown_columns": shown, "rows": rows,
    }


@endpoint
def run_children(state: UIState, request: Request) -> Any:
    run = state.client().get_run(request.path_params["run_id"])
    flt = _filter(request)
    page = _int(request, "page", 1, 1, 10**9)
    page_size = _int(request, "page_size", 50, 1, MAX_PAGE_SIZE)
    shown = [c for c in request.query_params.getlist("columns") if c and c != "-"][:200]
    total, ids = queries.children_page(state.db, run.info.run_id, flt,
                                       (page - 1) * page_size, page_size)
    summaries = _summaries(state, ids, shown)
    return {"total": total, "page": page, "page_size": page_size,
            "pages": max(1, -(-total // page_size)),
            "rows": [_row(summaries[i]) for i in ids if i in summaries]}


def _tag_group(key: str) -> str:
    if key.startswith(("sys.git.", "sys.entry_point", "sys.argv")):
        return "source"
    if key.startswith("sys."):
        return "environment"
    if key.startswith(("sweep.", "trial.")):
        return "sweep"
    return "user"


@endpoint
def get_run(state: UIState, request: Request) -> Any:
    client = state.client()
    run = client.get_run(request.path_params["run_id"])
    info, data = run.info, run.data
    rid = info.run_id
    types = {k: t for (_, k), t in client.store.param_types([rid]).items()}
    metric_keys = state.db.rows(
        "SELECT key, COUNT(*), MIN(step), MAX(step) FROM metrics WHERE run_id = ? "
        "GROUP BY key ORDER BY key", [rid])
    child_count = state.db.rows(
        "SELECT COUNT(*) FROM runs WHERE parent_run_id = ? AND lifecycle_stage = 'active'",
        [rid])
    parent = None
    if info.parent_run_id:
        rows = state.db.rows("SELECT run_id, run_name FROM runs WHERE run_id = ?",
                             [info.parent_run_id])
        parent = {"run_id": rows[0][0], "run_name": rows[0][1]} if rows else None
    experiment = client.get_experiment(info.experiment_id)
    groups: dict[str, dict[str, str]] = {"user": {}, "source": {}, "environment": {},
                                         "sweep": {}}
    for key in sorted(data.tags):
        groups[_tag_group(key)][key] = data.tags[key]
    return {
        "info": {"run_id": rid, "run_name": info.run_name,
                 "experiment_id": info.experiment_id, "experiment_name": experiment.name,
                 "parent_run_id": info.parent_run_id, "status": info.status.value,
                 "start_time": info.start_time, "end_time": info.end_time,
                 "lifecycle_stage": info.lifecycle_stage},
        "params": dict(sorted(data.params.items())), "param_types": types,
        "metrics": dict(sorted(data.metrics.items())),
        "metric_keys": [{"key": k, "points": n, "min_step": lo, "max_step": hi}
                        for k, n, lo, hi in metric_keys],
        "tags": dict(data.tags), "tag_groups": groups, "note": data.note,
        "note_html": render_markdown(data.note) if data.note else "",
        "parent": parent, "child_count": child_count[0][0] if child_count else 0,
        "is_sweep": records.is_sweep(run), "allow_edits": state.allow_edits,
    }


@endpoint
def metric_history(state: UIState, request: Request) -> Any:
    key = request.path_params["key"]
    history = state.client().get_metric_history(request.path_params["run_id"], key)
    total = len(history)
    if total > MAX_POINTS:
        stride = total / MAX_POINTS
        history = [history[int(i * stride)] for i in range(MAX_POINTS - 1)] + [history[-1]]
    return {"key": key, "steps": [m.step for m in history],
            "values": [m.value for m in history], "timestamps": [m.timestamp for m in history],
            "total": total, "sampled": total > MAX_POINTS}


# -- artifacts -----------------------------------------------------------------------------

def _run_dir(state: UIState, request: Request):
    run = state.client().get_run(request.path_params["run_id"])
    return state.run_dir(run.info.experiment_id, run.info.run_id)


def _path(request: Request) -> str:
    values = request.query_params.getlist("path")
    if len(values) > 1:
        raise ApiError(400, "path: give it once")
    return values[0] if values else ""


@endpoint
def list_artifacts(state: UIState, request: Request) -> Any:
    from tracking.artifacts import clean_artifact_path, list_artifacts, resolve_in_run

    run_dir = _run_dir(state, request)
    path = clean_artifact_path(_path(request))
    files = list_artifacts(run_dir, path)
    if path and not files and not resolve_in_run(run_dir, path).is_dir():
        raise ApiError(404, f"artifact folder {path!r} does not exist")
    return {"path": path, "files": [
        {"path": f.path, "name": f.path.rsplit("/", 1)[-1], "is_dir": f.is_dir,
         "size": f.file_size, "preview": "folder" if f.is_dir else artifacts.preview_kind(f.path)}
        for f in files]}


@endpoint
def preview_artifact(state: UIState, request: Request) -> Any:
    return artifacts.preview(_run_dir(state, request), _path(request))


@endpoint
def download_artifact(state: UIState, request: Request) -> Any:
    handle, size, rel = artifacts.open_artifact(_run_dir(state, request), _path(request))
    media, headers = artifacts.download_headers(
        rel, inline=request.query_params.get("inline") == "1")
    headers["content-length"] = str(size)
    return StreamingResponse(artifacts.chunks(handle), media_type=media, headers=headers)


# -- compare and sweeps --------------------------------------------------------------------

@endpoint
def compare(state: UIState, request: Request) -> Any:
    ids = [i.strip() for raw in request.query_params.getlist("run_ids")
           for i in raw.split(",") if i.strip()]
    ids = list(dict.fromkeys(ids))
    if not 2 <= len(ids) <= MAX_COMPARE:
        raise ApiError(400, f"run_ids: give 2 to {MAX_COMPARE} run ids (got {len(ids)})")
    client = state.client()
    runs = [client.get_run(i) for i in ids]
    types = client.store.param_types(ids)
    param_keys = sorted({k for r in runs for k in r.data.params})
    metric_keys = sorted({k for r in runs for k in r.data.metrics})

    def differs(values: list[Any]) -> bool:
        seen = {json.dumps(plain(v)) for v in values}
        return len(seen) > 1

    params = [{"key": k,
               "differs": differs([r.data.params.get(k) for r in runs]),
               "numeric": all(types.get((r.info.run_id, k)) in ("int", "float")
                              for r in runs if k in r.data.params)}
              for k in param_keys]
    marks = ",".join("?" * len(ids))
    points = dict(state.db.rows(
        "SELECT key, MAX(n) FROM (SELECT run_id, key, COUNT(*) AS n FROM metrics "
        f"WHERE run_id IN ({marks}) GROUP BY run_id, key) GROUP BY key", ids))
    metrics = [{"key": k, "differs": differs([r.data.metrics.get(k) for r in runs]),
                "points": points.get(k, 0)} for k in metric_keys]
    return {
        "runs": [{"run_id": r.info.run_id, "run_name": r.info.run_name,
                  "status": r.info.status.value, "experiment_id": r.info.experiment_id,
                  "start_time": r.info.start_time, "end_time": r.info.end_time,
                  "params": dict(r.data.params), "metrics": dict(r.data.metrics),
                  "tags": {k: v for k, v in r.data.tags.items() if _tag_group(k) == "user"}}
                 for r in runs],
        "params": params, "metrics": metrics,
    }


def sweep_status_data(state: UIState, sweep_id: str) -> dict[str, Any]:
    client = state.client()
    run = client.get_run(sweep_id)
    if not records.is_sweep(run):
        raise ApiError(404, f"run {sweep_id} is not a sweep")
    progress = queries.sweep_progress(state.db, run.info.run_id)
    best = None
    goals = records.metric_goals(run)
    if goals:
        metric, goal = goals[0]
        found = queries.best_child(state.db, run.info.run_id, metric, goal == "maximize")
        if found is not None:
            numbers = queries.trial_numbers(state.db, [found[0]])
            best = {"run_id": found[0], "trial": numbers.get(found[0]), "metric": metric,
                    "goal": goal, "value": found[1]}
    status = run.info.status.value
    version = hashlib.sha256(f"{status}|{progress['fingerprint']}".encode()).hexdigest()[:16]
    counts = progress["counts"]
    return {"run_id": run.info.run_id, "run_name": run.info.run_name,
            "experiment_id": run.info.experiment_id,
            "experiment_name": client.get_experiment(run.info.experiment_id).name,
            "status": status,
            "counts": counts, "total": sum(counts.values()),
            "budget": run.data.tags.get(records.BUDGET) or None,
            "metrics": [{"name": m, "goal": g} for m, g in goals],
            "best": best, "start_time": run.info.start_time, "end_time": run.info.end_time,
            "last_update": progress["last_update"], "version": version}


@endpoint
def sweep_status(state: UIState, request: Request) -> Any:
    return sweep_status_data(state, request.path_params["run_id"])


# -- edits ---------------------------------------------------------------------------------

async def patch_run(request: Request) -> Response:
    """PATCH /api/runs/{id}: the only write; needs --allow-edits and a JSON object body."""
    state: UIState = request.app.state.ui
    if not state.allow_edits:
        return JSONResponse({"error": "editing is off; start the UI with --allow-edits"},
                            status_code=405, headers={"allow": "GET"})
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return error(413, f"request body larger than {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return error(413, f"request body larger than {MAX_BODY} bytes")
    try:
        change = json.loads(body)
    except ValueError:
        return error(400, "body: not valid JSON")
    if not isinstance(change, dict) or not change or set(change) - {"note", "tags"}:
        return error(400, 'body: expected {"note": "..."} and/or {"tags": {"key": "value"}}')
    note = change.get("note")
    tags = change.get("tags", {})
    if "note" in change and not isinstance(note, str):
        return error(400, "note: must be a string")
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        return error(400, "tags: must be an object of string values")
    for key in tags:
        if key.startswith(RESERVED_TAG_PREFIXES):
            return error(400, f"tag {key[:60]!r}: tags starting with "
                         f"{', '.join(RESERVED_TAG_PREFIXES)} are written by sweepbook only")

    def apply() -> Response:
        try:
            writer = state.writer()
            run_id = writer.get_run(request.path_params["run_id"]).info.run_id
            if "note" in change:
                writer.set_note(run_id, note)
            for key, value in tags.items():
                writer.set_tag(run_id, key, value)
            writer.flush()
        except NotFoundError as e:
            return error(404, str(e))
        except InvalidInputError as e:
            return error(400, str(e))
        except StoreError as e:
            return error(503, str(e))
        return JSONResponse({"ok": True, "run_id": run_id})

    from starlette.concurrency import run_in_threadpool
    return await run_in_threadpool(apply)
