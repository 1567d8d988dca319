"""Workers forked from a template process: what a spawned worker promised still holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sweeps
import tracking
from sweeps import records
from sweeps.api import resolve_config
from sweeps.backends.local import LocalBackend
from sweeps.coordinator import Coordinator

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the fork server is Linux's")

OBJECTIVES = textwrap.dedent('''
    import os
    import signal
    import time
    from pathlib import Path

    import tracking


    def where(params, trial):
        """Say which process ran the trial; the first one crashes its worker."""
        line = f"{trial.number} {os.getpid()} {os.getppid()} {os.getpgid(0)}\\n"
        with open(params["log"], "a") as handle:
            handle.write(line)
        if trial.number == 0 and params["crash"] == "worker":
            os._exit(7)
        if trial.number == 0 and params["crash"] == "template":
            os.kill(os.getppid(), signal.SIGKILL)  # the worker dies with its template
            time.sleep(30)
        return 0.0


    def logs_elsewhere(params):
        """Logs to a store of its own and leaves the run open: written at the worker's exit."""
        client = tracking.Client(params["log"])
        run = client.create_run(client.get_or_create_experiment("side"))
        client.log_metric(run.info.run_id, "seen", 1.0)
        return 0.0


    def sleeps(params, trial):
        Path(params["log"], str(os.getpid())).write_text(str(os.getppid()))
        time.sleep(60)
        return 0.0
''')


@pytest.fixture
def objectives(project: Path) -> Path:
    (project / "fork_objectives.py").write_text(OBJECTIVES)
    return project


def _config(make_config, objective: str, log: Path, crash: str = "", **sections):
    space = {"x": {"type": "float", "low": 0, "high": 1}, "log": str(log), "crash": crash}
    return make_config(f"fork_objectives:{objective}", space=space, **sections)


def _ran(log: Path) -> dict[int, tuple[int, int, int]]:
    """trial number -> (pid, parent pid, process group) of the worker that ran it."""
    rows = [line.split() for line in log.read_text().splitlines()]
    return {int(n): (int(pid), int(ppid), int(group)) for n, pid, ppid, group in rows}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_are_forked_from_one_template_each_leading_its_group(objectives, make_config):
    log = objectives / "ran.txt"
    result = sweeps.run(_config(make_config, "where", log, budget={"trials": 4}))
    assert result.status == "FINISHED"
    ran = _ran(log)
    assert len(ran) == 4
    assert {ppid for _, ppid, _ in ran.values()} != {os.getpid()}  # not the coordinator
    assert len({ppid for _, ppid, _ in ran.values()}) == 1  # one template for the sweep
    assert all(group == pid for pid, _, group in ran.values())


def test_a_crashed_worker_is_forked_again_from_the_template(objectives, make_config):
    log = objectives / "ran.txt"
    result = sweeps.run(_config(make_config, "where", log, crash="worker",
                                budget={"trials": 3}, execution={"workers": 1}))
    trials = {t.number: t.run for t in records.load_trials(
        tracking.Client("runs"), tracking.Client("runs").get_run(result.sweep_run_id))}
    assert "worker process exited with code 7" in trials[0].data.tags[records.ERROR]
    assert all(trials[n].info.status is tracking.RunStatus.FINISHED for n in (1, 2))
    ran = _ran(log)
    assert ran[1][0] != ran[0][0] and ran[1][1] == ran[0][1]  # a new worker, same template


def test_a_dead_template_is_replaced_and_the_sweep_goes_on(objectives, make_config):
    log = objectives / "ran.txt"
    result = sweeps.run(_config(make_config, "where", log, crash="template",
                                budget={"trials": 3}, execution={"workers": 1}))
    trials = {t.number: t.run for t in records.load_trials(
        tracking.Client("runs"), tracking.Client("runs").get_run(result.sweep_run_id))}
    assert "killed by SIGKILL" in trials[0].data.tags[records.ERROR]
    assert all(trials[n].info.status is tracking.RunStatus.FINISHED for n in (1, 2))
    ran = _ran(log)
    assert not _alive(ran[0][1])
    assert ran[1][1] != ran[0][1]  # forked by a fresh template


def test_workers_and_their_template_die_with_the_coordinator(objectives, make_config):
    folder = objectives / "pids"
    folder.mkdir()
    config = _config(make_config, "sleeps", folder, budget={"trials": 2})
    coordinator = subprocess.Popen(
        [sys.executable, "-c", f"import sweeps; sweeps.run({config!r})"])
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < 2:
        assert time.monotonic() < deadline and coordinator.poll() is None
        time.sleep(0.05)
    time.sleep(0.1)  # both files written whole
    workers = {int(p.name): int(p.read_text()) for p in folder.iterdir()}
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait()
    left = set(workers) | set(workers.values())
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in left) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in left if _alive(pid)], "a worker or the template outlived it"


def test_spawned_workers_where_fork_is_off_still_fail_alone(objectives, make_config):
    log = objectives / "ran.txt"
    config = resolve_config(_config(make_config, "where", log, crash="worker",
                                    budget={"trials": 3}, execution={"workers": 1}))
    client = tracking.Client("runs")
    sweep_id = Coordinator(config, client=client, backend=LocalBackend(1, fork=False)).run()
    trials = {t.number: t.run for t in records.load_trials(client, client.get_run(sweep_id))}
    assert "worker process exited with code 7" in trials[0].data.tags[records.ERROR]
    assert all(trials[n].info.status is tracking.RunStatus.FINISHED for n in (1, 2))
    assert {ppid for _, ppid, _ in _ran(log).values()} == {os.getpid()}  # spawned by us


def test_a_forked_worker_runs_the_exit_handlers_when_it_ends(objectives, make_config):
    side = objectives / "side-runs"
    result = sweeps.run(_config(make_config, "logs_elsewhere", side, budget={"trials": 1},
                                execution={"workers": 1}))
    assert result.status == "FINISHED"
    client = tracking.Client(side)
    runs = client.search_runs([client.get_experiment_by_name("side").experiment_id])
    assert [r.data.metrics.get("seen") for r in runs] == [1.0]


def test_a_later_sweep_forks_from_the_template_the_last_one_left(objectives, make_config,
                                                                  monkeypatch):
    """Same folder and environment: the same template (warm); another environment: a new
    one (the idle one stops); an idle template stops after IDLE_RELEASE seconds."""
    from sweeps.backends import forkserver
    forkserver.release_template()  # what earlier tests left
    log = objectives / "ran.txt"
    config = _config(make_config, "where", log, budget={"trials": 1}, execution={"workers": 1})
    sweeps.run(config)
    sweeps.run(config)
    monkeypatch.setenv("SWEEPS_TEST_WORKER_ENV", "changed")  # the workers would not see it
    monkeypatch.setattr(forkserver, "IDLE_RELEASE", 0.2)
    sweeps.run(config)
    first, second, third = (int(line.split()[2]) for line in log.read_text().splitlines())
    assert first == second != third
    assert not _alive(first)
    deadline = time.monotonic() + 5
    while _alive(third) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(third), "the idle template outlived IDLE_RELEASE"
