"""The local backend: trials in worker processes on this machine.

Each worker is a long-lived process in its own session that runs one trial at a time.
A trial that raises fails alone; a worker that dies (os._exit, a segfault, the OOM killer)
or is killed for a timeout or a prune is replaced, and its trial ends FAILED/PRUNED while
the others go on. Workers die with the coordinator (PR_SET_PDEATHSIG on Linux).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from sweeps.backends.base import Backend
from sweeps.errors import SweepError
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
    """A running trial's channel to the coordinator, over the worker's pipe."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn

    def send(self, event: Event) -> None:
        self._conn.send(event)

    def ask_prune(self, key: str) -> bool:
        self._conn.send(PruneQuery(key))
        return bool(self._conn.recv())


def _worker_main(conn: multiprocessing.connection.Connection, name: str,
                 env: dict[str, str]) -> None:
    """A worker process: run the specs it receives, one at a time, until told to stop."""
    from sweeps.objectives import _die_with_parent, run_trial
    os.setsid()  # Ctrl-C in the terminal goes to the coordinator, which stops us
    _die_with_parent()
    os.environ.update(env)
    channel = _PipeChannel(conn)
    host = socket.gethostname()
    gpu_ids = tuple(d for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d)
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        channel.send(Started(spec.key, name, host, os.getpid(), time.time(), gpu_ids))
        result = run_trial(spec, channel)
        channel.send(Finished(spec.key, result, time.time()))


@dataclass
class _Worker:
    name: str
    env: dict[str, str]
    process: Any = None
    conn: Any = None
    key: str | None = None


class LocalBackend(Backend):
    """`workers` worker processes; `gpus_per_trial` > 0 gives each its own device(s)."""

    name = "local"

    def __init__(self, workers: int, gpus_per_trial: float = 0.0) -> None:
        self._context = multiprocessing.get_context("spawn")
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
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_main, args=(child, worker.name,
                                                                   worker.env),
                                        name=f"sweeps-{worker.name}", daemon=True)
        process.start()
        child.close()
        worker.process, worker.conn, worker.key = process, parent, None

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
        waitables = [w.conn for w in self._workers] + [w.process.sentinel for w in self._workers]
        ready = set(multiprocessing.connection.wait(waitables, 0 if events else timeout))
        for worker in self._workers:
            if worker.conn in ready:
                events += self._drain(worker)
            if worker.process.sentinel in ready or not worker.process.is_alive():
                events += self._drain(worker)
                self._replace(worker, events)
        return events

    def _drain(self, worker: _Worker) -> list[Event]:
        events: list[Event] = []
        try:
            while worker.conn.poll():
                event = worker.conn.recv()
                if isinstance(event, Finished):
                    self._running.pop(event.key, None)
                    worker.key = None
                events.append(event)
        except (EOFError, OSError):
            pass
        return events

    def _replace(self, worker: _Worker, events: list[Event]) -> None:
        """A worker died: end its trial FAILED and start a fresh worker."""
        worker.process.join(timeout=5)
        if worker.key is not None:
            code = worker.process.exitcode
            how = (f"killed by {_SIGNALS.get(-code, f'signal {-code}')}" if code and code < 0
                   else f"exited with code {code}")
            events.append(Finished(worker.key, TrialResult(
                Outcome.FAILED, error=f"worker process {how} during the trial"), time.time()))
            self._running.pop(worker.key, None)
            worker.key = None
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
        try:
            os.killpg(worker.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            worker.process.kill()

    def cancel(self, key: str, outcome: Outcome, message: str) -> None:
        worker = self._running.get(key)
        if worker is None:
            return
        self._kill(worker)
        worker.process.join(timeout=5)
        self._pending += self._drain(worker)
        if worker.key == key:  # it had not finished on its own before the kill
            self._pending.append(Finished(key, TrialResult(outcome, error=message), time.time()))
            self._running.pop(key, None)
            worker.key = None
        worker.conn.close()
        self._spawn(worker)

    def shutdown(self) -> None:
        for worker in self._workers:
            if worker.key is not None:
                self._kill(worker)
            else:
                try:
                    worker.conn.send(None)
                except (OSError, ValueError):
                    pass
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                self._kill(worker)
                worker.process.join(timeout=5)
            worker.conn.close()
        self._workers.clear()
        self._running.clear()
