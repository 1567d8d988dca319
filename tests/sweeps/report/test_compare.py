"""A comparison report: one page with the config diff, overlays and each sweep folded."""

from __future__ import annotations

import re

from sweeps.report import write_report
from sweeps.report.compare import MISSING, config_diff, flatten
from sweeps.report.data import load_sweep


def test_config_diff_lists_exactly_the_changed_keys(project, quad_sweep, quad_sweep_b):
    configs = [load_sweep(project.client, s).config for s in (quad_sweep, quad_sweep_b)]
    changed = dict(config_diff(configs))
    assert set(changed) == {"experiment", "sampler.seed", "budget.trials"}
    assert changed["sampler.seed"] == [0, 1] and changed["budget.trials"] == [30, 20]
    assert config_diff([configs[0], configs[0]]) == []


def test_config_diff_of_space_ranges_and_missing_keys():
    a = {"space": {"x": {"type": "float", "low": 0, "high": 1}, "c": ["a", "b"]},
         "budget": {"trials": 10}}
    b = {"space": {"x": {"type": "float", "low": 0, "high": 2}, "c": ["a", "b", "d"]},
         "budget": {"trials": 10, "timeout": 60}}
    assert config_diff([a, b]) == [("space.x.high", [1, 2]), ("space.c", [["a", "b"],
                                                                           ["a", "b", "d"]]),
                                   ("budget.timeout", [MISSING, 60])]
    assert flatten(None) == {}


def test_comparison_is_one_page_with_each_sweep_folded(project, quad_sweep, quad_sweep_b,
                                                      tmp_path):
    text = write_report(project.client, [quad_sweep, quad_sweep_b],
                        tmp_path / "compare.html").read_text()
    diff = text[text.index('<section id="diff">'):text.index('<section id="summary">')]
    rows = re.findall(r"<tr><td>([^<]+)</td>", diff)
    assert sorted(rows) == ["budget.trials", "experiment", "sampler.seed"]
    assert text.index('id="diff"') < text.index('id="summary"') < text.index('id="best"') \
        < text.index('id="history"') < text.index('id="importance"') < text.index('id="s0"')
    assert text.count('<details class="sweep"') == 2
    folded = text[text.index('<details class="sweep" id="s1">'):]
    assert 'id="s1-parallel"' in folded and 'id="s1-runs"' in folded
    assert "Parameter importance, side by side" in text


def test_importance_table_has_every_param_of_every_sweep():
    from types import SimpleNamespace

    from sweeps.report.compare import importance_html

    views = [SimpleNamespace(data=SimpleNamespace(label=name)) for name in ("a", "b")]
    text = importance_html(views, [{"x": (0.6, 0.5, 0.7), "y": (0.1, 0.0, 0.2)},
                                   {"z": (0.9, 0.8, 1.0)}])
    rows = re.findall(r"<tr><td>(\w)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", text)
    assert rows == [("x", "0.600 [0.500, 0.700]", ""), ("y", "0.100 [0.000, 0.200]", ""),
                    ("z", "", "0.900 [0.800, 1.000]")]
    assert "No sweep has an importance ranking" in importance_html(views, [{}, {}])
