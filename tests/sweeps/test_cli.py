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
    (["show", "0123456789abcdef"], ["no run with id, id prefix or name '0123456789abcdef'"]),
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


def _sweep_ids(project: Path) -> list[str]:
    """Sweep run ids in the project's store, newest first."""
    from tracking import Client
    client = Client(str(project / "runs"))
    experiment = client.get_experiment_by_name("test")
    return [r.info.run_id for r in client.search_runs(
        [experiment.experiment_id], "tags.`sweep.role` = 'sweep'",
        order_by=["attributes.start_time DESC"])]


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_misspelt_or_unusable_function_is_refused_before_anything_is_stored(
        project, config_file, command):
    (project / "odd.py").write_text("def three(a, b, c):\n    return 0.0\n"
                                    "def star(*args):\n    return 0.0\n")
    (project / "broken.py").write_text("import no_such_module_here\n")
    for objective, fragment in (
            ("sample_objectives:quik", "objective: module 'sample_objectives' has no function "
                                       "'quik' (did you mean 'quick'?)"),
            ("odd:three", "odd:three must take (params) or (params, trial)"),
            ("broken:f", "importing module 'broken' failed: ModuleNotFoundError")):
        result = sweeps_cli(command, str(config_file), "--set", f"objective={objective}")
        one_line_error(result, fragment)
    assert not (project / "runs").exists()  # no experiment, no run, not even a store
    result = sweeps_cli("validate", str(config_file), "--set", "objective=odd:star")
    assert result.returncode == 0, result.stderr


def test_two_sweeps_of_one_experiment_keep_two_reports(project, make_config):
    path = project / "sweep.yaml"
    path.write_text(yaml.safe_dump(make_config("sample_objectives:quick", report=True,
                                               budget={"trials": 2})))
    for name in ("first", "second"):
        result = sweeps_cli("run", str(path), "--quiet", "--set", f"name={name}")
        assert result.returncode == 0, result.stderr
        # the summary first, then the report is written and its path printed
        order = [result.stdout.find(text) for text in
                 ("Top trials of test", "Best: trial", "Writing report...", "Report: ")]
        assert -1 < order[0] < order[1] < order[2] < order[3], result.stdout
    second, first = _sweep_ids(project)
    per_sweep = sorted(p.name for p in (project / "reports" / "test").glob("*.html"))
    assert per_sweep == sorted([f"first-{first[:8]}.html", f"second-{second[:8]}.html"])
    latest = project / "reports" / "test.html"
    assert second in latest.read_text() and first not in latest.read_text()
    before = latest.stat().st_mtime_ns
    rebuilt = sweeps_cli("report", "first")  # an earlier sweep: the latest copy stays
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"reports/test/first-{first[:8]}.html" in rebuilt.stdout
    assert latest.stat().st_mtime_ns == before


def test_runs_are_found_by_id_prefix_and_by_name(project, config_file):
    for name in ("alpha", "beta"):
        result = sweeps_cli("run", str(config_file), "--no-report", "--quiet", "--set",
                            f"name={name}")
        assert result.returncode == 0, result.stderr
    beta, alpha = _sweep_ids(project)
    shown = sweeps_cli("show", alpha[:6])
    assert shown.returncode == 0 and f"Run {alpha}" in shown.stdout
    assert f"Run {beta}" in sweeps_cli("show", "beta").stdout
    exported = sweeps_cli("export", "alpha")
    assert exported.returncode == 0 and alpha in exported.stdout and beta not in exported.stdout
    one_line_error(sweeps_cli("show", "trial-0"), "'trial-0' matches 2 runs", "(trial-0)")
    one_line_error(sweeps_cli("show", alpha[:5]), "an id prefix needs 6+ characters")
    one_line_error(sweeps_cli("export", "trial-0"), "no sweep with id, id prefix or name")
    one_line_error(sweeps_cli("resume", beta[:7]), f"sweep beta ({beta}) finished")


def test_run_resume_refuses_a_finished_sweep_unless_new(project, config_file):
    assert sweeps_cli("run", str(config_file), "--no-report", "--quiet").returncode == 0
    (sweep,) = _sweep_ids(project)
    one_line_error(sweeps_cli("run", str(config_file), "--resume", "--no-report"),
                   "the latest sweep of 'test'", f"({sweep}), finished", "--new")
    assert len(_sweep_ids(project)) == 1
    again = sweeps_cli("run", str(config_file), "--resume", "--new", "--no-report", "--quiet")
    assert again.returncode == 0, again.stderr
    newest, _ = _sweep_ids(project)
    from tracking import Client
    Client(str(project / "runs")).set_terminated(newest, "KILLED")  # as after Ctrl-C
    resumed = sweeps_cli("run", str(config_file), "--resume", "--no-report", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert _sweep_ids(project)[0] == newest and len(_sweep_ids(project)) == 2


def test_a_pruner_type_override_drops_the_replaced_options_with_a_note(project, config_file):
    config = yaml.safe_load(config_file.read_text())
    config["pruner"] = {"type": "median", "warmup_steps": 3}
    config_file.write_text(yaml.safe_dump(config))
    result = sweeps_cli("validate", str(config_file), "--set", "pruner.type=none")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "sweeps: note: pruner.type is now none (was 'median'): dropped the options none does "
        "not take: warmup_steps"]


@pytest.mark.parametrize("special", ["/dev/null", "fifo"])
def test_a_config_that_is_not_a_regular_file_is_refused(project, special):
    if special == "fifo":
        os.mkfifo(project / "fifo")
        special = str(project / "fifo")
    for command in ("validate", "run"):
        one_line_error(sweeps_cli(command, special), "not a regular file")


def test_a_huge_integer_override_is_one_line(project, config_file):
    one_line_error(sweeps_cli("validate", str(config_file), "--set",
                              "budget.trials=" + "9" * 4301), "integer too large")


def test_report_pauses_the_collector_and_restores_it_even_on_error():
    import gc

    from sweeps.cli import _collector_paused
    frozen = gc.get_freeze_count()
    with pytest.raises(KeyError), _collector_paused():
        assert not gc.isenabled()
        raise KeyError("x")
    assert gc.isenabled() and gc.get_freeze_count() == frozen
