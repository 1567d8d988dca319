"""The Ray backend's warm pool: a second sweep of one process reuses the idle actors of the
first, unless the objective changed on disk or the resources differ; an idle pool is
released."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sweeps
from sweeps.backends import ray as ray_backend

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(240)]

OBJECTIVE = """
import os
def run(params, trial):
    trial.set_tag("pid", str(os.getpid()))
    trial.set_tag("version", "{version}")
    return params["x"]
"""


def write_objective(folder: Path, version: int) -> None:
    path = folder / "pool_objective.py"
    path.write_text(OBJECTIVE.replace("{version}", str(version)))
    if version == 1:  # older than any actor; an edit (now) is newer than the first ones
        os.utime(path, (time.time() - 60, time.time() - 60))


def sweep(folder: Path, name: str, **resources: float) -> tuple[set[str], set[str], set[str]]:
    """(pids, worker names, objective versions) of a 2-trial sweep on 2 slots."""
    result = sweeps.run({
        "experiment": name, "objective": "pool_objective:run",
        "metric": {"name": "x", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "budget": {"trials": 2},
        "execution": {"backend": "ray", "workers": 2, "resources": resources or {"cpu": 1}},
        "report": False}, tracking_uri=folder / "runs")
    trials = result.trials
    assert list(trials["status"]) == ["FINISHED"] * 2
    return (set(trials["tags.pid"]), set(trials["tags.trial.worker"]),
            set(trials["tags.version"]))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    write_objective(tmp_path, 1)
    ray_backend.release_pool()  # what earlier tests left
    yield tmp_path
    ray_backend.release_pool()


@pytest.mark.usefixtures("ray_runtime")
def test_the_next_sweep_reuses_idle_actors_until_the_objective_changes(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, names, _ = sweep(project, "a")
    assert len(first) == 2 and names == {"ray-0", "ray-1"}
    again, names, _ = sweep(project, "b")  # same resources: the same two actor processes
    assert again == first and names == {"ray-0", "ray-1"}

    write_objective(project, 2)  # an edited objective is never run by a stale import
    edited, _, versions = sweep(project, "c")
    assert versions == {"2"} and not edited & first

    monkeypatch.setattr(ray_backend, "IDLE_RELEASE", 0.2)
    other, _, _ = sweep(project, "d", cpu=0.5)  # other resources: other actors
    assert len(other) == 2 and not other & edited
    deadline = time.monotonic() + 30  # idle for 0.2 s: the pool is released, they exit
    while any(alive(pid) for pid in other) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in other)


def alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return True
