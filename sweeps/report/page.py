"""Assembling the report page: sections as escaped HTML, data as escaped JSON, one CSP.

Rules that keep user text inert (every name, value, tag, note, error and file name came
from someone's objective or config):
- text goes into HTML only through `esc` (html.escape, quotes included);
- data goes into `<script type="application/json">` blocks through `script_json`, which
  escapes `<`, `>`, `&`, U+2028 and U+2029, so `</script>` and `<!--` cannot end the block;
- the browser side renders table cells with `textContent`, never `innerHTML`;
- notes are Markdown rendered without raw HTML or unsafe links (`markdown.py`);
- artifact links are percent-encoded relative paths; images are inlined as `data:` URIs;
- a Content-Security-Policy allows only this page's own two scripts (by hash), no network.
  ('unsafe-eval' is there because plotly's WebGL traces compile their draw calls at run
  time; no user data reaches an eval.)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sweeps import records
from sweeps.advice import boundary_warnings
from sweeps.failures import group_failures
from sweeps.report.data import ArtifactFile, Summary, SweepData, failed_attempts
from sweeps.report.figures import STATUS_COLORS, Figure
from sweeps.report.study import plot_text
from sweeps.verdict import RESAMPLES, TABLE_HEAD, Verdict, sweep_verdict
from tracking import ModelVersion

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml"}
MAX_INLINE_IMAGE_BYTES = 2 * 1024 * 1024
MAX_INLINE_IMAGES = 6
MAX_FAILURES = 100
MAX_ARTIFACT_RUNS = 300
MAX_TRACEBACK_CHARS = 20_000
MAX_CELL_CHARS = 300
MAX_PARETO_ROWS = 50


def esc(value: Any) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.7g}")
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element (see the module docstring)."""
    return _script_text(_plain(value))


def _script_text(value: Any) -> str:
    """`script_json` of a value that already holds only JSON values (floats rounded, none of
    them NaN or infinite), as the runs table's cells are."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(scripts: Sequence[str]) -> str:
    hashes = " ".join(csp_hash(s) for s in scripts)
    return (f"default-src 'none'; script-src {hashes} 'unsafe-eval'; "
            "style-src 'unsafe-inline'; img-src data:; font-src 'none'; connect-src 'none'; "
            "object-src 'none'; frame-src 'none'; worker-src 'none'; base-uri 'none'; "
            "form-action 'none'")


def artifact_href(file: Path, report_dir: Path) -> str:
    """A percent-encoded path to `file`, relative to the report's folder."""
    relative = os.path.relpath(os.path.abspath(file), os.path.abspath(report_dir))
    parts = relative.split(os.sep)
    href = "/".join(urllib.parse.quote(p, safe="") for p in parts)
    return href if href.startswith(("../", ".")) else "./" + href


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {sec:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


@dataclass
class SweepView:
    """Everything the page shows of one sweep, computed before any HTML is written."""

    index: int
    data: SweepData
    summary: Summary
    best: list[int]
    figures: list[Figure]
    artifacts: dict[str, list[ArtifactFile]]
    models: dict[str, list[ModelVersion]] = field(default_factory=dict)
    """run id -> the registered model versions made from that run (best trials only)."""

    @property
    def prefix(self) -> str:
        return f"s{self.index}"

    def trial_anchor(self, number: int) -> str:
        return f"{self.prefix}-trial-{number}"

    @functools.cached_property
    def verdict(self) -> Verdict | None:
        """What the sweep's re-checks say (`sweeps recheck`), or None without any."""
        return sweep_verdict(self.data)


# -- sections -------------------------------------------------------------------------------


def _kv_table(rows: Sequence[tuple[str, str]], head: Sequence[str] = ()) -> str:
    out = ['<table class="kv">']
    if head:
        out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead>")
    out.append("<tbody>")
    for key, cells in rows:
        out.append(f"<tr><th>{esc(key)}</th>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _td(text: Any, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{esc(text)}</td>"


def summary_rows(view: SweepView) -> list[tuple[str, str]]:
    data, summary, tags = view.data, view.summary, view.data.tags
    counts = ", ".join(f"{n} {s.lower()}" for s, n in summary.counts.items() if n)
    status = data.status + (f" ({summary.stop_reason})" if summary.stop_reason else "")
    goals = ", ".join(f"{m} ({g})" for m, g in data.goals)
    best = ""
    if view.best:
        row = data.final[data.final["number"] == view.best[0]].iloc[0]
        values = ", ".join(f"{m} = {_fmt(row[f'metrics.{m}'])}" for m, _ in data.goals)
        best = f"trial {view.best[0]}: {values}" if not data.multi_objective else \
            f"{len(view.best)} trials in the Pareto set"
    sweep = data.record
    workers = sweep.workers
    if summary.workers_seen:
        workers += f" configured, {summary.workers_seen} seen"
    parallelism = "" if summary.parallelism is None else f"{summary.parallelism:.2f}×"
    overhead = "" if summary.overhead_share is None else \
        f"{summary.overhead_share:.1%} of worker time (coordinator and dispatch)"
    if summary.mean_queue_wait_s is not None:
        overhead += f"; mean queue wait {summary.mean_queue_wait_s:.3f} s"
    commit = tags.get("sys.git.commit", "")
    code = " ".join(x for x in (
        commit[:12], f"on {tags['sys.git.branch']}" if tags.get("sys.git.branch") else "",
        "(uncommitted changes)" if tags.get("sys.git.dirty") == "True" else "") if x)
    env = ", ".join(f"{k[len('sys.'):]} {v}" for k, v in sorted(tags.items())
                    if k.startswith("sys.") and k not in (
                        "sys.git.commit", "sys.git.branch", "sys.git.dirty", "sys.argv",
                        "sys.entry_point"))
    rows = [
        ("Sweep", data.label), ("Sweep run id", data.run_id), ("Status", status),
        ("Objective", sweep.objective), ("Goal", goals),
        ("Sampler", sweep.sampler), ("Pruner", sweep.pruner), ("Backend", sweep.backend),
        ("Trials", f"{summary.trials} ({counts})" if counts else str(summary.trials)),
        ("Attempts", str(summary.attempts)), ("Best", best),
        ("Wall time", _duration(summary.wall_s)),
        ("Trial time (sum)", _duration(summary.trial_s)),
        ("Workers", workers), ("Measured parallelism", parallelism),
        ("Overhead share", overhead), ("Code version", code),
        ("Entry point", tags.get("sys.entry_point", "")),
        ("Command line", tags.get("sys.argv", "")), ("Environment", env),
    ]
    return [(k, v) for k, v in rows]


def summary_section(views: Sequence[SweepView]) -> str:
    per_view = [dict(summary_rows(v)) for v in views]
    keys = list(per_view[0])
    rows = [(k, "".join(_td(p.get(k, ""), "wrap" if k in ("Environment", "Command line") else "")
                        for p in per_view)) for k in keys]
    head = ["", *[v.data.label for v in views]] if len(views) > 1 else ()
    out = []
    for view in views:
        warnings = [w.message for w in boundary_warnings(view.data)]
        if warnings:
            who = f" ({view.data.label})" if len(views) > 1 else ""
            out.append(f"<h3>What to try next{esc(who)}</h3>" + _warnings_html(warnings)
                       + '<p class="caption">The best trials sit at the edge of the searched '
                       "range: the optimum may lie outside it. <code>sweeps suggest "
                       f"{esc(view.data.run_id[:8])}</code> prints a narrowed space.</p>")
    out.append(_kv_table(rows, head))
    for view in views:
        who = f" of {view.data.label}" if len(views) > 1 else ""
        if view.data.note:
            out.append(f'<div class="note"><h3>Note{esc(who)}</h3>'
                       f"{_note_html(view.data.note)}</div>")
        config = json.dumps(view.data.config, indent=2, default=str) if view.data.config \
            else f"(no {records.CONFIG_ARTIFACT} artifact was found)"
        out.append(f"<details><summary>Config as run{esc(who)}</summary>"
                   f"<pre>{esc(config)}</pre></details>")
    return _section("summary", "1. Summary", "".join(out))


def _note_html(text: str) -> str:
    """A note (Markdown) as safe HTML; markdown-it is imported only for a page with a note."""
    from sweeps.report.markdown import render_markdown

    return render_markdown(text)


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{esc(key)}"><h2>{esc(title)}</h2>{body}</section>'


def _trial_link(view: SweepView, number: int) -> str:
    return (f'<a class="trial-link" href="#{esc(view.trial_anchor(number))}">'
            f"trial {esc(number)}</a>")


def _best_card(view: SweepView, number: int, report_dir: Path) -> str:
    data = view.data
    row = data.final[data.final["number"] == number].iloc[0]
    params = [(p, _td(_fmt(row[f"params.{p}"]))) for p in data.table_params
              if row.get(f"params.{p}") is not None
              and not (isinstance(row[f"params.{p}"], float) and math.isnan(row[f"params.{p}"]))]
    metrics = [(m, _td(_fmt(row[f"metrics.{m}"]))) for m in data.metric_names
               if f"metrics.{m}" in row and not _missing(row[f"metrics.{m}"])]
    out = [f'<div class="card"><h3>Best: {_trial_link(view, number)}'
           f'<span class="muted"> {esc(row["run_name"])}, {esc(_duration(row["duration_s"]))}'
           "</span></h3>", '<div class="cols">',
           f"<div><h4>Params</h4>{_kv_table(params)}</div>",
           f"<div><h4>Metrics</h4>{_kv_table(metrics)}</div></div>"]
    versions = view.models.get(row["run_id"], [])
    if versions:
        out.append("<h4>Registered</h4>" + _kv_table(
            [(f"{v.name} version {v.version}", _td(", ".join(f"@{a}" for a in v.aliases)))
             for v in versions], ("model", "aliases")))
    if row["note"]:
        out.append(f'<div class="note"><h4>Note</h4>{_note_html(row["note"])}</div>')
    images = [f for f in view.artifacts.get(row["run_id"], [])
              if Path(f.path).suffix.lower() in IMAGE_TYPES][:MAX_INLINE_IMAGES]
    for file in images:
        uri = _data_uri(file)
        if uri:
            out.append(f'<figure class="artifact"><img alt="{esc(file.path)}" src="{uri}">'
                       f'<figcaption><a href="{esc(artifact_href(file.local_path, report_dir))}">'
                       f"{esc(file.path)}</a></figcaption></figure>")
    out.append("</div>")
    return "".join(out)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _data_uri(file: ArtifactFile) -> str:
    if file.size is not None and file.size > MAX_INLINE_IMAGE_BYTES:
        return ""
    blob = file.read(MAX_INLINE_IMAGE_BYTES + 1)
    if not blob or len(blob) > MAX_INLINE_IMAGE_BYTES:
        return ""
    mime = IMAGE_TYPES[Path(file.path).suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(blob).decode('ascii')}"


def best_section(views: Sequence[SweepView], report_dir: Path) -> str:
    if len(views) > 1:
        return _section("best", "2. Best trials, side by side", _best_side_by_side(views))
    view = views[0]
    data = view.data
    if not view.best:
        return _section("best", "2. Best trial", '<p class="notice">No trial has completed.</p>')
    if not data.multi_objective:
        return _section("best", "2. Best trial", _best_card(view, view.best[0], report_dir))
    rows = data.final.set_index("number")
    head = ["trial", *[f"{m} ({g})" for m, g in data.goals], *data.params]
    body = []
    for number in view.best[:MAX_PARETO_ROWS]:
        row = rows.loc[number]
        cells = "".join(_td(_fmt(row[f"metrics.{m}"]), "num") for m, _ in data.goals)
        cells += "".join(_td(_fmt(row[f"params.{p}"])) for p in data.params)
        body.append(f"<tr><td>{_trial_link(view, number)}</td>{cells}</tr>")
    more = "" if len(view.best) <= MAX_PARETO_ROWS else \
        f"<p class='muted'>The first {MAX_PARETO_ROWS} of {len(view.best)} are listed.</p>"
    table = ('<div class="scroll"><table class="grid"><thead><tr>'
             + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
             + "".join(body) + "</tbody></table></div>")
    intro = (f"<p>{len(view.best)} trials are not dominated on "
             f"{esc(', '.join(m for m, _ in data.goals))} (the Pareto set).</p>")
    cards = "".join(_best_card(view, n, report_dir) for n in view.best[:3])
    return _section("best", "2. Best trials (Pareto set)", intro + table + more + cards)


def _best_side_by_side(views: Sequence[SweepView]) -> str:
    keys: list[tuple[str, str]] = [("", "trial")]
    for view in views:
        keys += [("metrics", m) for m in view.data.metric_names if ("metrics", m) not in keys]
    for view in views:
        keys += [("params", p) for p in view.data.params if ("params", p) not in keys]
    head = "<tr><th></th>" + "".join(f"<th>{esc(v.data.label)}</th>" for v in views) + "</tr>"
    body = []
    for group, key in keys:
        cells = []
        for view in views:
            if not view.best:
                cells.append("<td></td>")
                continue
            row = view.data.final[view.data.final["number"] == view.best[0]].iloc[0]
            if not group:
                cells.append(f"<td>{_trial_link(view, view.best[0])}</td>")
            else:
                column = f"{group}.{key}"
                cells.append(_td(_fmt(row[column]) if column in row else ""))
        label = key if not group else f"{group[:-1]} {key}"
        body.append(f"<tr><th>{esc(label)}</th>{''.join(cells)}</tr>")
    note = ("<p class='muted'>For a multi-objective sweep the first trial of its Pareto set "
            "is shown.</p>") if any(v.data.multi_objective for v in views) else ""
    return (f'<div class="scroll"><table class="grid"><thead>{head}</thead><tbody>'
            f"{''.join(body)}</tbody></table></div>{note}")


def recheck_figure(verdict: Verdict) -> Figure:
    """Each re-checked trial's finished repeats (a box with its points) and its original
    value (a cross)."""
    shown = [t for t in verdict.trials if t.n]
    color, cross = STATUS_COLORS["FINISHED"], STATUS_COLORS["FAILED"]
    traces: list[dict[str, Any]] = [
        {"type": "box", "name": f"trial {t.number}", "y": list(t.values), "boxpoints": "all",
         "pointpos": 0, "jitter": 0.3, "marker": {"color": color}, "line": {"color": color},
         "showlegend": False, "hoverinfo": "y+name"} for t in shown]
    traces.append({"type": "scatter", "mode": "markers", "name": "original",
                   "x": [f"trial {t.number}" for t in shown], "y": [t.original for t in shown],
                   "marker": {"symbol": "x", "size": 11, "color": cross},
                   "hoverinfo": "y+name"})
    layout = {"height": 320, "margin": {"t": 20, "l": 70, "r": 20, "b": 40},
              "yaxis": {"title": {"text": plot_text(verdict.metric)}},
              "legend": {"orientation": "h", "y": 1.08}}
    return Figure("recheck-box", "Repeats of each re-checked trial",
                  {"data": traces, "layout": layout},
                  "Each point is one finished repeat; the cross is the trial's original value.")


def recheck_section(view: SweepView, label: str = "") -> tuple[str, str]:
    """The "Re-check" section (mean ± sd and interval per re-checked trial, the verdict's
    sentence, a box of the repeats) and its figure's script; ('', '') when the sweep has no
    re-checks. `label` names the sweep when several are compared."""
    verdict = view.verdict
    if verdict is None:
        return "", ""
    rows = []
    for trial in verdict.trials:
        rows.append(f"<tr><td>{_trial_link(view, trial.number)}</td>"
                    + "".join(_td(c, "num") for c in trial.cells()[1:]) + "</tr>")
    table = ('<div class="scroll"><table class="grid recheck"><thead><tr>'
             + "".join(f"<th>{esc(h)}</th>" for h in TABLE_HEAD) + "</tr></thead><tbody>"
             + "".join(rows) + "</tbody></table></div>")
    caption = (f'<p class="caption">{esc(verdict.metric)} ({esc(verdict.goal)}) of each '
               "re-checked trial over its repeats with new seeds (<code>sweeps recheck</code>): "
               "sample sd, a Student-t 95 % interval of the mean, and how often the original "
               "winner is best when each trial's repeats are resampled "
               f"({RESAMPLES:,} bootstrap resamples).</p>")
    title = "2b. Re-check" + (f" ({label})" if label else "")
    figure, script = figure_html(recheck_figure(verdict), view.prefix)
    return _section(f"{view.prefix}-recheck", title, f'<p class="verdict">'
                    f"{esc(verdict.sentence)}</p>{table}{caption}{figure}"), script


def _warnings_html(messages: Sequence[str]) -> str:
    items = "".join(f"<li>{esc(m)}</li>" for m in messages)
    return f'<ul class="notice warnings">{items}</ul>'


def figure_html(figure: Figure, prefix: str) -> tuple[str, str]:
    """(HTML for the figure block, its JSON script block or '')."""
    key = f"{prefix}-{figure.key}"
    head = f"<h3>{esc(figure.title)}</h3>"
    caption = f'<p class="caption">{esc(figure.caption)}</p>' if figure.caption else ""
    if figure.warnings:
        head += _warnings_html(figure.warnings)
    if figure.figure is None:
        return (f'<div class="figure" id="{esc(key)}-figure">{head}'
                f'<p class="notice">{esc(figure.notice)}</p></div>', "")
    return (f'<div class="figure" id="{esc(key)}-figure">{head}'
            f'<div class="plot" data-figure="{esc(key)}-json"></div>{caption}</div>',
            f'<script type="application/json" id="{esc(key)}-json">'
            f"{script_json(figure.figure)}</script>")


# -- the runs table -------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(f"{value:.6g}")
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def _cells(series: Any) -> list[Any]:
    """`_cell` of each value of a column; a numpy column of ints or floats at once."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "O"
    if kind in "iu":
        return series.tolist()
    if kind == "f":
        return [None if v != v else ("inf" if v > 0 else "-inf") if math.isinf(v)
                else float(f"{v:.6g}") for v in series.tolist()]
    return [_cell(v) for v in series]


def table_data(view: SweepView) -> dict[str, Any]:
    """The runs table as columns + compact rows, rendered in the browser."""
    data = view.data
    trials = data.trials
    columns: list[dict[str, Any]] = []
    values: list[list[Any]] = []

    def add(label: str, series: Any, kind: str, group: str, varies: bool = True) -> None:
        columns.append({"label": label, "kind": kind, "group": group, "varies": varies})
        values.append(_cells(series))

    add("trial", trials["number"], "num", "info")
    if (trials["attempt"] > 1).any():
        add("attempt", trials["attempt"], "num", "info")
    add("status", trials["status"], "text", "info")
    add("duration_s", trials["duration_s"], "num", "info")
    add("worker", trials["worker"], "text", "info")
    for p in data.table_params:
        series = trials[f"params.{p}"]
        distinct = {repr(v) for v in series.tolist()}
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) or _missing(v)
                      for v in series.tolist())
        add(p, series, "num" if numeric else "text", "param", len(distinct) > 1)
    for m in data.metric_names:
        if m in data.stepped:  # logged at several steps: the last value, the lowest, highest
            add(f"{m} (last)", trials[f"metrics.{m}"], "num", "metric")
            add(f"{m} (min)", trials[f"min.{m}"], "num", "metric")
            add(f"{m} (max)", trials[f"max.{m}"], "num", "metric")
        else:
            add(m, trials[f"metrics.{m}"], "num", "metric")
    for t in data.user_tags:
        add(f"tag {t}", trials[f"tags.{t}"].fillna(""), "text", "tag")
    if trials["note"].astype(bool).any():
        add("note", trials["note"], "text", "info")
    if trials["error"].astype(bool).any():
        add("error", trials["error"], "text", "info")
    rows = [list(r) for r in zip(*values, strict=True)] if values and len(trials) else []
    return {"columns": columns, "rows": rows, "prefix": view.prefix,
            "anchors": [int(n) for n in trials["number"]],
            "final": [bool(f) for f in trials["final"]]}


def runs_section_html(view: SweepView, number: str) -> tuple[str, str]:
    key = f"{view.prefix}-runs"
    html_ = (f'<div class="runs" data-table="{esc(key)}-json"></div>'
             '<p class="caption">Click a column to sort; type to filter every column. Values '
             "are rounded to 6 significant digits.</p>")
    return (_section(key, f"{number}. Runs", html_),
            f'<script type="application/json" id="{esc(key)}-json">'
            f"{_script_text(table_data(view))}</script>")


# -- failures and artifacts -----------------------------------------------------------------


def _traceback(view: SweepView, run_id: str) -> str:
    for file in view.artifacts.get(run_id, []):
        if file.path == records.TRACEBACK_ARTIFACT:
            text = file.read(MAX_TRACEBACK_CHARS * 4).decode("utf-8", errors="replace")
            return text if len(text) <= MAX_TRACEBACK_CHARS else \
                "…\n" + text[-MAX_TRACEBACK_CHARS:]
    return ""


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={_fmt(value)}" for key, value in params.items())


def failures_section(view: SweepView, number: str) -> str:
    """Failed and killed attempts grouped by error pattern, each group with its trials' params
    and the traceback of its first attempt."""
    title = f"{number}. Failures"
    attempts = failed_attempts(view.data)
    if not attempts:
        return _section(f"{view.prefix}-failures", title,
                        '<p class="muted">No trial failed.</p>')
    groups = group_failures(attempts)
    out = [f"<p>{len(attempts)} attempts failed or were stopped, "
           f"{len(groups)} kind{'s' if len(groups) > 1 else ''} of error.</p>"]
    shown = 0
    for group in groups:
        pattern = (f'<p class="muted">pattern: <code>{esc(group.pattern)}</code></p>'
                   if group.pattern != group.example else "")
        out.append(f'<div class="failure"><h4>{esc(group.title)}</h4>'
                   f"<pre class='error'>{esc(group.example)}</pre>{pattern}")
        rows = [f"<tr><td>{_trial_link(view, a.number)}"
                f"{esc(f', attempt {a.attempt}' if a.attempt > 1 else '')}</td>"
                f"{_td(_params_text(a.params))}</tr>"
                for a in group.attempts[:MAX_FAILURES - shown]]
        shown += len(rows)
        out.append('<table class="kv"><thead><tr><th>trial</th><th>params</th></tr></thead>'
                   f"<tbody>{''.join(rows)}</tbody></table>")
        traceback = _traceback(view, group.attempts[0].run_id)
        if traceback:
            out.append(f"<details><summary>Traceback of trial {esc(group.attempts[0].number)}"
                       f"</summary><pre>{esc(traceback)}</pre></details>")
        out.append("</div>")
        if shown >= MAX_FAILURES:
            break
    if shown < len(attempts):
        out.append(f"<p class='muted'>The first {shown} of {len(attempts)} are shown; "
                   "the runs table lists every error.</p>")
    return _section(f"{view.prefix}-failures", title, "".join(out))


def artifacts_section(view: SweepView, number: str, report_dir: Path) -> str:
    trials = view.data.trials.set_index("run_id")
    title = f"{number}. Artifacts"
    listed = [(run_id, files) for run_id, files in view.artifacts.items() if run_id in trials.index]
    if not listed:
        return _section(f"{view.prefix}-artifacts", title,
                        '<p class="muted">No trial logged artifacts.</p>')
    listed.sort(key=lambda item: (int(trials.loc[item[0], "number"]),
                                  int(trials.loc[item[0], "attempt"])))
    rows = []
    for run_id, files in listed[:MAX_ARTIFACT_RUNS]:
        row = trials.loc[run_id]
        links = " ".join(f'<a href="{esc(artifact_href(f.local_path, report_dir))}">'
                         f"{esc(f.path)}</a>" for f in files)
        attempt = f" (attempt {row['attempt']})" if row["attempt"] > 1 else ""
        rows.append(f"<tr><td>{_trial_link(view, int(row['number']))}{esc(attempt)}</td>"
                    f'<td class="files">{links}</td></tr>')
    more = "" if len(listed) <= MAX_ARTIFACT_RUNS else \
        f"<p class='muted'>The first {MAX_ARTIFACT_RUNS} of {len(listed)} trials are listed.</p>"
    body = ("<p class='caption'>Links are relative to this report's folder; they work while "
            "the report stays beside the tracking folder. Images of the best trials are shown "
            "in section 2.</p><table class='grid'><thead><tr><th>trial</th><th>files</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>{more}")
    return _section(f"{view.prefix}-artifacts", title, body)
