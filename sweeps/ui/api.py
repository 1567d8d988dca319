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
| `GET /api/sweeps/{id}/advice`            | boundary warnings, a narrowed `space:`, re-check     |
| `GET /api/models`                        | registered models: latest version, aliases           |
| `GET /api/models/{name}`                 | a model, its versions (run, lineage), alias history  |
| `PATCH /api/runs/{id}`                   | set a note or tags (only with `--allow-edits`)       |

Details:
- `.../runs` takes `filter` (the `search_runs` grammar), `order_by` (repeatable, e.g.
  ``metrics.`loss` DESC``), `page` (1-based), `page_size` (<= 500, default 50), `children`
  (per group, <= 200, default 20) and `columns` (repeatable, e.g. `params.lr`; `-` for none;
  default every metric and param of the runs on the page). Pages count top-level runs, so a
  sweep and its trials are never split. It returns `{total_groups, pages, rows,
  shown_columns}`: each row has `values` ("params.x", "metrics.y", "tags.z"), `child_count`,
  `child_matching`, `children` (the first matching ones) and `matched` (false when listed only
  for a matching child). `flat=1` lists every matching run as its own row instead (every
  trial of every sweep, ordered and paged by `order_by` as one list; no `children`), each
  row naming its `parent` (`{run_id, run_name, is_sweep}` or null); `total_groups` then
  counts runs. `stats=1` adds each row's `ranges` (`{"metrics.k": [min, max]}` of its shown
  metrics, NaN left out) and `step_metrics`, the shown metrics logged at more than one step
  by a run of the page (one aggregate read of the store for the page).
- `.../columns` takes `filter` and returns `{matching_runs, params, metrics, tags}`, each a list
  of `{key, present, varies}`: `varies` is true when the key has more than one value among the
  matching runs (for "only columns that vary"). It scans every matching run, so the page asks
  for it after the table is drawn.
- `.../children` takes the same `filter`, `order_by`, `page`, `page_size`, `columns`, `stats`.
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
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sweeps import records
from sweeps.report.markdown import render_markdown
from sweeps.ui import artifacts
from sweeps.ui.state import NoStore, UIState
from tracking import (
    ArtifactPathError,
    Client,
    FilterSyntaxError,
    InvalidInputError,
    ModelVersion,
    NotFoundError,
    Run,
    StoreError,
)

MAX_PAGE_SIZE = 500
MAX_CHILDREN = 200
MAX_COMPARE = 100
MAX_POINTS = 5000
MAX_BODY = 1 << 20
MAX_CELL_CHARS = 200
RESERVED_TAG_PREFIXES = ("sys.", *records.RESERVED_PREFIXES)


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


def _filter(request: Request) -> tuple[str, list[str]]:
    """(filter, order_by) as asked; the store parses them (FilterSyntaxError: a 400)."""
    order = [o for o in request.query_params.getlist("order_by") if o.strip()]
    return request.query_params.get("filter", ""), order


def _key(kind: str, key: str) -> str:
    """`kind.key` in the filter grammar, the key back-quoted."""
    return f"{kind}.`" + key.replace("\\", "\\\\").replace("`", "``") + "`"


SWEEPS_FILTER = _key("tags", records.ROLE) + f" = '{records.SWEEP}'"


def _asked_columns(request: Request) -> list[str] | None:
    """The `columns` asked for; None for the default (every metric and param on the page)."""
    asked = [c for c in request.query_params.getlist("columns") if c]
    if not asked:
        return None
    return [] if asked == ["-"] else asked[:200]


def _keys(shown: list[str], kind: str) -> list[str]:
    prefix = kind + "."
    return [c[len(prefix):] for c in shown if c.startswith(prefix)]


def _cell(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def _row(run: Run, shown: list[str]) -> dict[str, Any]:
    """A table row: the run's attributes and its values of the `shown` columns."""
    info, data = run.info, run.data
    values: dict[str, Any] = {f"metrics.{k}": v for k, v in data.metrics.items()}
    values.update({f"params.{k}": _cell(v) for k, v in data.params.items()})
    values.update({f"tags.{k}": _cell(v) for k, v in data.tags.items()})
    return {"run_id": info.run_id, "experiment_id": info.experiment_id,
            "run_name": info.run_name, "parent_run_id": info.parent_run_id,
            "status": info.status.value, "start_time": info.start_time,
            "end_time": info.end_time,
            "values": {c: values[c] for c in shown if c in values},
            "is_sweep": data.tags.get(records.ROLE) == records.SWEEP,
            "trial_number": data.tags.get(records.NUMBER)}


COLUMNS_MAX_AGE = 5.0
COLUMNS_IDLE_MAX_AGE = 60.0
"""While runs of the experiment run, the column list (a scan of every matching run's keys) is
recomputed at most every 5 s; while none runs, it is kept until a run starts or ends (or a
minute passes, for tags set by other programs); an edit here clears it."""


def _columns(state: UIState, experiment: dict[str, Any], filter_text: str) -> dict[str, Any]:
    cache = state.columns_cache
    key = (experiment["experiment_id"], filter_text)
    version = (experiment["run_count"], experiment["running_count"],
               experiment["last_activity"])
    found = cache.get(key)
    now = time.monotonic()
    if found is not None and (now - found[1] < COLUMNS_MAX_AGE or (
            found[0] == version and not experiment["running_count"]
            and now - found[1] < COLUMNS_IDLE_MAX_AGE)):
        return found[2]
    keys = state.client().search_run_keys(experiment["experiment_id"], filter_text)
    columns = {"matching_runs": keys.matching_runs, **{
        kind: [{"key": k.key, "varies": k.varies, "present": k.present} for k in stats]
        for kind, stats in (("params", keys.params), ("metrics", keys.metrics),
                            ("tags", keys.tags))}}
    if len(cache) > 64:
        cache.clear()
    cache[key] = (version, now, columns)
    return columns


def _summaries(client: Client, ids: list[str], shown: list[str] | None) -> dict[str, Run]:
    """run id -> the run with the values of the `shown` columns (None: every param and
    metric) and the tags a row needs."""
    tags = [records.ROLE, records.NUMBER, *_keys(shown or [], "tags")]
    runs = client.run_summaries(
        ids, params=None if shown is None else _keys(shown, "params"),
        metrics=None if shown is None else _keys(shown, "metrics"), tags=tags)
    return {run.info.run_id: run for run in runs}


EXPERIMENTS_MAX_AGE = 1.0
"""The experiment counts (a scan of every run) are shared by the requests of one second: a
page asks for them with its table and its column list."""


def _experiments(state: UIState) -> list[dict[str, Any]]:
    """Every experiment with its run counts and last activity (ms), by id."""
    found = state.experiments_cache
    now = time.monotonic()
    if found is not None and now - found[0] < EXPERIMENTS_MAX_AGE:
        return found[1]
    client = state.client()
    stats = client.experiment_stats(SWEEPS_FILTER)
    out = []
    for experiment in client.search_experiments():
        found = stats.get(experiment.experiment_id)
        last = found.last_activity if found else None
        out.append({"experiment_id": experiment.experiment_id, "name": experiment.name,
                    "creation_time": experiment.creation_time,
                    "run_count": found.run_count if found else 0,
                    "top_level_count": found.top_level_count if found else 0,
                    "sweep_count": found.matching_count if found else 0,
                    "running_count": found.status_counts.get("RUNNING", 0) if found else 0,
                    "last_activity": last or experiment.creation_time})
    state.experiments_cache = (now, out)
    return out


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
    try:
        return {"experiments": _experiments(state), "root": state.shown_root()}
    except NoStore:  # no store yet: nothing to list
        return {"experiments": [], "root": state.shown_root()}


def _experiment(state: UIState, request: Request) -> dict[str, Any]:
    experiment_id = str(_experiment_id(request.path_params["experiment_id"]))
    for found in _experiments(state):
        if found["experiment_id"] == experiment_id:
            return found
    raise ApiError(404, f"experiment {experiment_id} not found")


@endpoint
def get_experiment(state: UIState, request: Request) -> Any:
    return _experiment(state, request)


@endpoint
def experiment_columns(state: UIState, request: Request) -> Any:
    found = _experiment(state, request)
    filter_text, _ = _filter(request)
    return _columns(state, found, filter_text)


@endpoint
def experiment_runs(state: UIState, request: Request) -> Any:
    found = _experiment(state, request)
    filter_text, order_by = _filter(request)
    page = _int(request, "page", 1, 1, 10**9)
    page_size = _int(request, "page_size", 50, 1, MAX_PAGE_SIZE)
    per_group = _int(request, "children", 20, 0, MAX_CHILDREN)
    flat = _int(request, "flat", 0, 0, 1) == 1
    client = state.client()
    offset = (page - 1) * page_size
    if flat:  # every run, one list: the store orders and pages them all
        listed = client.search_run_ids([found["experiment_id"]], filter_text, order_by,
                                       offset=offset, max_results=page_size)
        total, groups, ids = listed.total, (), list(listed.run_ids)
    else:
        found_groups = client.search_run_groups(found["experiment_id"], filter_text, order_by,
                                                offset=offset, max_results=page_size,
                                                children=per_group)
        total, groups = found_groups.total, found_groups.groups
        ids = [i for g in groups for i in (g.run_id, *g.children)]
    shown = _asked_columns(request)
    summaries = _summaries(client, ids, shown)
    if shown is None:  # every metric, then every param, of the runs on the page
        metrics = sorted({k for r in summaries.values() for k in r.data.metrics})
        params = sorted({k for r in summaries.values() for k in r.data.params})
        shown = ([f"metrics.{k}" for k in metrics] + [f"params.{k}" for k in params])[:60]
    rows = _flat_rows(client, ids, summaries, shown) if flat else []
    for group in groups:
        if group.run_id not in summaries:  # deleted between the two reads
            continue
        row = _row(summaries[group.run_id], shown)
        row["child_count"], row["child_matching"] = group.child_count, group.child_matching
        row["children"] = [_row(summaries[c], shown) for c in group.children if c in summaries]
        row["matched"] = group.matched
        rows.append(row)
    ranges = _add_ranges(client, rows, shown) if _int(request, "stats", 0, 0, 1) else {}
    return {
        "experiment": found, "filter": filter_text,
        "order_by": request.query_params.getlist("order_by"), "page": page,
        "page_size": page_size, "flat": flat, "total_groups": total,
        "pages": max(1, -(-total // page_size)), "shown_columns": shown, "rows": rows,
        **ranges,
    }


def _flat_rows(client: Client, ids: list[str], summaries: dict[str, Run],
               shown: list[str]) -> list[dict[str, Any]]:
    """The rows of `ids` in order, each naming its parent run (one read for all parents)."""
    rows = [_row(summaries[i], shown) for i in ids if i in summaries]
    parent_ids = sorted({r["parent_run_id"] for r in rows if r["parent_run_id"]})
    parents = {p.info.run_id: {"run_id": p.info.run_id, "run_name": p.info.run_name,
                               "is_sweep": records.is_sweep(p)}
               for p in client.run_summaries(parent_ids, params=[], metrics=[],
                                             tags=[records.ROLE])}
    for row in rows:
        row["parent"] = parents.get(row["parent_run_id"] or "")
    return rows


def _add_ranges(client: Client, rows: list[dict[str, Any]],
                shown: list[str]) -> dict[str, Any]:
    """Give each row (and its children) `ranges`, {"metrics.k": [min, max]} of its shown
    metrics (NaN left out; all NaN: NaN; one point: its value twice), from one
    `metric_stats` read. Returns `{step_metrics}`: the shown metrics logged at several
    steps."""
    every = [r for row in rows for r in (row, *row.get("children", ()))]
    keys = set(_keys(shown, "metrics"))
    ranges: dict[str, dict[str, list[float]]] = {}
    stepped: set[str] = set()
    for (rid, key), stats in client.metric_stats([r["run_id"] for r in every]).items():
        if key in keys:
            ranges.setdefault(rid, {})[f"metrics.{key}"] = [stats.min_value, stats.max_value]
            if stats.points > 1:
                stepped.add(key)
    for row in every:
        found = ranges.get(row["run_id"], {})
        row["ranges"] = {c: found.get(c, [v, v]) for c, v in row["values"].items()
                         if c.startswith("metrics.")}
    return {"step_metrics": [c for c in shown if c.startswith("metrics.") and c[8:] in stepped]}


@endpoint
def run_children(state: UIState, request: Request) -> Any:
    client = state.client()
    run = client.get_run(request.path_params["run_id"])
    filter_text, order_by = _filter(request)
    page = _int(request, "page", 1, 1, 10**9)
    page_size = _int(request, "page_size", 50, 1, MAX_PAGE_SIZE)
    shown = [c for c in request.query_params.getlist("columns") if c and c != "-"][:200]
    found = client.search_run_ids([run.info.experiment_id], filter_text, order_by,
                                  parent_run_id=run.info.run_id,
                                  offset=(page - 1) * page_size, max_results=page_size)
    summaries = _summaries(client, list(found.run_ids), shown)
    rows = [_row(summaries[i], shown) for i in found.run_ids if i in summaries]
    ranges = _add_ranges(client, rows, shown) if _int(request, "stats", 0, 0, 1) else {}
    return {"total": found.total, "page": page, "page_size": page_size,
            "pages": max(1, -(-found.total // page_size)), "rows": rows, **ranges}


def _tag_group(key: str) -> str:
    if key.startswith(("sys.git.", "sys.entry_point", "sys.argv")):
        return "source"
    if key.startswith("sys."):
        return "environment"
    if key.startswith(records.RESERVED_PREFIXES):
        return "sweep"
    return "user"


@endpoint
def get_run(state: UIState, request: Request) -> Any:
    client = state.client()
    run = client.get_run(request.path_params["run_id"])
    info, data = run.info, run.data
    rid = info.run_id
    types = {k: t for (_, k), t in client.param_types([rid]).items()}
    metric_stats = sorted((k, s) for (_, k), s in client.metric_stats([rid]).items())
    children = client.search_run_ids([info.experiment_id], parent_run_id=rid, max_results=0)
    parent = None
    if info.parent_run_id:
        found = client.run_summaries([info.parent_run_id], params=[], metrics=[], tags=[])
        parent = ({"run_id": found[0].info.run_id, "run_name": found[0].info.run_name}
                  if found else None)
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
        "metric_keys": [{"key": k, "points": s.points, "min_step": s.min_step,
                         "max_step": s.max_step} for k, s in metric_stats],
        "tags": dict(data.tags), "tag_groups": groups, "note": data.note,
        "note_html": render_markdown(data.note) if data.note else "",
        "parent": parent, "child_count": children.total,
        "is_sweep": records.is_sweep(run), "is_trial": data.tags.get(records.ROLE) == records.TRIAL,
        "failure": _failure(run), "allow_edits": state.allow_edits,
        "model_versions": [_version(v) for v in client.search_model_versions(
            f"run_id = '{_quoted(rid)}'")],
    }


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _version(version: ModelVersion) -> dict[str, Any]:
    return {"name": version.name, "version": version.version, "aliases": list(version.aliases),
            "run_id": version.run_id, "source": version.source,
            "created": version.creation_timestamp, "description": version.description,
            "tags": version.tags}


@endpoint
def list_models(state: UIState, request: Request) -> Any:
    try:
        models = state.client().search_registered_models()
    except NoStore:
        models = []
    return {"models": [{"name": m.name, "description": m.description,
                        "latest_version": m.latest_version, "aliases": m.aliases,
                        "last_updated": m.last_updated_timestamp, "tags": m.tags}
                       for m in models]}


@endpoint
def get_model(state: UIState, request: Request) -> Any:
    client = state.client()
    model = client.get_registered_model(request.path_params["name"])
    versions = client.search_model_versions(f"name = '{_quoted(model.name)}'")
    return {"name": model.name, "description": model.description, "tags": model.tags,
            "aliases": model.aliases, "versions": [_version(v) for v in versions],
            "history": [{"alias": h.alias, "from_version": h.from_version,
                         "to_version": h.to_version, "time": h.timestamp, "user": h.user,
                         "reason": h.reason} for h in client.get_alias_history(model.name)]}


def _failure(run: Run) -> dict[str, Any] | None:
    """A failed trial's error message and the artifact path of its traceback (None if absent)."""
    error = run.data.tags.get(records.ERROR)
    if not error:
        return None
    from tracking.host import list_artifacts

    folder = records.TRACEBACK_ARTIFACT.rpartition("/")[0]
    try:
        files = list_artifacts(Path(run.info.artifact_uri), folder)
    except (ArtifactPathError, InvalidInputError):  # a planted link: no traceback shown
        files = []
    saved = any(f.path == records.TRACEBACK_ARTIFACT for f in files)
    return {"error": error, "traceback": records.TRACEBACK_ARTIFACT if saved else None}


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

def _run_dir(state: UIState, request: Request) -> Path:
    """The run's artifact folder, as the store names it (never built from the request)."""
    return Path(state.client().get_run(request.path_params["run_id"]).info.artifact_uri)


def _path(request: Request) -> str:
    values = request.query_params.getlist("path")
    if len(values) > 1:
        raise ApiError(400, "path: give it once")
    return values[0] if values else ""


@endpoint
def list_artifacts(state: UIState, request: Request) -> Any:
    from tracking.host import clean_artifact_path, list_artifacts, resolve_in_run

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
    types = client.param_types(ids)
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
    points: dict[str, int] = {}
    for (_, key), stats in client.metric_stats(ids).items():
        points[key] = max(points.get(key, 0), stats.points)
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
    sweep = records.SweepRecord.from_run(run)
    progress = client.child_stats(run.info.run_id)
    best = None
    goals = sweep.goals
    if goals:
        metric, goal = goals[0]
        best = _best_trial(client, run, metric, goal)
    status = run.info.status.value
    counts = dict(progress.status_counts)
    for role in (records.RECHECK, records.REPRODUCTION):  # re-runs of trials: not trials
        for rerun in records.load_reruns(client, run, role):
            counts[rerun.status.value] = counts.get(rerun.status.value, 0) - 1
    counts = {k: v for k, v in counts.items() if v > 0}
    fingerprint = (status, sorted(counts.items()), progress.last_start, progress.last_end,
                   progress.metric_points, progress.last_metric_timestamp, progress.tag_count)
    version = hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:16]
    last = max((t for t in (progress.last_start, progress.last_end,
                            progress.last_metric_timestamp) if t is not None), default=None)
    return {"run_id": run.info.run_id, "run_name": run.info.run_name,
            "experiment_id": run.info.experiment_id,
            "experiment_name": client.get_experiment(run.info.experiment_id).name,
            "status": status,
            "counts": counts, "total": sum(counts.values()),
            "budget": sweep.budget_trials,
            "metrics": [{"name": m, "goal": g} for m, g in goals],
            "best": best, "start_time": run.info.start_time, "end_time": run.info.end_time,
            "last_update": last, "version": version}


def _best_trial(client: Client, sweep: Run, metric: str, goal: str) -> dict[str, Any] | None:
    """The finished trial with the best latest value of `metric` (NaN and missing: none)."""
    direction = "DESC" if goal == "maximize" else "ASC"
    found = client.search_run_ids([sweep.info.experiment_id],
                                  f"attributes.status = 'FINISHED' and "
                                  f"{_key('tags', records.ROLE)} = '{records.TRIAL}'",
                                  [f"{_key('metrics', metric)} {direction}"],
                                  parent_run_id=sweep.info.run_id, max_results=1)
    runs = client.run_summaries(found.run_ids, params=[], metrics=[metric],
                                tags=[records.NUMBER])
    value = runs[0].data.metrics.get(metric) if runs else None
    if value is None or math.isnan(value):
        return None
    return {"run_id": runs[0].info.run_id, "trial": runs[0].data.tags.get(records.NUMBER),
            "metric": metric, "goal": goal, "value": value}


@endpoint
def sweep_status(state: UIState, request: Request) -> Any:
    return sweep_status_data(state, request.path_params["run_id"])


@endpoint
def sweep_advice(state: UIState, request: Request) -> Any:
    """`{warnings: [sentence], space: YAML, recheck}`: what the report's "what to try next"
    and "Re-check" sections say (`recheck`: `Verdict.to_json()`, or null without re-checks)."""
    from sweeps.advice import boundary_warnings, space_yaml, suggest_space
    from sweeps.report.data import load_sweep
    from sweeps.verdict import sweep_verdict
    client = state.client()
    run = client.get_run(request.path_params["run_id"])
    if not records.is_sweep(run):
        raise ApiError(404, f"run {run.info.run_id} is not a sweep")
    data = load_sweep(client, run.info.run_id)
    return {"warnings": [w.message for w in boundary_warnings(data)],
            "space": space_yaml(suggest_space(data)) if data.distributions else "",
            "recheck": None if (verdict := sweep_verdict(data)) is None else verdict.to_json()}


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
            state.columns_cache.clear()
        except NotFoundError as e:
            return error(404, str(e))
        except InvalidInputError as e:
            return error(400, str(e))
        except StoreError as e:
            return error(503, str(e))
        return JSONResponse({"ok": True, "run_id": run_id})

    from starlette.concurrency import run_in_threadpool
    return await run_in_threadpool(apply)
