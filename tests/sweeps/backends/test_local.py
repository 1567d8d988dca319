"""Local backend pieces that need no sweep: GPU assignment to worker slots."""

from __future__ import annotations

import pytest

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
