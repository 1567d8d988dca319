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


def test_an_objectives_bytes_reach_each_worker_once_and_outlive_a_called_off_spec():
    """A cloudpickled objective travels with the first spec a worker is sent; the next
    specs carry only its digest, and get the bytes back from the worker's side of the
    socket, even when the spec that brought them was called off before it started."""
    import dataclasses
    import multiprocessing.connection
    import socket

    from sweeps.backends.local import _SKIP, LocalBackend, _Worker, _WorkerChannel
    from sweeps.trial import TrialSpec

    ours, theirs = socket.socketpair()
    backend = LocalBackend(1, fork=False)
    worker = _Worker("w", {}, conn=multiprocessing.connection.Connection(ours.detach()))
    spec = TrialSpec(key="a", number=0, attempt=1, params={}, objective=None, command=None,
                     cwd=".", env={}, objective_metrics=("loss",), artifact_dir=".",
                     tracking_uri=".", function=b"x" * 100_000, function_id="digest")
    channel = _WorkerChannel(multiprocessing.connection.Connection(theirs.detach()))
    backend._send(worker, spec)
    worker.conn.send((_SKIP, "a"))
    backend._send(worker, dataclasses.replace(spec, key="b", number=1))
    backend._send(worker, dataclasses.replace(spec, key="c", number=2))
    while len(channel.queued) < 3:
        channel._receive()
    sent = [s.function for s in channel.queued]
    assert sent[0] == b"x" * 100_000 and sent[1] is sent[0] and sent[2] is sent[0]
    got = channel.next_spec()  # "a" was called off: reported as skipped
    assert got.key == "b" and got.function == b"x" * 100_000
    assert worker.conn.recv().key == "a"  # its Finished(skipped)
    worker.conn.close()
