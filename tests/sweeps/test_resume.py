"""Killed sweeps resume from the store: kill -9 at several moments, Ctrl-C, SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import tracking
from sweeps import records

BUDGET = 10


def write_config(project: Path, make_config) -> Path:
    config = make_config("sample_objectives:slow", budget={"trials": BUDGET},
                         execution={"workers": 2}, sampler={"type": "tpe", "seed": 3})
    path = project / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_sweep(config: Path, *extra: str, sleep: float = 0.25) -> subprocess.Popen:
    # Ctrl-C as in a terminal: a test run in the background of a shell without job control
    # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt
    return subprocess.Popen([sys.executable, "-m", "sweeps.cli", "run", str(config), "--quiet",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SAMPLE_SLEEP": str(sleep)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def finished_count() -> int:
    path = Path("runs", "tracking.db")
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED' "
                                "AND parent_run_id IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def finished_trials() -> dict[str, int]:
    """run id -> trial number of every FINISHED trial run."""
    client = tracking.Client("runs")
    experiment = client.get_experiment_by_name("test")
    if experiment is None:  # killed before the sweep created its experiment
        return {}
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
    return {r.info.run_id: int(r.data.tags[records.NUMBER]) for r in runs
            if r.data.tags.get(records.ROLE) == records.TRIAL}


def check_complete_sweep(before: dict[str, int]) -> None:
    after = finished_trials()
    assert set(before) <= set(after), "a finished trial was lost"
    numbers = sorted(after.values())
    assert numbers == list(range(BUDGET)), f"trials run twice or missing: {numbers}"
    with sqlite3.connect(Path("runs", "tracking.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0] == 0


@pytest.mark.slow
def test_kill_9_at_several_moments_then_resume(project, make_config):
    config = write_config(project, make_config)
    for finished_before_kill in (0, 3, 6):
        process = start_sweep(config, "--resume")
        wait_for(lambda n=finished_before_kill: finished_count() >= n)
        if finished_before_kill == 0:
            time.sleep(0.8)  # somewhere in start-up or the first trials
        process.kill()
        process.communicate()
        before = finished_trials() if Path("runs", "tracking.db").exists() else {}
        assert len(before) >= finished_before_kill
        assert len(set(before.values())) == len(before)
    resumed = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", str(config), "--resume",
                              "--quiet"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "SAMPLE_SLEEP": "0.25"})
    assert resumed.returncode == 0, resumed.stderr
    check_complete_sweep(before)
    client = tracking.Client("runs")
    sweep = records.find_sweep(client, "test")
    assert sweep.info.status is tracking.RunStatus.FINISHED
    assert len(records.sweeps_of(client, sweep.info.experiment_id)) == 1, \
        "resume started a second sweep instead of continuing the first"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_marks_the_sweep_killed_and_resume_finishes_it(project, make_config, signum):
    config = write_config(project, make_config)
    process = start_sweep(config, sleep=2.0)  # slow enough to still run after the checks below
    wait_for(lambda: finished_count() >= 2)
    running = tracking.Client("runs").search_runs(
        [tracking.Client("runs").get_experiment_by_name("test").experiment_id],
        f"tags.`{records.ROLE}` = '{records.SWEEP}'")[0]
    clash = subprocess.run([sys.executable, "-m", "sweeps.cli", "resume", running.info.run_id],
                           capture_output=True, text=True, timeout=60)
    assert clash.returncode == 2 and "is still running (process" in clash.stderr
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    client = tracking.Client("runs")
    sweep = records.find_sweep(client, "test")
    assert sweep.info.status is tracking.RunStatus.KILLED
    assert f"sweeps resume {sweep.info.run_id}" in out
    statuses = {t.status for t in records.load_trials(client, sweep)}
    assert tracking.RunStatus.RUNNING not in statuses
    before = finished_trials()
    elsewhere = project / "elsewhere"  # resume works from any folder: the sweep knows its own
    elsewhere.mkdir()
    resumed = subprocess.run([sys.executable, "-m", "sweeps.cli", "resume", sweep.info.run_id,
                              "--root", str(project / "runs"), "--quiet"], cwd=elsewhere,
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "SAMPLE_SLEEP": "0.25"})
    assert resumed.returncode == 0, resumed.stderr
    check_complete_sweep(before)


def test_resume_when_the_kill_came_before_the_experiment_existed(project, make_config):
    config = write_config(project, make_config)
    tracking.Client("runs")  # the store exists, the sweep's experiment does not yet
    assert finished_trials() == {}
    clash = subprocess.run([sys.executable, "-m", "sweeps.cli", "resume", "test"],
                           capture_output=True, text=True, timeout=60)
    assert clash.returncode == 2
    assert clash.stderr.startswith("sweeps: error: no sweep") and "'test'" in clash.stderr
    assert len(clash.stderr.splitlines()) == 1
    resumed = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", str(config), "--resume",
                              "--quiet"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "SAMPLE_SLEEP": "0.05"})
    assert resumed.returncode == 0, resumed.stderr
    check_complete_sweep({})
