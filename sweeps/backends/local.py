"""The local backend: trials in worker processes on this machine.

Each worker is a long-lived process in its own session that runs one trial at a time.
A trial that raises fails alone; a worker that dies (os._exit, a segfault, the OOM killer)
or is killed for a timeout or a prune is replaced, and its trial ends FAILED/PRUNED while
the others go on. Workers die with the coordinator (PR_SET_PDEATHSIG on Linux).
"""

from __future__ import annotations

import multiprocessing.connection
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sweeps.backends.base import Backend
from sweeps.errors import SweepError
from sweeps.objectives import die_with_parent
from sweeps.trial import (
    Event,
    Finished,
    Outcome,
    PruneQuery,
    Started,
    TrialResult,
    TrialSpec,
)

_SIGNALS = {int(s): s.name for s in signal.Signals}


def available_gpus() -> list[str]:
    """GPU ids this process may use: $CUDA_VISIBLE_DEVICES, else what nvidia-smi lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def gpu_assignment(workers: int, gpus_per_trial: float, devices: list[str]) -> list[list[str]]:
    """The devices each worker slot sees: whole GPUs each, or a share of one GPU."""
    if gpus_per_trial <= 0:
        return [[] for _ in range(workers)]
    if not devices:
        raise SweepError("execution.resources.gpu: trials ask for a GPU, but this machine has "
                         "none (no CUDA_VISIBLE_DEVICES, no nvidia-smi)")
    if gpus_per_trial >= 1:
        per = int(gpus_per_trial)
        if per != gpus_per_trial:
            raise SweepError(f"execution.resources.gpu: more than one GPU per trial must be a "
                             f"whole number (got {gpus_per_trial})")
        if workers * per > len(devices):
            raise SweepError(f"execution.workers: {workers} workers x {per} GPU need "
                             f"{workers * per} GPUs, found {len(devices)}")
        return [devices[i * per:(i + 1) * per] for i in range(workers)]
    share = int(1 / gpus_per_trial + 1e-9)
    if workers > share * len(devices):
        raise SweepError(f"execution.workers: {workers} workers x {gpus_per_trial} GPU need "
                         f"{workers * gpus_per_trial:g} GPUs, found {len(devices)}")
    return [[devices[i // share]] for i in range(workers)]


class _PipeChannel:
    """A running trial's channel to the coordinator, over the worker's socket."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn

    def send(self, event: Event) -> None:
        self._conn.send(event)

    def ask_prune(self, key: str) -> bool:
        self._conn.send(PruneQuery(key))
        return bool(self._conn.recv())


def worker_main() -> None:
    """A worker process (`python -m sweeps.backends.local FD NAME`): run the specs it
    receives, one at a time, until its connection closes."""
    from sweeps.objectives import run_trial
    conn = multiprocessing.connection.Connection(int(sys.argv[1]))
    name = sys.argv[2]
    channel = _PipeChannel(conn)
    host = socket.gethostname()
    gpu_ids = tuple(d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d)
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        channel.send(Started(spec.key, name, host, os.getpid(), time.time(), gpu_ids))
        result = run_trial(spec, channel)
        channel.send(Finished(spec.key, result, time.time()))


@dataclass
class _Worker:
    name: str
    env: dict[str, str]
    process: subprocess.Popen | None = None
    conn: multiprocessing.connection.Connection | None = None
    key: str | None = None


class LocalBackend(Backend):
    """`workers` worker processes; `gpus_per_trial` > 0 gives each its own device(s)."""

    name = "local"

    def __init__(self, workers: int, gpus_per_trial: float = 0.0) -> None:
        self._size = workers
        self._gpus_per_trial = gpus_per_trial
        self._workers: list[_Worker] = []
        self._running: dict[str, _Worker] = {}
        self._pending: list[Event] = []

    def start(self) -> None:
        devices = gpu_assignment(self._size, self._gpus_per_trial,
                                 available_gpus() if self._gpus_per_trial > 0 else [])
        for index, ids in enumerate(devices):
            env = {"CUDA_VISIBLE_DEVICES": ",".join(ids)} if self._gpus_per_trial > 0 else {}
            worker = _Worker(f"local-{index}", env)
            self._spawn(worker)
            self._workers.append(worker)

    def _spawn(self, worker: _Worker) -> None:
        """Start a worker process in its own session (Ctrl-C reaches only the coordinator,
        which stops the workers), connected by a socket pair."""
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, **worker.env,
               "PYTHONPATH": os.pathsep.join(p for p in (package_root,
                                                         os.environ.get("PYTHONPATH")) if p)}
        with theirs:
            worker.process = subprocess.Popen(
                [sys.executable, "-m", "sweeps.backends.local", str(theirs.fileno()),
                 worker.name], pass_fds=[theirs.fileno()], env=env, start_new_session=True,
                preexec_fn=die_with_parent if sys.platform == "linux" else None)
        worker.conn = multiprocessing.connection.Connection(ours.detach())
        worker.key = None

    def free_slots(self) -> int:
        return sum(1 for w in self._workers if w.key is None)

    def submit(self, spec: TrialSpec) -> None:
        worker = next(w for w in self._workers if w.key is None)
        worker.key = spec.key
        self._running[spec.key] = worker
        try:
            worker.conn.send(spec)
        except (OSError, ValueError):
            pass  # the worker is dead: poll() reports the trial through the sentinel

    def poll(self, timeout: float) -> list[Event]:
        events, self._pending = self._pending, []
        ready = set(multiprocessing.connection.wait([w.conn for w in self._workers],
                                                    0 if events else timeout))
        for worker in self._workers:
            if worker.conn in ready:
                alive = self._drain(worker, events)
                if not alive:
                    self._replace(worker, events)
        return events

    def _drain(self, worker: _Worker, events: list[Event]) -> bool:
        """Move the worker's waiting events into `events`; False when it has died."""
        try:
            while worker.conn.poll():
                event = worker.conn.recv()
                if isinstance(event, Finished):
                    self._running.pop(event.key, None)
                    worker.key = None
                events.append(event)
        except (EOFError, OSError):
            return False
        return True

    def _replace(self, worker: _Worker, events: list[Event]) -> None:
        """A worker died: end its trial FAILED and start a fresh worker."""
        try:
            code = worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill(worker)
            code = worker.process.wait()
        if worker.key is not None:
            how = (f"killed by {_SIGNALS.get(-code, f'signal {-code}')}" if code < 0
                   else f"exited with code {code}")
            events.append(Finished(worker.key, TrialResult(
                Outcome.FAILED, error=f"worker process {how} during the trial"), time.time()))
            self._running.pop(worker.key, None)
        worker.conn.close()
        self._spawn(worker)

    def answer(self, key: str, prune: bool) -> None:
        worker = self._running.get(key)
        if worker is not None:
            try:
                worker.conn.send(prune)
            except (OSError, ValueError):
                pass

    def _kill(self, worker: _Worker) -> None:
        """SIGKILL the worker and every process it started (they share its group)."""
        try:
            os.killpg(worker.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def cancel(self, key: str, outcome: Outcome, message: str) -> None:
        worker = self._running.get(key)
        if worker is None:
            return
        self._kill(worker)
        worker.process.wait()
        self._drain(worker, self._pending)
        if worker.key == key:  # it had not finished on its own before the kill
            self._pending.append(Finished(key, TrialResult(outcome, error=message), time.time()))
            self._running.pop(key, None)
        worker.conn.close()
        self._spawn(worker)

    def shutdown(self) -> None:
        for worker in self._workers:
            if worker.key is not None:
                self._kill(worker)
            worker.conn.close()  # an idle worker exits when its connection closes
        for worker in self._workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill(worker)
                worker.process.wait()
        self._workers.clear()
        self._running.clear()


if __name__ == "__main__":
    worker_main()
