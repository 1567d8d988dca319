"""What to try next, on real sweeps: boundary warnings, `suggest`, honest importance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

import sweeps
from sweeps.advice import (
    MIN_IMPORTANCE_TRIALS,
    boundary_warnings,
    importance_verdict,
    space_yaml,
    suggest_space,
)
from sweeps.config import parse_config
from sweeps.report.data import load_sweep
from sweeps.space import Space
from tracking import Client

OBJECTIVES = '''
def edge(params):
    """The optimum of x lies above the range [0, 1]; lr's at 10 (above [1e-4, 1], log);
    n_trees's at the last choice; y's inside."""
    import math
    return {"loss": 20.0 * (params["x"] - 2.0) ** 2 + 80.0 * (params["y"] - 0.5) ** 2
            + 4.0 * (math.log10(params["lr"]) - 1.0) ** 2 + 5000.0 / params["n_trees"]}


def broken(params):
    raise RuntimeError("always")


def inside(params):
    """Every optimum inside the ranges: x at 0.5, y at 0.4, lr at 1e-2, n_trees at 100."""
    import math
    return {"loss": (params["x"] - 0.5) ** 2 + (params["y"] - 0.4) ** 2
            + 0.1 * (math.log10(params["lr"]) + 2.0) ** 2
            + 0.01 * abs(params["n_trees"] - 100)}
'''


def _config(objective: str, trials: int = 60) -> dict[str, Any]:
    return {
        "experiment": objective, "objective": f"advice_objectives:{objective}",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                  "y": {"type": "float", "low": 0.0, "high": 1.0},
                  "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
                  "n_trees": [50, 100, 200]},
        "sampler": {"type": "tpe", "seed": 3}, "budget": {"trials": trials},
        "execution": {"workers": 1}, "report": False}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("advice")
    (folder / "advice_objectives.py").write_text(OBJECTIVES)
    return folder


def _run(root: Path, config: dict[str, Any]) -> Any:
    old = os.getcwd()
    os.chdir(root)
    try:
        result = sweeps.run(config, tracking_uri=root / "runs", report=False)
    finally:
        os.chdir(old)
    return load_sweep(Client(root / "runs"), result.sweep_run_id)


@pytest.fixture(scope="module")
def edge_data(root: Path) -> Any:
    return _run(root, _config("edge"))


@pytest.fixture(scope="module")
def inside_data(root: Path) -> Any:
    return _run(root, _config("inside"))


def test_boundary_warnings_name_exactly_the_params_at_an_edge(edge_data):
    warnings = {w.param: w for w in boundary_warnings(edge_data)}
    assert set(warnings) == {"x", "lr", "n_trees"}
    x = warnings["x"]
    assert x.edge == "high" and x.suggested["high"] > 1.0 and x.suggested["low"] < 1.0
    assert "x: the best trials lie at the high edge" in x.message
    lr = warnings["lr"]
    assert lr.edge == "high" and lr.suggested["log"] is True and lr.suggested["high"] >= 10
    assert "(log scale)" in lr.message
    trees = warnings["n_trees"]
    assert trees.edge == "last" and trees.value == 200 and trees.suggested["choices"][-1] == 400


def test_no_warning_when_every_optimum_is_inside(inside_data):
    assert boundary_warnings(inside_data) == []


def test_suggest_narrows_to_the_top_quartile_and_parses_as_a_space(edge_data, inside_data):
    for data in (edge_data, inside_data):
        text = space_yaml(suggest_space(data))
        block = yaml.safe_load(text)
        space = Space.from_mapping(block["space"])
        assert space.names == ("x", "y", "lr", "n_trees")
        config = {**_config("edge"), "space": block["space"]}
        parse_config(config)  # the pasted block makes a valid config
    narrowed = suggest_space(inside_data)
    assert 0.0 < narrowed["x"]["low"] < 0.5 < narrowed["x"]["high"] < 1.0
    assert narrowed["x"]["high"] - narrowed["x"]["low"] < 1.0
    widened = suggest_space(edge_data)
    assert widened["x"]["high"] == 1.5 and widened["y"]["high"] <= 1.0


def test_importance_names_a_pair_only_when_intervals_separate_it():
    apart = {"x": (0.6, 0.5, 0.7), "y": (0.3, 0.25, 0.4), "z": (0.1, 0.0, 0.2)}
    assert importance_verdict(apart, completed=40).pair == ("x", "y")
    overlap = {"x": (0.6, 0.5, 0.7), "y": (0.3, 0.1, 0.4), "z": (0.1, 0.0, 0.2)}
    verdict = importance_verdict(overlap, completed=40)
    assert verdict.pair is None and "do not separate" in verdict.message
    few = importance_verdict(apart, completed=MIN_IMPORTANCE_TRIALS - 1)
    assert few.pair is None and f"Only {MIN_IMPORTANCE_TRIALS - 1} completed" in few.message


def test_cli_suggest_prints_a_space_block_that_parses(root, edge_data, capsys):
    from sweeps.cli import main

    assert main(["suggest", edge_data.run_id, "--root", str(root / "runs")]) == 0
    out = capsys.readouterr().out
    assert "# x: the best trials lie at the high edge" in out
    block = yaml.safe_load(out)
    assert list(block) == ["space"]
    assert Space.from_mapping(block["space"]).names == ("x", "y", "lr", "n_trees")
    assert main(["suggest", "no-such-sweep", "--root", str(root / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sweep with id" in err


def test_cli_suggest_refuses_a_sweep_with_no_completed_trial(root, capsys):
    from sweeps.cli import main

    data = _run(root, {**_config("broken", trials=2), "budget": {"trials": 2}})
    assert main(["suggest", data.run_id, "--root", str(root / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no completed trial to suggest from" in err
