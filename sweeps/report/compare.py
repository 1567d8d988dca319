"""The parts of a comparison report (`sweeps report A B …`) that one sweep's report has not:
what changed between the sweeps' stored configs, and their importances in one table.

    config_diff([a.config, b.config])  # [("sampler.seed", [0, 1]), ("budget.trials", [30, 20])]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sweeps.report.page import SweepView, esc

MISSING = "(not set)"


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and (value or not prefix):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def flatten(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config as dotted keys: `{"sampler": {"seed": 0}}` -> `{"sampler.seed": 0}`.

    Lists (a categorical's choices) stay whole values."""
    out: dict[str, Any] = {}
    _flatten(config or {}, "", out)
    return out


def config_diff(configs: Sequence[Mapping[str, Any] | None]) -> list[tuple[str, list[Any]]]:
    """Exactly the dotted keys whose values differ between the configs (a key one config
    lacks counts as changed, its value MISSING), in first-seen order, with each value.

    >>> config_diff([{"sampler": {"seed": 0}, "x": 1}, {"sampler": {"seed": 1}, "x": 1}])
    [('sampler.seed', [0, 1])]
    """
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    out = []
    for key in keys:
        values = [f.get(key, MISSING) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out.append((key, values))
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return "null" if value is None else str(value)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return ('<div class="scroll"><table class="grid"><thead><tr>'
            + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                      for row in rows) + "</tbody></table></div>")


def config_diff_html(views: Sequence[SweepView]) -> str:
    """The config diff as a table: one row per changed key, one column per sweep."""
    changed = config_diff([v.data.config for v in views])
    if not changed:
        return '<p class="muted">The sweeps were run from identical configs.</p>'
    rows = [[key, *(_cell(v) for v in values)] for key, values in changed]
    missing = [v.data.label for v in views if v.data.config is None]
    note = f'<p class="muted">No stored config for {esc(", ".join(missing))}.</p>' \
        if missing else ""
    return (f"<p>{len(changed)} config key{'s' if len(changed) > 1 else ''} changed.</p>"
            + _table(["key", *(v.data.label for v in views)], rows) + note)


def importance_html(views: Sequence[SweepView],
                    scores: Sequence[Mapping[str, tuple[float, float, float]]]) -> str:
    """PED-ANOVA importance of every param in every sweep, with its 90% interval."""
    params = list(dict.fromkeys(p for s in scores for p in sorted(s, key=lambda n: -s[n][0])))
    if not params:
        return ('<p class="notice">No sweep has an importance ranking (each needs 20 completed '
                "trials and a single objective).</p>")
    rows = [[p, *(f"{s[p][0]:.3f} [{s[p][1]:.3f}, {s[p][2]:.3f}]" if p in s else ""
                  for s in scores)] for p in params]
    return (_table(["param", *(v.data.label for v in views)], rows)
            + '<p class="caption">PED-ANOVA importance [90% bootstrap interval]; an empty cell '
            "means the sweep has no ranking for that param (too few trials, or not in its "
            "space).</p>")
