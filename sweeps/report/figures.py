"""The report's figures: optuna.visualization where it already draws what is needed,
plotly directly for learning curves and the worker timeline.

Each function returns a `Figure`: a plotly figure as plain JSON-able data, or a notice
saying why there is no chart. Big sweeps are sampled for the costly optuna figures (the
caption says how many trials are shown); the history and the timeline show every trial.

`optuna.importance` and `optuna.visualization` are optuna's lazy modules, imported on first
use: importance brings scikit-learn and scipy.stats (for fANOVA), visualization matplotlib
(its package imports its matplotlib half too). Together most of a report's start-up time.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from optuna import importance as oi
from optuna import visualization as ov
from optuna.trial import FrozenTrial, TrialState

from sweeps.advice import MIN_IMPORTANCE_TRIALS, boundary_warnings, importance_verdict
from sweeps.report.data import SweepData, ranked_numbers, sample_numbers
from sweeps.report.study import FrozenStudy, plot_text, to_study

PARCOORDS_LIMIT = 300
SLICE_LIMIT = 500
CONTOUR_LIMIT = 300
CONTOUR_PARAMS = 4
CONTOUR_GRID = 60
PED_ANOVA_LIMIT = 2000
FANOVA_MIN = 30
FANOVA_LIMIT = 150
FANOVA_TREES = 8
BOOTSTRAP_LIMIT = 200
BOOTSTRAP_ROUNDS = 10
CURVES_LIMIT = 200
CURVE_POINTS = 200
MAX_CURVE_METRICS = 6
# Below these sizes SVG draws faster than a WebGL context starts (and paints) in headless
# Chromium without a GPU, on 2 cores: 10,000 markers 0.3 s against 0.45 s, a 300-trial timeline
# 0.03 s against 0.16 s.
WEBGL_FROM = 20_000  # markers
WEBGL_LINE_POINTS = 15_000  # points of the timeline's bars
STATUS_COLORS = {"FINISHED": "#2a7ab0", "PRUNED": "#e08a1e", "FAILED": "#c0392b",
                 "KILLED": "#7f8c8d", "RUNNING": "#8e44ad", "QUEUED": "#b0b7bf"}
BEST_COLOR = "#1a9850"


@dataclass(frozen=True)
class Figure:
    """A titled plotly figure (plain data), or a notice where no figure makes sense."""

    key: str
    title: str
    figure: dict[str, Any] | None = None
    caption: str = ""
    notice: str = ""
    warnings: tuple[str, ...] = ()


def _quiet(draw: Callable[[], Any], notes: list[str] | None = None) -> Any:
    """Call optuna without its log lines; its warnings go to `notes` (or are dropped)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        try:
            return draw()
        finally:
            optuna.logging.set_verbosity(level)
            if notes is not None:
                notes.extend(str(w.message) for w in caught
                             if not issubclass(w.category, optuna.exceptions.ExperimentalWarning)
                             and str(w.message) not in notes)


def _plain(fig: go.Figure, *, webgl: bool = False) -> dict[str, Any]:
    out = fig.to_plotly_json()
    layout = out.get("layout", {})
    layout.pop("template", None)
    layout.pop("width", None)
    margin = dict(layout.get("margin") or {})
    margin["t"] = min(margin.get("t", 40), 40)
    layout["margin"] = margin
    out = {"data": out.get("data", []), "layout": layout}
    if webgl:
        for trace in out["data"]:
            if trace.get("type") == "scatter":
                trace["type"] = "scattergl"
    return out


def _target(data: SweepData, index: int) -> tuple[Callable[[FrozenTrial], float] | None, str]:
    name = plot_text(data.goals[index][0]) if data.goals else "objective"
    if not data.multi_objective:
        return None, name
    return (lambda t: t.values[index]), name


def _shown(n: int, total: int, what: str = "trials") -> str:
    return "" if n >= total else f"Showing {n:,} of {total:,} {what} (a random sample " \
        "that always includes the best)."


# -- 3. history ---------------------------------------------------------------------------


def history_figures(sweeps: Sequence[SweepData], studies: Sequence[FrozenStudy]) -> list[Figure]:
    """Objective value and best-so-far per trial; sweeps overlaid when several."""
    first = sweeps[0]
    out = []
    if not first.goals:
        return [Figure("history", "Optimization history", notice="The sweep has no objective.")]
    for i, (name, goal) in enumerate(first.goals):
        usable = [s for d, s in zip(sweeps, studies, strict=True)
                  if len(d.goals) > i and d.goals[i] == (name, goal)]
        target = None if len(first.goals) == 1 and all(len(d.goals) == 1 for d in sweeps) \
            else (lambda t, i=i: t.values[i])
        title = f"Optimization history: {name} ({goal})"
        if not any(s.get_trials(states=(TrialState.COMPLETE,)) for s in usable):
            out.append(Figure(f"history-{i}", title, notice="No trial has completed yet."))
            continue
        fig = _quiet(lambda u=usable, t=target, n=name: ov.plot_optimization_history(
            u if len(u) > 1 else u[0], target=t, target_name=plot_text(n)))
        fig.update_layout(title=None)
        caption = "Every completed trial's value and the best so far."
        if len(usable) < len(sweeps):
            caption += " Sweeps with another objective are left out of this overlay."
        total = sum(len(s.trials) for s in usable)
        out.append(Figure(f"history-{i}", title, {**_plain(fig, webgl=total > WEBGL_FROM),
                                                  "controls": ["logy"]}, caption))
    return out


# -- 4. parallel coordinates --------------------------------------------------------------


def parallel_figure(data: SweepData, best: Sequence[int]) -> Figure:
    """A brushable plotly `parcoords`: one axis per varying param, the objective last.

    The figure carries `brush.numbers` (the trial of each line) so the page can filter the
    runs table and highlight the same trials elsewhere when a range is dragged on an axis.
    """
    title = "Parallel coordinates"
    complete = _complete_numbers(data)
    if not complete or not data.params or not data.goals:
        return Figure("parallel", title, notice="No completed trial with params to draw.")
    done = set(complete)
    numbers = [n for n in sample_numbers(data, PARCOORDS_LIMIT, keep=[
        *best, *ranked_numbers(data)[:PARCOORDS_LIMIT // 10]]) if n in done]
    rows = data.final.set_index("number").loc[numbers]
    dimensions = []
    for name in data.params:
        axis = _parcoords_axis(rows[f"params.{name}"].tolist(), data.distributions[name])
        if axis is not None:
            dimensions.append({"label": plot_text(name), **axis})
    metric, goal = data.goals[0]
    values = [_finite_or_none(float(v)) for v in rows[f"metrics.{metric}"]]
    dimensions.append({"label": plot_text(metric), "values": values})
    trace = {"type": "parcoords", "dimensions": dimensions,
             "line": {"color": values, "colorscale": "Viridis",
                      "reversescale": goal == "minimize", "showscale": True,
                      "colorbar": {"title": {"text": plot_text(metric)}}},
             "labelfont": {"size": 13}}
    figure = {"data": [trace], "layout": {"height": 460, "margin": {"t": 60, "l": 60,
                                                                    "r": 100, "b": 30}},
              "brush": {"numbers": numbers}}
    caption = (f"Each line is a completed trial; brighter is better {metric}. Drag along any "
               "axis to select a range (drag again to add one, click the axis to clear): the "
               "runs table shows only the selected trials, and the history and slices highlight "
               "them. Log-scaled params are on log10 axes; 'inactive' marks a conditional "
               "param that was off.")
    shown = _shown(len(numbers), len(complete), "completed trials")
    return Figure("parallel", title, figure, f"{caption} {shown}".strip())


def _parcoords_axis(values: list[Any], dist: Any) -> dict[str, Any] | None:
    """One parcoords dimension's values and ticks (None for a param with one value)."""
    present = [v for v in values if not _is_missing(v)]
    if len({repr(v) for v in present}) < 2:
        return None
    if isinstance(dist, optuna.distributions.CategoricalDistribution) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        choices = [c for c in getattr(dist, "choices", ()) if c in present] or \
            list(dict.fromkeys(present))
        codes = {repr(c): i for i, c in enumerate(choices)}
        ticks = list(range(len(choices)))
        text = [plot_text(str(c)) for c in choices]
        coded = [codes.get(repr(v), -1) for v in values]
    else:
        log = bool(getattr(dist, "log", False))
        coded = [-math.inf if _is_missing(v) else (math.log10(v) if log else float(v))
                 for v in values]
        low = min(c for c in coded if c != -math.inf)
        high = max(coded)
        ticks = list(np.linspace(low, high, 5))
        text = [f"{10 ** t:.3g}" if log else f"{t:.4g}" for t in ticks]
        gap = (high - low) * 0.08
        coded = [low - gap if c == -math.inf else c for c in coded]
        if any(_is_missing(v) for v in values):
            ticks, text = [low - gap, *ticks], ["inactive", *text]
        return {"values": coded, "tickvals": ticks, "ticktext": text}
    if -1 in coded:
        ticks, text = [-1, *ticks], ["inactive", *text]
    return {"values": coded, "tickvals": ticks, "ticktext": text}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _complete_numbers(data: SweepData) -> list[int]:
    final = data.final
    return [int(n) for n in final.loc[final["status"] == "FINISHED", "number"]]


# -- 5. importance ------------------------------------------------------------------------


Scores = dict[str, tuple[float, float, float]]


def importance_figures(data: SweepData, study: FrozenStudy
                       ) -> tuple[list[Figure], list[str], Scores]:
    """PED-ANOVA (with bootstrap intervals) and fANOVA importances; params by importance;
    and each param's PED-ANOVA score with its 90% interval (empty when there is none)."""
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    varying = [p for p, shown in ((p, plot_text(p)) for p in data.params)
               if len({repr(t.params.get(shown)) for t in complete}) > 1]
    title = "Parameter importance"
    if len(varying) < 2:
        return [Figure("importance", title, notice=(
            "Too few varying params for an importance ranking (it needs at least two "
            "params that take more than one value)."))], list(data.params), {}
    if len(complete) < MIN_IMPORTANCE_TRIALS:
        return [Figure("importance", title, notice=importance_verdict(
            {}, completed=len(complete)).message)], list(data.params), {}
    out = []
    ped_sample = _sample_trials(complete, PED_ANOVA_LIMIT)
    ped_study = FrozenStudy(study.study_name, [d.name.lower() for d in study.directions],
                            ped_sample)
    evaluator = oi.PedAnovaImportanceEvaluator()
    warned: list[str] = []
    fig = _quiet(lambda: ov.plot_param_importances(ped_study, evaluator=evaluator), warned)
    fig.update_layout(title=None)
    order = _importance_order(fig, data)
    caption = ("Evaluator: PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator), which "
               "compares the distribution of each param in the best trials with all trials; it "
               "handles conditional params.")
    scores: Scores = {}
    if not data.multi_objective:
        rounds, scores = _bootstrap(ped_study, fig, data)
        if rounds:
            caption += f" Bars show 90% bootstrap intervals ({rounds} resamples)."
    caption += " " + _shown(len(ped_sample), len(complete), "completed trials")
    if warned:
        caption += " optuna warned: " + " ".join(warned[:3])
    out.append(Figure("importance-ped", "Parameter importance (PED-ANOVA)", _plain(fig),
                      caption.strip()))
    if len(complete) >= FANOVA_MIN and not data.multi_objective:
        sample = _sample_trials(complete, FANOVA_LIMIT)
        fan_study = FrozenStudy(study.study_name, [d.name.lower() for d in study.directions],
                                sample)
        fan = oi.FanovaImportanceEvaluator(n_trees=FANOVA_TREES, seed=0)
        fig = _quiet(lambda: ov.plot_param_importances(fan_study, evaluator=fan))
        fig.update_layout(title=None)
        out.append(Figure("importance-fanova", "Parameter importance (fANOVA)", _plain(fig), (
            f"Evaluator: fANOVA (optuna.importance.FanovaImportanceEvaluator, {FANOVA_TREES} "
            "trees), the share of the objective's variance each param explains in a random "
            "forest fitted to the trials. " + _shown(len(sample), len(complete),
                                                   "completed trials")).strip()))
    else:
        reason = ("it needs a single objective" if data.multi_objective else
                  f"too few trials: {len(complete)} completed, at least {FANOVA_MIN} needed")
        out.append(Figure("importance-fanova", "Parameter importance (fANOVA)",
                          notice=f"fANOVA is not shown: {reason}."))
    return out, order + [p for p in data.params if p not in order], scores


def _sample_trials(trials: list[FrozenTrial], limit: int) -> list[FrozenTrial]:
    if len(trials) <= limit:
        return trials
    return random.Random(0).sample(trials, limit)


def _importance_order(fig: go.Figure, data: SweepData) -> list[str]:
    by_text = {plot_text(p): p for p in data.params}
    if not fig.data:
        return []
    trace = fig.data[0]
    pairs = sorted(zip(trace.x, trace.y, strict=True), key=lambda xy: -xy[0])
    return [by_text[y] for _, y in pairs if y in by_text]


def _bootstrap(study: FrozenStudy, fig: go.Figure, data: SweepData) -> tuple[int, Scores]:
    """Add 90% bootstrap intervals to the PED-ANOVA bars; returns the number of rounds and
    each param's (score, interval low, interval high)."""
    if len(fig.data) != 1 or getattr(fig.data[0], "orientation", None) != "h":
        return 0, {}
    trials = _sample_trials(study.get_trials(states=(TrialState.COMPLETE,)), BOOTSTRAP_LIMIT)
    rng = random.Random(1)
    names = list(fig.data[0].y)
    samples: dict[str, list[float]] = {n: [] for n in names}
    directions = [d.name.lower() for d in study.directions]
    for _ in range(BOOTSTRAP_ROUNDS):
        resample = [trials[rng.randrange(len(trials))] for _ in trials]
        try:
            scores = _quiet(lambda r=resample: oi.get_param_importances(
                FrozenStudy(study.study_name, directions, r),
                evaluator=oi.PedAnovaImportanceEvaluator()))
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
        for n in names:
            samples[n].append(float(scores.get(n, 0.0)))
    if not all(samples.values()):
        return 0, {}
    x = list(fig.data[0].x)
    low = [x[i] - float(np.quantile(samples[n], 0.05)) for i, n in enumerate(names)]
    high = [float(np.quantile(samples[n], 0.95)) - x[i] for i, n in enumerate(names)]
    fig.data[0].error_x = dict(type="data", symmetric=False, array=[max(0.0, h) for h in high],
                               arrayminus=[max(0.0, v) for v in low], color="#555")
    by_text = {plot_text(p): p for p in data.params}
    scores = {by_text[n]: (float(x[i]), float(x[i] - max(0.0, low[i])),
                           float(x[i] + max(0.0, high[i])))
              for i, n in enumerate(names) if n in by_text}
    return len(next(iter(samples.values()))), scores


# -- 6. slices and contour ----------------------------------------------------------------


def slice_figure(data: SweepData, best: Sequence[int]) -> Figure:
    title = "Slice plots"
    if not _complete_numbers(data) or not data.params:
        return Figure("slice", title, notice="No completed trial with params to draw.")
    numbers = sample_numbers(data, SLICE_LIMIT, keep=[*best, *ranked_numbers(data)[:50]])
    study = to_study(data, numbers)
    target, name = _target(data, 0)
    fig = _quiet(lambda: ov.plot_slice(study, params=[plot_text(p) for p in data.params],
                                       target=target, target_name=name))
    fig.update_layout(title=None, height=360)
    caption = ("The objective against each param; colour is the trial number. Log-scaled "
               "params are on log axes. " + _shown(len(numbers), len(data.final)))
    return Figure("slice", title, _plain(fig, webgl=len(numbers) > WEBGL_FROM), caption.strip(),
                  warnings=tuple(w.message for w in boundary_warnings(data)))


def contour_figure(data: SweepData, order: Sequence[str], best: Sequence[int],
                   scores: Scores) -> Figure:
    """The objective over two params, with a picker among the pairs of the top params.

    The two most important params are drawn first only when their importance intervals
    separate them from the rest (`advice.importance_verdict`); otherwise the caption says so.
    """
    title = "Contour"
    complete = _complete_numbers(data)
    rows = data.final[data.final["number"].isin(complete)]
    varying = [p for p in data.distributions
               if len({repr(v) for v in rows[f"params.{p}"].tolist()}) > 1]
    if len(varying) < 2:
        return Figure("contour", title, notice="A contour needs at least two varying params.")
    if len(complete) < 3:
        return Figure("contour", title, notice="Too few completed trials for a contour.")
    verdict = importance_verdict(scores, completed=len(complete))
    ranked = [p for p in order if p in varying] if verdict.pair is not None else varying
    params = ranked[:CONTOUR_PARAMS]
    pairs = [(a, b) for i, a in enumerate(params) for b in params[i + 1:]]
    numbers = sample_numbers(data, CONTOUR_LIMIT, keep=[*best, *ranked_numbers(data)[:50]])
    study = to_study(data, numbers)
    target, name = _target(data, 0)
    variants = []
    for a, b in pairs:
        fig = _quiet(lambda a=a, b=b: ov.plot_contour(study, params=[plot_text(a), plot_text(b)],
                                                      target=target, target_name=name))
        fig.update_layout(title=None, height=520)
        _fill_contour(fig)
        variants.append({"label": f"{a} × {b}", **_plain(fig)})
    figure = {"variants": variants}  # the page draws the first one
    which = "most important" if verdict.pair is not None else "first declared"
    why = verdict.message if verdict.pair is not None else (
        f"{verdict.message} The first two params as declared are drawn.")
    caption = (f"The objective over two params, interpolated between trials; the picker "
               f"switches among the pairs of the {len(params)} {which} params. {why} "
               + _shown(len(numbers), len(data.final)))
    return Figure("contour", title, figure, caption.strip())


def _fill_contour(fig: go.Figure) -> None:
    """Fill optuna's contour grid here, so that plotly.js has no gaps to fill.

    optuna draws one grid line at each distinct trial value (hundreds per axis) and leaves
    every cell without a trial empty for plotly.js to fill (`connectgaps`), which takes it
    seconds in the browser. Here a numeric axis with more than CONTOUR_GRID lines is resampled
    to CONTOUR_GRID evenly spaced ones (geometric on a log axis), a cell holds the mean of the
    trials in it, and the empty cells get the harmonic (Laplace) interpolation of the others,
    the limit that plotly.js's own filling iterates toward. The trials' markers stay exact.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    trace = fig.data[0] if fig.data else None
    if getattr(trace, "type", None) != "contour" or trace.z is None or trace.x is None:
        return
    z = np.asarray(trace.z, dtype=float)
    axes = []
    for values, axis in ((list(trace.x), fig.layout.xaxis), (list(trace.y), fig.layout.yaxis)):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if not numeric or axis.type == "category" or len(values) <= CONTOUR_GRID:
            axes.append((values, np.arange(len(values))))
            continue
        log = axis.type == "log"
        at = np.log10(values) if log else np.asarray(values, dtype=float)
        cell = np.rint((at - at[0]) / (at[-1] - at[0]) * (CONTOUR_GRID - 1)).astype(int)
        grid = (np.geomspace if log else np.linspace)(values[0], values[-1], CONTOUR_GRID)
        axes.append((grid.tolist(), cell))
    (xs, x_cell), (ys, y_cell) = axes
    rows, cols = np.nonzero(np.isfinite(z))
    if not len(rows):
        return
    shape = (len(ys), len(xs))
    flat = y_cell[rows] * shape[1] + x_cell[cols]
    sums = np.bincount(flat, weights=z[rows, cols], minlength=shape[0] * shape[1])
    counts = np.bincount(flat, minlength=shape[0] * shape[1])
    filled = np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        index = np.full(filled.shape, -1)
        index[empty] = np.arange(len(empty))
        known = np.nan_to_num(filled)
        eq, var, rhs = [], [], np.zeros(len(empty))
        degree = np.zeros(len(empty))
        r, c = np.divmod(empty, shape[1])
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            inside = (nr >= 0) & (nr < shape[0]) & (nc >= 0) & (nc < shape[1])
            degree += inside
            neighbour = nr[inside] * shape[1] + nc[inside]
            unknown = index[neighbour] >= 0
            eq.append(np.flatnonzero(inside)[unknown])
            var.append(index[neighbour[unknown]])
            np.add.at(rhs, np.flatnonzero(inside)[~unknown], known[neighbour[~unknown]])
        eq.append(np.arange(len(empty)))
        var.append(np.arange(len(empty)))
        coef = [-np.ones(len(e)) for e in eq[:-1]] + [degree]
        matrix = coo_matrix((np.concatenate(coef), (np.concatenate(eq), np.concatenate(var))),
                            shape=(len(empty), len(empty))).tocsr()
        filled[empty] = spsolve(matrix, rhs)
    trace.update(x=xs, y=ys, z=filled.reshape(shape).astype(np.float32), connectgaps=False)


# -- 7. learning curves -------------------------------------------------------------------


def curves_figure(data: SweepData, histories: pd.DataFrame, numbers: Sequence[int],
                  best: Sequence[int]) -> Figure:
    """Every reported metric over steps, one line per trial, by status."""
    title = "Learning curves"
    if not len(histories):
        return Figure("curves", title, notice="No trial reported metrics over steps.")
    final = data.final.set_index("run_id")
    status_of = final["status"].to_dict()
    number_of = final["number"].to_dict()
    counts = histories.groupby("key")["step"].nunique()
    metrics = [m for m in data.metric_names if counts.get(m, 0) > 1][:MAX_CURVE_METRICS]
    if not metrics:
        return Figure("curves", title, notice="No metric was reported at more than one step.")
    traces: list[dict[str, Any]] = []
    best_set = set(best)
    n = len(metrics)
    for row, metric in enumerate(metrics, start=1):
        points = histories[histories["key"] == metric]
        codes, run_ids = pd.factorize(points["run_id"])  # runs in order of appearance
        order = np.lexsort((points["step"].to_numpy(), codes))  # by run, then step (stable)
        codes = codes[order]
        steps, values = points["step"].to_numpy()[order], points["value"].to_numpy()[order]
        starts = np.flatnonzero(np.diff(codes, prepend=-1))
        groups: dict[str, tuple[list, list, list]] = {}
        for run_id, start, end in zip(run_ids, starts, [*starts[1:], len(codes)], strict=True):
            status = status_of.get(run_id, "FINISHED")
            group = "BEST" if number_of.get(run_id) in best_set else status
            xs, ys, texts = groups.setdefault(group, ([], [], []))
            at = np.arange(start, end) if end - start <= CURVE_POINTS else \
                start + np.linspace(0, end - start - 1, CURVE_POINTS).astype(int)
            label = f"trial {number_of.get(run_id, '?')}"
            xs += [*steps[at].tolist(), None]
            ys += [*(_finite_or_none(v) for v in values[at].tolist()), None]
            texts += [label] * len(at) + [None]
        for group in ("FINISHED", "KILLED", "FAILED", "RUNNING", "PRUNED", "BEST"):
            if group not in groups:
                continue
            xs, ys, texts = groups[group]
            color = BEST_COLOR if group == "BEST" else STATUS_COLORS[group]
            traces.append({  # WebGL: overlapping lines add up (an SVG trace fades as one)
                "type": "scattergl", "x": xs, "y": ys, "text": texts, "mode": "lines",
                "name": "best" if group == "BEST" else group.lower(), "legendgroup": group,
                "showlegend": row == 1, "hoverinfo": "text+x+y",
                "xaxis": "x", "yaxis": "y" if row == 1 else f"y{row}",
                "line": {"color": color, "width": 3 if group == "BEST" else 1,
                         "dash": "dot" if group == "PRUNED" else "solid"},
                "opacity": 1.0 if group == "BEST" else 0.55})
    gap = 0.06
    height = (1 - gap * (n - 1)) / n
    layout: dict[str, Any] = {
        "height": max(320, 260 * n), "margin": {"t": 30, "l": 70, "r": 20, "b": 50},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"title": {"text": "step"}, "anchor": f"y{n}" if n > 1 else "y"},
        "hovermode": "closest"}
    for row, metric in enumerate(metrics, start=1):
        top = 1 - (row - 1) * (height + gap)
        layout["yaxis" if row == 1 else f"yaxis{row}"] = {
            "title": {"text": plot_text(metric)}, "domain": [max(0.0, top - height), top],
            "anchor": "x"}
    total = len(data.final)
    caption = ("One line per trial; pruned trials are dotted orange, the best trial is "
               "green. " + _shown(len(numbers), total))
    if len(data.metric_names) > MAX_CURVE_METRICS:
        caption += f" The first {MAX_CURVE_METRICS} metrics are shown."
    controls = ["logy", "pruned"] if any(t["legendgroup"] == "PRUNED" for t in traces) else \
        ["logy"]
    return Figure("curves", title, {"data": traces, "layout": layout, "controls": controls},
                  caption.strip())


def _lines_webgl(traces: list[dict[str, Any]]) -> None:
    """Draw line traces with WebGL when they have more than WEBGL_LINE_POINTS points."""
    if sum(len(t["x"]) for t in traces) > WEBGL_LINE_POINTS:
        for trace in traces:
            trace["type"] = "scattergl"


def _finite_or_none(value: float) -> float | None:
    return value if isinstance(value, float) and math.isfinite(value) else None


# -- 8. timeline --------------------------------------------------------------------------


def timeline_figure(data: SweepData) -> Figure:
    """Trial attempts per worker over time, coloured by status."""
    title = "Timeline"
    trials = data.trials
    if not len(trials):
        return Figure("timeline", title, notice="No trial has started.")
    start = trials["start_ms"].astype(float) + trials["queue_wait_s"].astype(float).fillna(0) * 1e3
    end = trials["end_ms"].astype(float)
    traces = []
    workers = trials["worker"].replace("", "(not started)")
    for status in ("FINISHED", "PRUNED", "FAILED", "KILLED", "RUNNING"):
        mask = (trials["status"] == status).to_numpy()
        if not mask.any():
            continue
        xs: list[Any] = []
        ys: list[Any] = []
        texts: list[Any] = []
        for s, e, w, n, a in zip(start[mask], end[mask], workers[mask], trials["number"][mask],
                                 trials["attempt"][mask], strict=True):
            e = e if math.isfinite(e) else s
            label = f"trial {n}" + (f" (attempt {a})" if a > 1 else "")
            w = plot_text(w)
            xs += [round(s), round(e), None]
            ys += [w, w, None]
            texts += [label, label, None]
        traces.append({"type": "scatter", "x": xs, "y": ys, "text": texts, "mode": "lines",
                       "name": status.lower(), "hoverinfo": "text+x+name",
                       "line": {"color": STATUS_COLORS[status], "width": 10}})
    _lines_webgl(traces)
    n_workers = workers.nunique()
    layout = {"height": min(900, 130 + 36 * n_workers),
              "xaxis": {"type": "date", "title": {"text": "time (UTC)"}},
              "yaxis": {"type": "category", "title": {"text": "worker"}},
              "margin": {"t": 30, "l": 90, "r": 20, "b": 50}, "hovermode": "closest"}
    return Figure("timeline", title, {"data": traces, "layout": layout},
                  "Each bar is one attempt, from its start on the worker to its end.")


# -- 9. Pareto front ----------------------------------------------------------------------


def pareto_figure(data: SweepData, study: FrozenStudy) -> Figure | None:
    if not data.multi_objective:
        return None
    title = "Pareto front"
    if len(data.goals) > 3:
        return Figure("pareto", title, notice="A Pareto front is drawn for 2 or 3 objectives.")
    if not study.get_trials(states=(TrialState.COMPLETE,)):
        return Figure("pareto", title, notice="No trial has completed yet.")
    fig = _quiet(lambda: ov.plot_pareto_front(
        study, target_names=[plot_text(f"{m} ({g})") for m, g in data.goals]))
    fig.update_layout(title=None, height=520)
    return Figure("pareto", title, _plain(fig, webgl=False),
                  "Completed trials; the non-dominated ones (the Pareto set) are highlighted.")
