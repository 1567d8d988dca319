"""`sweeps pause | resume | stop | cancel` on live sweeps: the sweep runs in one process
(`python -m sweeps.cli run`), the command comes from another, through the store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import sweeps
from sweeps import records
from tracking import Client

pytestmark = pytest.mark.timeout(120)

OBJECTIVE = '''
import os, time, uuid

def slow(params):
    """Marks its start and end in params["marks"] (a file each), sleeping params["sleep"]
    between."""
    name = os.path.join(params["marks"], uuid.uuid4().hex)
    open(name + ".start", "w").close()
    time.sleep(params["sleep"])
    open(name + ".done", "w").close()
    return {"loss": params["x"] ** 2}
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "slow_objective.py").write_text(textwrap.dedent(OBJECTIVE))
    (tmp_path / "marks").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(sleep: float, *, trials: int, workers: int, backend: str = "local") -> dict:
    return {"experiment": "ctl", "objective": "slow_objective:slow",
            "metric": {"name": "loss", "goal": "minimize"},
            "space": {"x": {"type": "float", "low": -1.0, "high": 1.0}, "sleep": sleep,
                      "marks": os.path.abspath("marks")},
            "sampler": {"type": "random", "seed": 0}, "budget": {"trials": trials},
            "execution": {"backend": backend, "workers": workers}, "report": False}


def start_sweep(project: Path, cfg: dict, root: str = "runs") -> subprocess.Popen:
    """`sweeps run` in a process of its own; its output goes to sweep.log."""
    (project / "sweep.yaml").write_text(yaml.safe_dump(cfg))
    with open(project / "sweep.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "sweeps.cli", "run", "sweep.yaml",
                                 "--root", root, "--quiet"], cwd=project, stdout=log,
                                stderr=subprocess.STDOUT)


def cli(project: Path, *args: str, root: str = "runs") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeps.cli", *args, "--root", root],
                          cwd=project, capture_output=True, text=True, timeout=60)


def marks(project: Path, kind: str) -> int:
    return sum(1 for name in os.listdir(project / "marks") if name.endswith(kind))


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def statuses(project: Path, root: str = "runs") -> tuple[records.SweepRecord, list[str]]:
    client = Client(root if "://" in root else project / root)
    sweep = records.find_sweep(client, "ctl")
    return (records.SweepRecord.from_run(sweep),
            [t.status.value for t in records.load_trials(client, sweep)])


def test_pause_holds_new_trials_until_resume(project: Path) -> None:
    sweep = start_sweep(project, config(5.0, trials=2, workers=1))
    try:
        wait_for(lambda: marks(project, ".start") == 1, "the first trial to start")
        paused = cli(project, "pause", "ctl")
        assert paused.returncode == 0 and "pauses" in paused.stdout, paused
        assert "RUNNING (paused)" in cli(project, "ls", "ctl").stdout
        wait_for(lambda: marks(project, ".done") == 1, "the running trial to finish")
        time.sleep(2.0)  # four control reads: nothing starts while paused
        assert marks(project, ".start") == 1
        assert "already paused" in cli(project, "pause", "ctl").stdout
        resumed = cli(project, "resume", "ctl")
        assert resumed.returncode == 0 and "resumes" in resumed.stdout, resumed
        assert sweep.wait(timeout=60) == 0, (project / "sweep.log").read_text()
    finally:
        sweep.kill()
        sweep.wait()
    record, trials = statuses(project)
    assert record.run.info.status.value == "FINISHED" and marks(project, ".done") == 2
    assert trials.count("FINISHED") == 2  # the trial sent ahead was held: KILLED, then re-run
    assert set(trials) <= {"FINISHED", "KILLED"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def root(request: pytest.FixtureRequest, project: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store every process shares: a SQLite folder, or a PostgreSQL database."""
    if request.param == "sqlite":
        return "runs"
    monkeypatch.setenv("SWEEPS_ARTIFACT_ROOT", str(project / "artifacts"))
    return request.getfixturevalue("postgres_uri")


def test_stop_lets_running_trials_finish(project: Path, root: str) -> None:
    sweep = start_sweep(project, config(4.0, trials=20, workers=2), root)
    try:
        wait_for(lambda: marks(project, ".start") == 2, "two trials to start")
        stopped = cli(project, "stop", "ctl", root=root)
        assert stopped.returncode == 0 and "stops" in stopped.stdout, stopped
        started = marks(project, ".start")
        assert sweep.wait(timeout=60) == 0, (project / "sweep.log").read_text()
    finally:
        sweep.kill()
        sweep.wait()
    record, trials = statuses(project, root)
    assert record.run.info.status.value == "FINISHED"
    assert record.stop_reason == "stopped by user"
    assert marks(project, ".start") == started == marks(project, ".done")  # none new, all done
    assert trials.count("FINISHED") == started and set(trials) <= {"FINISHED", "KILLED"}
    again = cli(project, "stop", "ctl", root=root)
    assert again.returncode == 2 and "is not running (it is FINISHED)" in again.stderr
    assert len(again.stderr.splitlines()) == 1


def test_cancel_kills_running_trials(project: Path) -> None:
    sweep = start_sweep(project, config(60.0, trials=4, workers=2))
    try:
        wait_for(lambda: marks(project, ".start") == 2, "two trials to start")
        cancelled = cli(project, "cancel", "ctl")
        began = time.monotonic()
        assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout, cancelled
        assert sweep.wait(timeout=30) == 1, (project / "sweep.log").read_text()
        assert time.monotonic() - began < 15
        assert "Cancelled" in (project / "sweep.log").read_text()
    finally:
        sweep.kill()
        sweep.wait()
    record, trials = statuses(project)
    assert record.run.info.status.value == "KILLED"
    assert record.stop_reason == "cancelled by user"
    assert trials and set(trials) == {"KILLED"} and marks(project, ".done") == 0


def test_bad_requests_answer_in_one_line(project: Path) -> None:
    result = sweeps.run(config(0.0, trials=1, workers=1), tracking_uri="runs", report=False)
    for args, fragment in [(("pause", "nosuch"), "no sweep with id, id prefix or name"),
                           (("cancel", "ctl"), "is not running (it is FINISHED)"),
                           (("resume", result.sweep_run_id), "finished: nothing to resume")]:
        answer = cli(project, *args)
        assert answer.returncode == 2 and fragment in answer.stderr, answer
        assert len(answer.stderr.splitlines()) == 1 and "Traceback" not in answer.stderr


def test_resume_of_a_dead_paused_sweep_runs_it(project: Path) -> None:
    """A paused sweep whose process died is resumed as today (and not left paused)."""
    result = sweeps.run(config(0.0, trials=1, workers=1), tracking_uri="runs", report=False)
    client = Client(project / "runs")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with client.batch() as writes:  # its coordinator died while it was paused
        writes.set_tags(result.sweep_run_id, {records.CONTROL: "pause", records.COORDINATOR:
                                              f"{socket.gethostname()}:{dead}"})
        writes.reopen(result.sweep_run_id)
    gone = cli(project, "stop", result.sweep_run_id)
    assert gone.returncode == 2 and "its process is gone" in gone.stderr, gone
    resumed = cli(project, "resume", result.sweep_run_id, "--quiet", "--no-report")
    assert resumed.returncode == 0 and "resumes" not in resumed.stdout, resumed
    sweep = client.get_run(result.sweep_run_id)
    assert sweep.info.status.value == "FINISHED" and sweep.data.tags[records.CONTROL] == "run"


@pytest.mark.ray
@pytest.mark.slow
def test_pause_and_cancel_on_ray(project: Path) -> None:
    """Pause, resume and cancel on the Ray backend (a local Ray runtime in the sweep's
    process)."""
    sweep = start_sweep(project, config(4.0, trials=6, workers=2, backend="ray"))
    try:
        wait_for(lambda: marks(project, ".start") == 2, "two Ray trials to start", 90)
        assert cli(project, "pause", "ctl").returncode == 0
        wait_for(lambda: marks(project, ".done") == 2, "the running trials to finish")
        time.sleep(1.5)
        assert marks(project, ".start") == 2  # nothing started while paused
        assert cli(project, "resume", "ctl").returncode == 0
        wait_for(lambda: marks(project, ".start") == 4, "two more Ray trials to start")
        assert cli(project, "cancel", "ctl").returncode == 0
        assert sweep.wait(timeout=30) == 1, (project / "sweep.log").read_text()
    finally:
        sweep.kill()
        sweep.wait()
    record, trials = statuses(project)
    assert record.run.info.status.value == "KILLED" and marks(project, ".done") == 2
    assert trials.count("FINISHED") == 2 and trials.count("KILLED") >= 2  # the last two
    assert set(trials) <= {"FINISHED", "KILLED"}
