"""The local backend: trials in worker processes on this machine.

Each worker is a long-lived process in its own session that runs one trial at a time.
A trial that raises fails alone; a worker that dies (os._exit, a segfault, the OOM killer)
or is killed for a timeout or a prune is replaced, and its trial ends FAILED/PRUNED while
the others go on. Workers die with the coordinator (PR_SET_PDEATHSIG on Linux).

On Linux, workers are forked from a template process that has imported sweeps and tracking
once (`sweeps.backends.forkserver`), so a worker, first or replaced, starts in
milliseconds; a finished sweep leaves its template to the next sweep of this process, whose
first trials then start at once. Elsewhere (macOS, Windows: no PR_SET_PDEATHSIG, and fork
is unsafe there) each worker is spawned as a fresh `python -m sweeps.backends.local`.
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
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from sweeps.backends.base import Backend
from sweeps.backends.forkserver import (
    ForkedProcess,
    ForkServer,
    keep_template,
    server_env,
    take_template,
)
from sweeps.errors import SweepError
from sweeps.objectives import die_with_parent
from sweeps.trial import (
    Event,
    Finished,
    Outcome,
    PruneQuery,
    Started,
    SuggestQuery,
    TrialResult,
    TrialSpec,
)

_SIGNALS = {int(s): s.name for s in signal.Signals}
_SKIP, _ANSWER = "skip", "answer"
_SKIPPED = TrialResult(Outcome.KILLED, error="called off before it started")


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


class _WorkerChannel:
    """A worker's side of its socket: trials' events out; specs, skips and answers in.

    Specs that arrive while a trial runs (the next one, sent ahead) wait in `queued`; a skip
    calls off a queued spec; an answer carries the key of the trial that asked. A spec's
    cloudpickled objective comes once (`TrialSpec.function_id`) and is kept for the next."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn
        self.queued: deque[TrialSpec] = deque()
        self._skipped: set[str] = set()
        self._functions: dict[str, bytes] = {}

    def send(self, event: Event) -> None:
        self._conn.send(event)

    def ask_prune(self, key: str) -> bool:
        return bool(self._ask(PruneQuery(key)))

    def ask_suggest(self, query: SuggestQuery) -> Any:
        return self._ask(query)

    def _ask(self, query: PruneQuery | SuggestQuery) -> Any:
        self._conn.send(query)
        while True:
            message = self._receive()
            if isinstance(message, tuple) and message[:2] == (_ANSWER, query.key):
                return message[2]

    def _receive(self) -> object:
        message = self._conn.recv()
        if isinstance(message, TrialSpec):
            if message.function_id is not None:
                if message.function is None:
                    message = replace(message, function=self._functions[message.function_id])
                self._functions[message.function_id] = message.function
            self.queued.append(message)
        elif isinstance(message, tuple) and message[0] == _SKIP:
            if any(spec.key == message[1] for spec in self.queued):
                self._skipped.add(message[1])
        return message

    def next_spec(self) -> TrialSpec:
        """The next spec to run; a called-off one is reported as skipped instead.
        Raises EOFError when the coordinator has closed the connection."""
        while True:
            while self._conn.poll() or not self.queued:
                self._receive()
            spec = self.queued.popleft()
            if spec.key not in self._skipped:
                return spec
            self._skipped.discard(spec.key)
            self.send(Finished(spec.key, _SKIPPED, time.time()))


def serve_worker(fd: int, name: str) -> None:
    """A worker: run the specs that arrive on the socket `fd`, one at a time, until its
    connection closes. Spawned (`python -m sweeps.backends.local FD NAME`) or forked."""
    from sweeps.objectives import run_trial
    channel = _WorkerChannel(multiprocessing.connection.Connection(fd))
    host = socket.gethostname()
    gpu_ids = tuple(d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d)
    try:
        while True:
            spec = channel.next_spec()
            channel.send(Started(spec.key, name, host, os.getpid(), time.time(), gpu_ids))
            result = run_trial(spec, channel, own_group=True)
            channel.send(Finished(spec.key, result, time.time()))
    except (EOFError, OSError):
        return  # the coordinator closed the connection (or is gone)


@dataclass
class _Worker:
    """A worker process and the specs sent to it, in the order it runs them."""

    name: str
    env: dict[str, str]
    process: subprocess.Popen | ForkedProcess | None = None
    conn: multiprocessing.connection.Connection | None = None
    specs: list[TrialSpec] = field(default_factory=list)
    running: str | None = None  # the key of the trial it has started, if any
    functions: set[str] = field(default_factory=set)  # the objectives' bytes it was sent


class LocalBackend(Backend):
    """`workers` worker processes; `gpus_per_trial` > 0 gives each its own device(s);
    `fork`: fork them from a template process (Linux only), else spawn each one.

    Each worker is sent its next trial while it runs the current one (`AHEAD` extra), so
    a worker that finishes starts the next trial at once, without waiting for the
    coordinator. A trial called off before it starts is skipped by its worker; one called
    off while it runs is stopped by restarting its worker."""

    name = "local"
    AHEAD = 1

    def __init__(self, workers: int, gpus_per_trial: float = 0.0, *,
                 fork: bool = sys.platform == "linux") -> None:
        self._size = workers
        self._fork = fork
        self._gpus_per_trial = gpus_per_trial
        self._workers: list[_Worker] = []
        self._owner: dict[str, _Worker] = {}
        self._called_off: dict[str, TrialResult] = {}
        self._pending: list[Event] = []
        self._server: ForkServer | None = None

    def start(self) -> None:
        if self._fork:
            self._server = take_template(server_env())
        devices = gpu_assignment(self._size, self._gpus_per_trial,
                                 available_gpus() if self._gpus_per_trial > 0 else [])
        for index, ids in enumerate(devices):
            env = {"CUDA_VISIBLE_DEVICES": ",".join(ids)} if self._gpus_per_trial > 0 else {}
            worker = _Worker(f"local-{index}", env)
            self._spawn(worker)
            self._workers.append(worker)

    def _spawn(self, worker: _Worker) -> None:
        """Start a worker process in its own session (Ctrl-C reaches only the coordinator,
        which stops the workers), connected by a socket pair; resend its waiting specs.
        Forked from the template when there is one (a fresh template if it died)."""
        ours, theirs = socket.socketpair()
        if self._server is not None and not self._server.alive():
            self._server.close()
            self._server = ForkServer(server_env())
        with theirs:
            if self._server is not None:
                worker.process = self._server.fork(worker.name, worker.env, theirs.fileno())
            else:
                worker.process = subprocess.Popen(
                    [sys.executable, "-m", "sweeps.backends.local", str(theirs.fileno()),
                     worker.name], pass_fds=[theirs.fileno()],
                    env={**server_env(), **worker.env}, start_new_session=True,
                    preexec_fn=die_with_parent if sys.platform == "linux" else None)
        worker.conn = multiprocessing.connection.Connection(ours.detach())
        worker.running = None
        worker.functions = set()
        for spec in worker.specs:
            self._send(worker, spec)

    def _send(self, worker: _Worker, message: object) -> None:
        if isinstance(message, TrialSpec) and message.function_id is not None:
            if message.function_id in worker.functions:
                message = replace(message, function=None)  # the worker has it
            worker.functions.add(message.function_id)
        try:
            worker.conn.send(message)
        except (OSError, ValueError):
            pass  # the worker is dead: poll() notices and replaces it

    def free_slots(self) -> int:
        return sum(1 + self.AHEAD - len(w.specs) for w in self._workers)

    def submit(self, spec: TrialSpec) -> None:
        worker = min(self._workers, key=lambda w: len(w.specs))
        worker.specs.append(spec)
        self._owner[spec.key] = worker
        self._send(worker, spec)

    def poll(self, timeout: float) -> list[Event]:
        events, self._pending = self._pending, []
        ready = set(multiprocessing.connection.wait([w.conn for w in self._workers],
                                                    0 if events else timeout))
        for worker in self._workers:
            if worker.conn not in ready:
                continue
            if not self._drain(worker, events):
                self._restart(worker, events, self._exit_message(worker))
            elif worker.running in self._called_off:  # the skip came after it started
                self._restart(worker, events)
        return events

    def _drain(self, worker: _Worker, events: list[Event]) -> bool:
        """Move the worker's waiting events into `events`; False when it has died."""
        try:
            while worker.conn.poll():
                event = worker.conn.recv()
                if isinstance(event, Started):
                    worker.running = event.key
                elif isinstance(event, Finished):
                    event = self._finished(event)
                    if worker.running == event.key:
                        worker.running = None
                events.append(event)
        except (EOFError, OSError):
            return False
        return True

    def _finished(self, event: Finished) -> Finished:
        """Forget a trial that ended; a skipped one ends as it was called off."""
        called_off = self._called_off.pop(event.key, None)
        worker = self._owner.pop(event.key, None)
        if worker is not None:
            worker.specs = [s for s in worker.specs if s.key != event.key]
        if event.result == _SKIPPED and called_off is not None:
            return Finished(event.key, called_off, event.time)
        return event

    def _exit_message(self, worker: _Worker) -> str:
        try:
            code = worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill(worker)
            code = worker.process.wait()
        how = (f"killed by {_SIGNALS.get(-code, f'signal {-code}')}" if code < 0
               else f"exited with code {code}")
        return f"worker process {how} during the trial"

    def _restart(self, worker: _Worker, events: list[Event], died: str | None = None) -> None:
        """Stop the worker (if `died` is None) and start a fresh one for its waiting specs.
        The trial it was running ends: as called off, FAILED with `died`, or LOST when it
        was only stopped along with another."""
        self._kill(worker)  # a dead worker's group may still hold what its trial started
        if died is None:
            worker.process.wait()
            self._drain(worker, events)
        key = worker.running or (worker.specs[0].key if died and worker.specs else None)
        if key is not None and key in self._owner:
            result = self._called_off.get(key) or (
                TrialResult(Outcome.FAILED, error=died) if died
                else TrialResult(Outcome.LOST, error="stopped with its worker"))
            events.append(self._finished(Finished(key, result, time.time())))
        worker.conn.close()
        self._spawn(worker)

    def answer(self, key: str, value: Any) -> None:
        worker = self._owner.get(key)
        if worker is not None:
            self._send(worker, (_ANSWER, key, value))

    def _kill(self, worker: _Worker) -> None:
        """SIGKILL the worker and every process it started (they share its group)."""
        pid = worker.process.pid
        if pid is None:
            return  # never forked: its server died first
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def cancel(self, key: str, outcome: Outcome, message: str) -> None:
        worker = self._owner.get(key)
        if worker is None:
            return
        self._called_off[key] = TrialResult(outcome, error=message)
        if not self._drain(worker, self._pending):
            return  # it died: poll() replaces it and ends its trial
        if key not in self._owner:
            return  # it ended on its own meanwhile: its real result stands
        if worker.running == key:
            self._restart(worker, self._pending)
        else:
            self._send(worker, (_SKIP, key))

    def shutdown(self) -> None:
        for worker in self._workers:
            if worker.specs:
                self._kill(worker)
            worker.conn.close()  # an idle worker exits when its connection closes
        for worker in self._workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill(worker)
                worker.process.wait()
        self._workers.clear()
        self._owner.clear()
        self._called_off.clear()
        if self._server is not None and self._server.alive():
            keep_template(self._server)
        elif self._server is not None:
            self._server.close()
        self._server = None


if __name__ == "__main__":
    serve_worker(int(sys.argv[1]), sys.argv[2])
