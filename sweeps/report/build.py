"""From sweep run ids to one self-contained HTML file.

    path = write_sweep_report(client, sweep_run_id)  # reports/quickstart/<name>-<id>.html
    path = write_report(client, resolve_sweeps(client, ["exp-a", "exp-b"]), "compare.html")
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweeps import records
from sweeps.report import compare, page
from sweeps.report import data as sd
from sweeps.report import figures as sf
from sweeps.report.assets import APP, STYLE, plotly_script
from sweeps.report.page import SweepView, esc
from sweeps.report.study import FrozenStudy, to_study
from tracking import Client

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_sweeps(client: Client, names_or_ids: Sequence[str]) -> list[str]:
    """Sweep run ids for run ids or experiment names (a name means its latest sweep)."""
    return [records.find_sweep(client, name).info.run_id for name in names_or_ids]


def default_report_path(client: Client, sweep_run_ids: Sequence[str]) -> Path:
    """`reports/<experiment>.html` (the copy of its latest sweep's report), or
    `reports/compare-<first experiment>.html` for several sweeps."""
    if not sweep_run_ids:
        raise ValueError("default_report_path: no sweep run ids given")
    run = client.get_run(sweep_run_ids[0])
    name = client.get_experiment(run.info.experiment_id).name
    safe = _FILE_UNSAFE.sub("_", name).strip("._") or "sweep"
    return Path("reports", f"compare-{safe}.html" if len(sweep_run_ids) > 1 else f"{safe}.html")


def sweep_report_path(client: Client, sweep_run_id: str) -> Path:
    """`reports/<experiment>/<sweep name>-<run id, 8 characters>.html`: one file per sweep.

    The run id part keeps two sweeps of the same name (a config with `name:` run again)
    from sharing a file.
    """
    run = client.get_run(sweep_run_id)
    folder = default_report_path(client, [sweep_run_id]).with_suffix("")
    name = _FILE_UNSAFE.sub("_", run.info.run_name).strip("._") or "sweep"
    return folder / f"{name}-{run.info.run_id[:8]}.html"


def write_sweep_report(client: Client, sweep_run_id: str,
                       path: str | os.PathLike | None = None) -> Path:
    """Write one sweep's report to `path`, or by default to its own file (sweep_report_path)
    and, when it is its experiment's latest sweep, also to `reports/<experiment>.html`.

    The report is drawn once for both files. Returns the path written (the sweep's own file
    by default).

    >>> write_sweep_report(Client("runs"), sweep_run_id)  # reports/quickstart/<name>-<id>.html
    """
    if path is not None:
        return write_report(client, [sweep_run_id], path)
    targets = [sweep_report_path(client, sweep_run_id)]
    run = client.get_run(sweep_run_id)
    if records.sweeps_of(client, run.info.experiment_id)[0].info.run_id == sweep_run_id:
        targets.append(default_report_path(client, [sweep_run_id]))
    _write(client, _draw(client, [sweep_run_id]), targets)
    return targets[0]


def _view(client: Client, index: int,
          data: sd.SweepData) -> tuple[SweepView, FrozenStudy, sf.Scores]:
    best = sd.best_numbers(data)
    ranked = sd.ranked_numbers(data)
    study = to_study(data, name=data.label if index == 0 else f"{data.label} [{index + 1}]")
    figures: list[sf.Figure] = [sf.parallel_figure(data, best)]
    importance, order, scores = sf.importance_figures(data, study)
    figures += importance
    figures += [sf.slice_figure(data, best), sf.contour_figure(data, order, best, scores)]
    final = data.final
    numbers = sd.sample_numbers(data, sf.CURVES_LIMIT, keep=[*best, *ranked[:20]])
    run_ids = final.loc[final["number"].isin(numbers), "run_id"].tolist()
    figures.append(sf.curves_figure(data, sd.load_histories(client, run_ids), numbers, best))
    figures.append(sf.timeline_figure(data))
    pareto = sf.pareto_figure(data, study)
    if pareto is not None:
        figures.append(pareto)
    artifacts = sd.list_run_artifacts(data, data.trials["run_id"].tolist())
    best_runs = final.loc[final["number"].isin(best[:3]), "run_id"].tolist()
    models = {run_id: found for run_id in best_runs
              if (found := client.search_model_versions(f"run_id = '{run_id}'"))}
    return SweepView(index, data, sd.summarize(data), best, figures, artifacts,
                     models), study, scores


@dataclass(frozen=True)
class _Drawn:
    """A report's data and figures, before its page is laid out for a folder."""

    views: list[SweepView]
    studies: list[FrozenStudy]
    scores: list[sf.Scores]
    history: list[sf.Figure]  # overlaid when there are several sweeps


def _draw(client: Client, sweep_run_ids: Sequence[str]) -> _Drawn:
    if not sweep_run_ids:
        raise ValueError("write_report: give at least one sweep run id")
    loaded = [sd.load_sweep(client, run_id) for run_id in sweep_run_ids]
    views, studies, scores = [], [], []
    for index, data in enumerate(loaded):
        view, study, score = _view(client, index, data)
        views.append(view)
        studies.append(study)
        scores.append(score)
    return _Drawn(views, studies, scores, sf.history_figures(loaded, studies))


def _pages(client: Client, drawn: _Drawn, report_dirs: Sequence[Path]) -> list[str]:
    """The report's HTML text for each folder in `report_dirs`: only the links to artifact
    files differ between them (they are relative to the page's folder)."""
    views, studies, scores = drawn.views, drawn.studies, drawn.scores
    comparing = len(views) > 1
    scripts: list[str] = []
    body: list[str | Callable[[Path], str]] = [
        page.summary_section(views), lambda folder: page.best_section(views, folder)]
    nav = [("summary", "Summary"), ("best", "Best")]
    for view in views:
        recheck, script = page.recheck_section(view, view.data.label if comparing else "")
        if recheck:
            body.append(recheck)
            scripts.append(script)
            nav.append((f"{view.prefix}-recheck",
                        "Re-check" + (f" {view.index + 1}" if comparing else "")))
    nav.append(("history", "History"))
    if comparing:
        body.insert(0, page._section("diff", "Config diff", compare.config_diff_html(views)))
        nav.insert(0, ("diff", "Config diff"))
    history_html = []
    for figure in drawn.history:
        block, script = page.figure_html(figure, "all")
        history_html.append(block)
        scripts.append(script)
    body.append(page._section("history", "3. Optimization history" +
                              (" (overlaid)" if comparing else ""), "".join(history_html)))
    if comparing:
        body.append(page._section("importance", "4. Parameter importance, side by side",
                                  compare.importance_html(views, scores)))
        nav.append(("importance", "Importance"))
    titles = {"parallel": "4. Parallel coordinates", "importance": "5. Parameter importance",
              "slice": "6. Slices and contour", "curves": "7. Learning curves",
              "timeline": "8. Timeline", "pareto": "9. Pareto front"}
    for view, study in zip(views, studies, strict=True):
        if comparing:
            body.append(f'<details class="sweep" id="{view.prefix}"><summary>'
                        f'<h2 class="sweep">Sweep {view.index + 1}: {esc(view.data.label)}</h2>'
                        "</summary>")
            nav.append((view.prefix, f"Sweep {view.index + 1}"))
            own = []
            for figure in sf.history_figures([view.data], [study]):
                block, script = page.figure_html(figure, view.prefix)
                own.append(block)
                scripts.append(script)
            body.append(page._section(f"{view.prefix}-history", "3. Optimization history",
                                      "".join(own)))
        groups: dict[str, list[str]] = {}
        for figure in view.figures:
            group = figure.key.split("-")[0]
            group = "slice" if group == "contour" else group
            block, script = page.figure_html(figure, view.prefix)
            groups.setdefault(group, []).append(block)
            scripts.append(script)
        for group, title in titles.items():
            if group in groups:
                body.append(page._section(f"{view.prefix}-{group}", title, "".join(groups[group])))
                if not comparing:
                    nav.append((f"{view.prefix}-{group}", title.split(". ", 1)[1]))
        runs_html, runs_script = page.runs_section_html(view, "10")
        body.append(runs_html)
        scripts.append(runs_script)
        body.append(page.failures_section(view, "11"))
        body.append(lambda folder, view=view: page.artifacts_section(view, "12", folder))
        if not comparing:
            nav += [(f"{view.prefix}-runs", "Runs"), (f"{view.prefix}-failures", "Failures"),
                    (f"{view.prefix}-artifacts", "Artifacts")]
        else:
            body.append("</details>")
    plotly_js = plotly_script()
    title = ("Comparison: " + " vs ".join(v.data.label for v in views)) if comparing else \
        f"Sweep report: {views[0].data.label}"
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav_html = "".join(f'<a href="#{esc(k)}">{esc(t)}</a>' for k, t in nav)
    head = "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="'
        f'{esc(page.content_security_policy([plotly_js, APP]))}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{esc(title)}</h1><div class='muted'>Generated {esc(when)} by sweepbook "
        f"from {esc(client.store.root)}</div></header>",
        f"<nav>{nav_html}</nav><main>"])
    tail = "".join(["</main>", *[s for s in scripts if s],
                    f"<script>{plotly_js}</script><script>{APP}</script></body></html>\n"])
    return [head + "".join(part if isinstance(part, str) else part(folder) for part in body)
            + tail for folder in report_dirs]


def _plain(value: Any) -> Any:
    """`value` as JSON can hold it: numpy scalars as Python ones, NaN and inf as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _best_trial(data: sd.SweepData, number: int) -> dict[str, Any]:
    row = data.final.loc[data.final["number"] == number].iloc[0]
    params = {name: _plain(row[f"params.{name}"]) for name in data.params
              if f"params.{name}" in row and not pd.isna(row[f"params.{name}"])}
    return {"number": number, "run_id": row["run_id"], "params": params,
            "values": {m: _plain(row[f"metrics.{m}"]) for m, _ in data.goals}}


def report_summary(views: Sequence[SweepView], store: str) -> dict[str, Any]:
    """The report's facts as plain JSON values, one entry per sweep (see write_report)."""
    return {"store": store, "sweeps": [{
        "sweep_id": v.data.run_id, "name": v.data.run_name, "experiment": v.data.experiment,
        "status": v.data.status, "stop_reason": v.summary.stop_reason,
        "metrics": [{"name": m, "goal": g} for m, g in v.data.goals],
        "counts": v.summary.counts, "trials": v.summary.trials,
        "attempts": v.summary.attempts, "wall_s": _plain(v.summary.wall_s),
        "best": [_best_trial(v.data, n) for n in v.best], "config": v.data.config,
        "recheck": v.verdict.to_json() if v.verdict is not None else None,
    } for v in views]}


def summary_path(report: Path) -> Path:
    """Where a report's JSON summary goes: `x.html` -> `x.json` (`x.json` -> `x.json.json`)."""
    if report.suffix == ".json":
        return report.with_name(report.name + ".json")
    return report.with_suffix(".json")


def _replace(target: Path, text: str) -> None:
    """Write `text` to `target` atomically (a temporary file beside it, then a rename)."""
    fd, temp = tempfile.mkstemp(prefix=".report-", suffix=target.suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _write(client: Client, drawn: _Drawn, targets: Sequence[Path]) -> None:
    """Write the drawn report to each of `targets`, each with its JSON summary beside it."""
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    summary = json.dumps(report_summary(drawn.views, client.store.root), indent=2,
                         default=str) + "\n"
    for target, text in zip(targets, _pages(client, drawn, [t.parent for t in targets]),
                            strict=True):
        _replace(summary_path(target), summary)
        _replace(target, text)


def write_report(client: Client, sweep_run_ids: Sequence[str],
                 path: str | os.PathLike) -> Path:
    """Write the HTML report of one sweep (or a comparison of several) to `path`, and its
    summary (report_summary) beside it as JSON: `reports/x.html` -> `reports/x.json`.

    Creates parent folders and replaces both files atomically; returns the HTML's path.

    >>> write_report(Client("runs"), [sweep_run_id], "reports/quickstart.html")
    """
    target = Path(path)
    _write(client, _draw(client, list(sweep_run_ids)), [target])
    return target
