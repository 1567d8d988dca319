"""The local backend: GPU assignment to worker slots; what dies with a worker."""

from __future__ import annotations

import time

import pytest

import sweeps
from sweeps.backends.local import gpu_assignment
from sweeps.errors import SweepError


def test_whole_gpus_are_split_between_workers():
    assert gpu_assignment(2, 2, ["0", "1", "2", "3"]) == [["0", "1"], ["2", "3"]]


def test_fractional_gpus_share_a_device():
    assert gpu_assignment(4, 0.5, ["0", "1"]) == [["0"], ["0"], ["1"], ["1"]]


def test_no_gpu_asked_gives_no_devices():
    assert gpu_assignment(3, 0, []) == [[], [], []]


@pytest.mark.parametrize("workers, per_trial, devices, message", [
    (1, 1, [], "this machine has none"),
    (3, 1, ["0", "1"], "3 workers x 1 GPU need 3 GPUs, found 2"),
    (3, 0.5, ["0"], "need 1.5 GPUs, found 1"),
    (1, 1.5, ["0", "1"], "must be a whole number"),
])
def test_impossible_gpu_requests_are_clear_errors(workers, per_trial, devices, message):
    with pytest.raises(SweepError, match=message):
        gpu_assignment(workers, per_trial, devices)


def test_what_a_callable_trial_started_dies_with_its_worker(project, make_config):
    pid_file = project / "child.pid"
    config = make_config("sample_objectives:leaves_a_child_and_dies", budget={"trials": 2},
                         space={"x": {"type": "float", "low": 0, "high": 1},
                                "pid_file": str(pid_file)}, execution={"workers": 1})
    result = sweeps.run(config)
    assert result.status == "FAILED"
    assert "worker process exited with code 5" in result.error
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if _alive(pid)], "a trial's child outlived its worker"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
