"""Command-line objectives: placeholders, event lines, the tracking API, pruning, streams."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import sweeps
import tracking
from sweeps import records
from sweeps.objectives import command_argv


def test_command_argv_substitutes_without_a_shell(tmp_path):
    (tmp_path / "train.py").write_text("")
    argv = command_argv("python train.py --name {name} --lr {lr:.2f} --opt {missing}",
                        {"name": "a b; rm -rf /", "lr": 0.123}, str(tmp_path))
    assert argv == [sys.executable, str(tmp_path / "train.py"), "--name", "a b; rm -rf /",
                    "--lr", "0.12", "--opt", ""]


def test_python_in_a_command_is_the_interpreter_running_sweepbook(tmp_path):
    assert command_argv("python3 -c pass", {}, str(tmp_path))[0] == sys.executable
    assert command_argv("env A=1 {python} -c pass", {}, str(tmp_path)) == \
        ["env", "A=1", sys.executable, "-c", "pass"]
    assert command_argv("echo python", {}, str(tmp_path)) == ["echo", "python"]


def test_a_failing_python_command_names_its_interpreter(project):
    (project / "script.py").write_text("import sys\nsys.exit(4)\n")
    result = run_command_sweep("python script.py --x {x}", budget={"trials": 1})
    (trial,) = only_trials(result)
    assert trial.run.data.tags[records.INTERPRETER] == sys.executable
    assert trial.run.data.tags[records.ERROR] == \
        f"command exited with code 4 (python: {sys.executable})"


def test_command_objective_reports_through_tracking_and_printed_lines(project):
    config = {
        "experiment": "cmd",
        "objective": {"command": f"{sys.executable} examples/train_script.py --lr {{lr}} "
                                 "--layers {layers}"},
        "metric": {"name": "val_loss", "goal": "minimize"},
        "space": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                  "layers": {"type": "int", "low": 1, "high": 4}},
        "sampler": {"type": "random", "seed": 0}, "budget": {"trials": 3},
        "execution": {"workers": 2}, "report": False,
    }
    result = sweeps.run(config)
    assert result.status == "FINISHED"
    client = tracking.Client("runs")
    for trial in records.load_trials(client, client.get_run(result.sweep_run_id)):
        run = trial.run
        assert run.info.status is tracking.RunStatus.FINISHED, run.data.tags.get(records.ERROR)
        assert run.data.params["optimizer"] == "sgd"
        assert [m.step for m in client.get_metric_history(trial.run_id, "val_loss")] == \
            list(range(8))
        assert 0 < run.data.metrics["val_accuracy"] < 1
        assert run.data.note == f"{trial.params['layers']} layers at lr {trial.params['lr']:g}"
        assert {f.path for f in client.list_artifacts(trial.run_id)} >= {"stdout.txt",
                                                                        "stderr.txt"}


def write_script(project: Path, body: str) -> str:
    (project / "script.py").write_text(body)
    return f"{sys.executable} script.py --x {{x}}"


def run_command_sweep(command: str, **extra) -> sweeps.SweepResult:
    config = {"experiment": "cmd", "objective": {"command": command},
              "metric": {"name": "loss", "goal": "minimize"},
              "space": {"x": {"type": "float", "low": 0, "high": 1}},
              "sampler": {"type": "random", "seed": 0}, "budget": {"trials": 2},
              "execution": {"workers": 1}, "report": False, **extra}
    return sweeps.run(config)


def only_trials(result: sweeps.SweepResult) -> list[records.TrialRecord]:
    client = tracking.Client("runs")
    return records.load_trials(client, client.get_run(result.sweep_run_id))


def test_a_failing_command_fails_its_trial_with_the_stderr_tail(project):
    command = write_script(project, "import sys\nprint('<script>x</script>', file=sys.stderr)\n"
                                    "sys.exit(4)\n")
    for trial in only_trials(run_command_sweep(command)):
        assert trial.status is tracking.RunStatus.FAILED
        assert trial.run.data.tags[records.ERROR] == \
            "command exited with code 4: <script>x</script>"


def test_a_command_that_reports_nothing_fails_clearly(project):
    command = write_script(project, "print('hello')\n")
    for trial in only_trials(run_command_sweep(command)):
        assert "did not report metric 'loss'" in trial.run.data.tags[records.ERROR]


def test_malformed_event_lines_are_kept_as_output_not_fatal(project):
    command = write_script(project, "print('@tracking {not json')\n"
                                    "print('@tracking {\"metrics\": {\"loss\": 0.5}}')\n")
    for trial in only_trials(run_command_sweep(command)):
        assert trial.status is tracking.RunStatus.FINISHED
        assert trial.run.data.metrics["loss"] == 0.5
        stderr = Path(trial.run.info.artifact_uri, "stderr.txt").read_text()
        assert "ignored event line" in stderr


def test_a_hanging_command_and_its_children_are_stopped_at_the_timeout(project):
    pids = project / "pids.txt"
    command = write_script(project, "import os, subprocess, sys, time\n"
                                    "child = subprocess.Popen([sys.executable, '-c', "
                                    "'import time; time.sleep(120)'])\n"
                                    f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}} "
                                    "{child.pid}\\n')\n"
                                    "time.sleep(120)\n")
    result = run_command_sweep(command, execution={"workers": 1, "trial_timeout": 1})
    for trial in only_trials(result):
        assert "timed out after 1s" in trial.run.data.tags[records.ERROR]
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 4
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in started if _alive(pid)], "a command process outlived its trial"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_commands_are_pruned_by_the_coordinator(project):
    command = write_script(project, "import json, sys, time\n"
                                    "x = float(sys.argv[2])\n"
                                    "for step in range(20):\n"
                                    "    print('@tracking ' + json.dumps({'metrics': "
                                    "{'loss': x + 1 / (step + 1)}, 'step': step}), flush=True)\n"
                                    "    time.sleep(0.02)\n")
    result = run_command_sweep(command, budget={"trials": 12},
                               pruner={"type": "median", "n_startup_trials": 2,
                                       "warmup_steps": 2})
    pruned = [t for t in only_trials(result) if t.status is tracking.RunStatus.PRUNED]
    assert pruned
    client = tracking.Client("runs")
    for trial in pruned:
        assert len(client.get_metric_history(trial.run_id, "loss")) < 20


def _script_leaving_a_child(project: Path, code: int) -> str:
    pids = project / "child.pid"
    return write_script(project, "import subprocess, sys\n"
                                 "child = subprocess.Popen(['sleep', '30'])\n"
                                 f"open({str(pids)!r}, 'a').write(f'{{child.pid}}\\n')\n"
                                 "print('@tracking {\"metrics\": {\"loss\": 0.5}}')\n"
                                 f"sys.exit({code})\n")


def _wait_dead(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if _alive(pid)]


def test_a_command_that_leaves_a_child_ends_when_it_exits(project):
    command = _script_leaving_a_child(project, 0)
    result = run_command_sweep(command, budget={"trials": 1})
    (trial,) = only_trials(result)
    assert trial.status is tracking.RunStatus.FINISHED
    assert trial.run.data.metrics["loss"] == 0.5
    assert float(trial.run.data.tags[records.RUN_SECONDS]) < 15  # not the child's 30 s
    pids = [int(p) for p in (project / "child.pid").read_text().split()]
    assert not _wait_dead(pids), "the command's leftover child outlived its trial"


def test_a_command_exit_code_is_kept_while_its_child_lives_on(project):
    command = _script_leaving_a_child(project, 7)
    result = run_command_sweep(command, budget={"trials": 1},
                               execution={"workers": 1, "trial_timeout": 20})
    (trial,) = only_trials(result)
    assert trial.status is tracking.RunStatus.FAILED
    assert trial.run.data.tags[records.ERROR].startswith("command exited with code 7")
    assert float(trial.run.data.tags[records.RUN_SECONDS]) < 15
    pids = [int(p) for p in (project / "child.pid").read_text().split()]
    assert not _wait_dead(pids), "the command's leftover child outlived its trial"


def test_a_file_event_moves_only_files_the_trial_made_in_its_folder(project):
    outside = project / "tracking-secret.txt"
    outside.write_text("keep me")
    command = write_script(project, "import json, tracking\n"
                                    "tracking.log_text('made here', 'notes/own.txt')\n"
                                    "print('@tracking ' + json.dumps({'file': 'stolen.txt', "
                                    f"'from': {str(outside)!r}}}))\n"
                                    "tracking.log_metric('loss', 0.5)\n")
    (trial,) = only_trials(run_command_sweep(command, budget={"trials": 1}))
    assert trial.status is tracking.RunStatus.FINISHED
    assert outside.read_text() == "keep me"
    artifacts = Path(trial.run.info.artifact_uri)
    assert (artifacts / "notes" / "own.txt").read_text() == "made here"
    assert not (artifacts / "stolen.txt").exists()
    assert trial.run.data.tags["trial.warning"] == (
        f"file event refused: {str(outside)!r} is not a tracking-* file this trial created "
        "in its working folder")
