"""What to try next, read from a stored sweep: pure functions over `SweepData`.

    warnings = boundary_warnings(data)   # params whose best trials sit at an edge of the range
    block = space_yaml(suggest_space(data))  # a narrowed `space:` block, ready to paste
    verdict = importance_verdict(scores, completed=42)  # may the two top params be named?

The best trials are the top tenth of the completed trials (at least 3) by the first
objective; the top quartile (at least 3) gives the suggested ranges. A numeric param is at
an edge when the best trials' median lies in the outer 10 % of its range, measured on a log
scale where the param is log, and at least a tenth of the range nearer that edge than the
other trials' median (so the edge is what helps, not where a sampler happened to look; at
least 3 completed trials are needed); a categorical of
numbers (an ordered list such as `[50, 100, 200]`) when the best trials' most common choice
is the last listed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

if TYPE_CHECKING:  # the report's figures use this module: no import cycle at run time
    from sweeps.report.data import SweepData

EDGE_SHARE = 0.10
BEST_SHARE = 0.10
TOP_SHARE = 0.25
MIN_BEST = 3
WIDEN_SHARE = 0.5
MIN_IMPORTANCE_TRIALS = 20


@dataclass(frozen=True)
class BoundaryWarning:
    """A param whose best trials lie at an edge of its range, with a suggested new spec.

    `edge` is "low", "high" or "last" (the last listed choice); `value` the best trials'
    median (or most common choice); `suggested` the param's spec in config form.
    """

    param: str
    edge: str
    value: Any
    suggested: dict[str, Any]

    @property
    def message(self) -> str:
        """One sentence for the report, e.g. "lr: the best trials lie at the high edge ..."."""
        if self.edge == "last":
            return (f"{self.param}: the best trials chose {_num(self.value)}, the last listed "
                    f"choice; try choices {_listed(self.suggested['choices'])}.")
        scale = " (log scale)" if self.suggested.get("log") else ""
        return (f"{self.param}: the best trials lie at the {self.edge} edge of the range"
                f"{scale} (median {_num(self.value)}); try [{_num(self.suggested['low'])}, "
                f"{_num(self.suggested['high'])}].")


@dataclass(frozen=True)
class ImportanceVerdict:
    """Whether the importance ranking may be believed: `pair` names the two params whose
    intervals lie above every other param's, or is None; `message` says why in a sentence."""

    pair: tuple[str, str] | None
    message: str


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _listed(values: list[Any]) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


def _ranked(data: SweepData) -> pd.DataFrame:
    """Completed final attempts, best first by the first objective."""
    from sweeps.report.data import ranked_numbers
    order = ranked_numbers(data)
    rows = data.final.set_index("number")
    return rows.loc[order] if order else rows.iloc[0:0]


def _top(count: int, share: float) -> int:
    return min(count, max(MIN_BEST, math.ceil(share * count)))


def _present(values: pd.Series) -> list[Any]:
    return [v for v in values.tolist()
            if v is not None and not (isinstance(v, float) and math.isnan(v))]


def _scale(value: float, log: bool) -> float:
    return math.log10(value) if log else float(value)


def _unscale(value: float, log: bool) -> float:
    return 10.0 ** value if log else value


def _round(value: float, integer: bool, outward: int) -> float | int:
    """Three significant digits (a whole number for ints), rounded away from the range
    when `outward` is -1 (a low bound) or +1 (a high bound), else to the nearest."""
    if integer:
        return int(math.floor(value) if outward < 0 else math.ceil(value) if outward > 0
                   else round(value))
    if value == 0 or not math.isfinite(value):
        return float(value)
    unit = 10.0 ** (math.floor(math.log10(abs(value))) - 2)
    mover = math.floor if outward < 0 else math.ceil if outward > 0 else round
    return float(f"{mover(value / unit) * unit:.3g}")


def _numeric_advice(dist: FloatDistribution | IntDistribution, values: list[float],
                    best: list[float], top: list[float],
                    spec: Mapping[str, Any]) -> tuple[str, float, dict[str, Any]]:
    """(edge or "", the best trials' median, the suggested spec) of one numeric param;
    `values` are all its completed trials' values, best first."""
    log, integer = dist.log, isinstance(dist, IntDistribution)
    low, high = _scale(dist.low, log), _scale(dist.high, log)
    width = high - low
    median = float(pd.Series(best, dtype=float).median())
    where = (_scale(median, log) - low) / width if width > 0 else 0.5
    rest = values[len(best):]  # the other completed trials: the edge must be what helps
    there = (_scale(float(pd.Series(rest, dtype=float).median()), log) - low) / width \
        if rest and width > 0 else 0.5
    edge = ""
    if len(best) >= MIN_BEST and where <= EDGE_SHARE and there - where >= EDGE_SHARE:
        edge = "low"
    if len(best) >= MIN_BEST and where >= 1 - EDGE_SHARE and where - there >= EDGE_SHARE:
        edge = "high"
    new_low = min(_scale(v, log) for v in top)
    new_high = max(_scale(v, log) for v in top)
    if edge == "low":
        new_low = low - WIDEN_SHARE * width
    if edge == "high":
        new_high = high + WIDEN_SHARE * width
    if new_high - new_low < EDGE_SHARE * width:  # the top trials agree on one value: keep room
        pad = EDGE_SHARE * width
        new_low, new_high = max(low, new_low - pad), min(high, new_high + pad)
    lo = _round(_unscale(new_low, log), integer, -1)
    hi = _round(_unscale(new_high, log), integer, +1)
    if log:
        lo = max(lo, 1) if integer else (lo if lo > 0 else dist.low)
    step = None if dist.step is None or (integer and dist.step == 1) else dist.step
    if step is not None:  # stay on the grid: low + a whole number of steps
        lo = dist.low + math.floor((lo - dist.low) / step) * step
        hi = lo + math.ceil((hi - lo) / step) * step
        lo, hi = (int(lo), int(hi)) if integer else (float(f"{lo:.10g}"), float(f"{hi:.10g}"))
    suggested = {"type": "int" if integer else "float", "low": lo, "high": max(hi, lo),
                 "log": log, "step": step, **spec}
    return edge, median, {k: v for k, v in suggested.items() if v is not None}


def _next_choice(choices: list[Any]) -> Any:
    """The value after the last of an ordered list of numbers: the same ratio or step."""
    last, prev = choices[-1], choices[-2]
    nxt = last * (last / prev) if prev > 0 and last / prev > 1 else last + (last - prev)
    return int(nxt) if all(isinstance(c, int) for c in choices) else float(f"{nxt:.4g}")


def _categorical_advice(dist: CategoricalDistribution, best: list[Any], top: list[Any],
                        spec: Mapping[str, Any], keep: set[Any]) -> tuple[str, Any, dict]:
    choices = list(dist.choices)
    common = Counter(best).most_common()
    favourite = common[0][0] if common else None
    numeric = len(choices) >= 2 and all(
        isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)
    edge = "last" if numeric and len(best) >= MIN_BEST and favourite == choices[-1] and \
        choices == sorted(choices) and choices[-1] != choices[-2] else ""
    kept = [c for c in choices if c in top or c in keep] or choices
    if edge:
        kept.append(_next_choice(choices))
    return edge, favourite, {"type": "categorical", "choices": kept, **spec}


def _specs(data: SweepData) -> dict[str, Any]:
    space = (data.config or {}).get("space")
    return dict(space) if isinstance(space, Mapping) else {}


def _when_values(specs: Mapping[str, Any]) -> dict[str, set[Any]]:
    """The values each param's `when` conditions name (they must stay valid choices)."""
    out: dict[str, set[Any]] = {}
    for spec in specs.values():
        if isinstance(spec, Mapping) and isinstance(spec.get("when"), Mapping):
            for target, values in spec["when"].items():
                listed = values if isinstance(values, (list, tuple)) else [values]
                out.setdefault(target, set()).update(listed)
    return out


def _advice(data: SweepData) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(param, edge, value, suggested spec) for every sampled param with values to go on."""
    ranked = _ranked(data)
    specs = _specs(data)
    keep = _when_values(specs)
    out = []
    for name, dist in data.distributions.items():
        values = _present(ranked[f"params.{name}"]) if len(ranked) else []
        if not values:
            continue
        best = values[:_top(len(values), BEST_SHARE)]
        top = values[:_top(len(values), TOP_SHARE)]
        spec = specs.get(name)
        spec = {k: v for k, v in spec.items() if k == "when"} if isinstance(spec, Mapping) \
            else {}
        if isinstance(dist, CategoricalDistribution):
            out.append((name, *_categorical_advice(dist, best, top, spec, keep.get(name, set()))))
        elif isinstance(dist, (FloatDistribution, IntDistribution)):
            out.append((name, *_numeric_advice(dist, values, best, top, spec)))
    return out


def boundary_warnings(data: SweepData) -> list[BoundaryWarning]:
    """Params whose best trials lie at an edge of the searched range (see the module doc).

    >>> [w.message for w in boundary_warnings(load_sweep(client, sweep_id))]
    ['lr: the best trials lie at the high edge of the range (log scale) ...']
    """
    return [BoundaryWarning(name, edge, value, spec)
            for name, edge, value, spec in _advice(data) if edge]


def suggest_space(data: SweepData) -> dict[str, Any]:
    """The sweep's `space:` narrowed to its top quartile, widened past every edge the best
    trials touch; params without values to go on (and fixed ones) keep their spec.

    >>> suggest_space(data)["lr"]
    {'type': 'float', 'low': 0.0123, 'high': 10.0, 'log': True}
    """
    specs = _specs(data)
    advice = {name: spec for name, _, _, spec in _advice(data)}
    names = list(specs) + [n for n in data.distributions if n not in specs]
    out: dict[str, Any] = {}
    for name in names:
        if name in advice:
            out[name] = advice[name]
        elif name in specs:
            out[name] = specs[name]
    return out


def space_yaml(space: Mapping[str, Any]) -> str:
    """`space:` and its params as YAML, ready to paste into a sweep config."""
    return yaml.safe_dump({"space": dict(space)}, sort_keys=False, default_flow_style=None,
                          allow_unicode=True)


def importance_verdict(scores: Mapping[str, tuple[float, float, float]], *,
                       completed: int) -> ImportanceVerdict:
    """Whether the top two params by importance stand apart from the rest.

    `scores` maps a param to (importance, interval low, interval high). The pair is named
    only with at least MIN_IMPORTANCE_TRIALS completed trials and when both lower bounds lie
    above every other param's upper bound.

    >>> importance_verdict({"x": (.6, .5, .7), "y": (.3, .2, .4), "z": (.1, 0, .15)},
    ...                    completed=40).pair
    ('x', 'y')
    """
    if completed < MIN_IMPORTANCE_TRIALS:
        return ImportanceVerdict(None, (
            f"Only {completed} completed trials: no importance is claimed below "
            f"{MIN_IMPORTANCE_TRIALS}, one lucky trial would drive the ranking."))
    ranked = sorted(scores.items(), key=lambda item: -item[1][0])
    if len(ranked) < 2:
        return ImportanceVerdict(None, "Fewer than two params have an importance score.")
    (a, sa), (b, sb), rest = ranked[0], ranked[1], ranked[2:]
    if not rest:
        return ImportanceVerdict((a, b), f"{a} and {b} are the only params that vary.")
    ceiling = max(high for _, (_, _, high) in rest)
    if min(sa[1], sb[1]) > ceiling:
        return ImportanceVerdict((a, b), (
            f"{a} and {b} are the two most important params: their importance intervals lie "
            "above every other param's."))
    return ImportanceVerdict(None, (
        f"The importance intervals do not separate two params from the rest ({a} and {b} "
        f"rank first, but {rest[0][0]}'s interval overlaps): no pair is the most important."))
