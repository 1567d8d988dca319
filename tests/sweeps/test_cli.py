"""The `sweeps` command as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def sweeps_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeps.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"})


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sweeps: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def config_file(project, make_config) -> Path:
    path = project / "sweep.yaml"
    path.write_text(yaml.safe_dump(make_config("sample_objectives:quick",
                                               budget={"trials": 4})))
    return path


def test_run_then_ls_show_export(project, config_file):
    run = sweeps_cli("run", str(config_file), "--no-report")
    assert run.returncode == 0, run.stderr
    assert "Top trials of test" in run.stdout and "Best: trial" in run.stdout
    listing = sweeps_cli("ls")
    assert "test" in listing.stdout and "FINISHED" in listing.stdout
    tree = sweeps_cli("ls", "test")
    assert "sweep: 4 finished" in tree.stdout
    trial_id = next(line.split()[1] for line in tree.stdout.splitlines() if "trial-0" in line)
    show = sweeps_cli("show", trial_id)
    assert show.returncode == 0 and "trial.number" in show.stdout and "loss" in show.stdout
    export = sweeps_cli("export", "test", "-o", "trials.csv")
    assert export.returncode == 0, export.stderr
    with open("trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and "metrics.loss" in rows[0]


def test_overrides_and_shortcuts_reach_the_sweep(project, config_file):
    run = sweeps_cli("run", str(config_file), "--trials", "2", "--set", "experiment=other",
                     "--no-report", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "sweep: 2 finished" in sweeps_cli("ls", "other").stdout


def test_validate_prints_the_resolved_config_and_grid_size(project):
    path = project / "grid.yaml"
    path.write_text(yaml.safe_dump({
        "experiment": "g", "objective": "sample_objectives:quick",
        "metric": {"name": "loss", "goal": "min"},
        "space": {"a": [1, 2, 3], "b": {"type": "int", "low": 0, "high": 8, "step": 2}},
        "sampler": "grid"}))
    result = sweeps_cli("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert "Grid points: 15" in result.stdout
    assert "goal: minimize" in result.stdout


@pytest.mark.parametrize("args, fragments", [
    (["run", "missing.yaml"], ["missing.yaml"]),
    (["run", "bad.yaml"], ["space.x.low: must be > 0 when log: true"]),
    (["run", "sweep.yaml", "--trials", "0"], ["--trials", "must be >= 1"]),
    (["run", "sweep.yaml", "--set", "budget.trails=3"], ["budget.trails", "did you mean"]),
    (["run", "sweep.yaml", "--backend", "slurm"], ["execution.backend", "local"]),
    (["show", "0123456789abcdef"], ["run '0123456789abcdef' not found"]),
    (["ls", "nope"], ["no experiment named 'nope'"]),
    (["report", "nope"], ["nope"]),
    (["resume", "nope"], ["nope"]),
    (["export", "nope"], ["nope"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_bad_input_is_one_line_and_exit_code_2(project, config_file, args, fragments):
    (project / "bad.yaml").write_text(yaml.safe_dump({
        "experiment": "b", "objective": "sample_objectives:quick",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": 0, "high": 1, "log": True}}}))
    sweeps_cli("run", str(config_file), "--no-report", "--quiet")
    one_line_error(sweeps_cli(*args), *fragments)


def test_an_objective_that_cannot_be_imported_stops_before_any_trial(tmp_path, config_file):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = sweeps_cli("run", str(config_file), "--root", str(tmp_path / "store"),
                        cwd=elsewhere)
    one_line_error(result, "cannot find module 'sample_objectives'")


def test_reading_commands_never_create_a_store(tmp_path):
    for args in (["ls"], ["show", "abc"], ["report", "x"], ["export", "x"], ["resume", "x"]):
        result = sweeps_cli(*args, "--root", str(tmp_path / "nothing"), cwd=tmp_path)
        one_line_error(result, "no tracking store at")
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize("port", ["0", "99999", "http"])
def test_ui_port_must_be_a_port(tmp_path, port):
    one_line_error(sweeps_cli("ui", "--port", port, cwd=tmp_path), "--port")
