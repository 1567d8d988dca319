"""The report says what to try next: boundary warnings, honest importance, brushable data."""

from __future__ import annotations

import json
import re

from sweeps.report import write_report
from sweeps.report.data import load_sweep


def _block(text: str, key: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{key}-json">(.*?)</script>', text,
                      flags=re.S)
    assert match, key
    return json.loads(match[1])


def _div(text: str, key: str) -> str:
    start = text.index(f'<div class="figure" id="{key}-figure">')
    ends = [i for i in (text.find('<div class="figure"', start + 1),
                        text.find("</section>", start)) if i > 0]
    return text[start:min(ends)]


def test_boundary_warning_in_the_summary_and_beside_the_slices(project, edge_sweep, tmp_path):
    text = write_report(project.client, [edge_sweep], tmp_path / "edge.html").read_text()
    summary = text[text.index('<section id="summary">'):text.index('<section id="best">')]
    assert "What to try next" in summary
    assert "x: the best trials lie at the high edge of the range" in summary
    assert "y: the best" not in summary and "z: the best" not in summary
    assert "sweeps suggest" in summary
    slices = _div(text, "s0-slice")
    assert "x: the best trials lie at the high edge of the range" in slices


def test_no_warning_without_an_edge(project, keys_sweep, tmp_path):
    """keys: n in 0..5, best at n == 4 (n < 4 fails or scores worse)."""
    text = write_report(project.client, [keys_sweep], tmp_path / "keys.html").read_text()
    assert "What to try next" not in text and 'class="notice warnings"' not in text


def test_contour_names_the_top_pair_only_when_intervals_separate_it(project, edge_sweep,
                                                                   tiny_sweep, tmp_path):
    text = write_report(project.client, [edge_sweep], tmp_path / "edge.html").read_text()
    contour = _block(text, "s0-contour")
    labels = [v["label"] for v in contour["variants"]]
    assert sorted(labels) == ["x × y", "x × z", "y × z"]
    caption = _div(text, "s0-contour")
    if "their importance intervals lie above" in caption:
        assert labels[0] == "x × y"
    else:
        assert "do not separate" in caption
    few = write_report(project.client, [tiny_sweep], tmp_path / "tiny.html").read_text()
    assert "no importance is claimed below 20" in _div(few, "s0-contour")
    assert "no importance is claimed below 20" in few[few.index('id="s0-importance"'):]
    assert "most important" not in _div(few, "s0-contour")


def test_parallel_coordinates_are_brushable_parcoords(project, quad_sweep, tmp_path):
    text = write_report(project.client, [quad_sweep], tmp_path / "quad.html").read_text()
    figure = _block(text, "s0-parallel")
    trace = figure["data"][0]
    assert trace["type"] == "parcoords"
    labels = [d["label"] for d in trace["dimensions"]]
    assert labels[-1] == "loss" and "x" in labels and "const" not in labels
    data = load_sweep(project.client, quad_sweep)
    done = sorted(data.final.loc[data.final["status"] == "FINISHED", "number"].tolist())
    assert sorted(figure["brush"]["numbers"]) == done
    assert all(len(d["values"]) == len(done) for d in trace["dimensions"])
    momentum = next(d for d in trace["dimensions"] if d["label"] == "momentum")
    assert momentum["ticktext"][0] == "inactive"  # adam trials have no momentum
    assert _block(text, "s0-curves")["controls"][0] == "logy"
    assert _block(text, "all-history-0")["controls"] == ["logy"]


def test_suggest_keeps_conditions_valid(project, quad_sweep):
    """momentum is active `when: {opt: sgd}`: sgd stays a choice even if no top trial used it."""
    import yaml

    from sweeps.advice import space_yaml, suggest_space
    from sweeps.space import Space

    block = yaml.safe_load(space_yaml(suggest_space(load_sweep(project.client, quad_sweep))))
    space = Space.from_mapping(block["space"])
    assert space.names == ("x", "y", "lr", "opt", "momentum", "const")
    assert "sgd" in block["space"]["opt"]["choices"]
    assert block["space"]["momentum"]["when"] == {"opt": ["sgd"]}
    assert block["space"]["const"] == {"type": "categorical", "choices": ["only"]}
