"""A fork server: a template process that has imported sweeps and tracking once, and
forks each local worker of a sweep from itself in milliseconds (Linux only).

The coordinator starts it (`python -m sweeps.backends.forkserver FD COORDINATOR_PID IDLE`)
while it sets the sweep up, and asks it for workers over one SOCK_SEQPACKET socket: each
request is a worker's name and environment, with the worker's end of its socket attached
(SCM_RIGHTS). The server answers `("forked", pid)` in order, and `("exited", pid, code)`
when a worker ends (`code` as `Popen.returncode`: negative for a signal).

What a worker promises holds as when it was spawned: it leads a session (and process
group) of its own, and it dies with the server (PR_SET_PDEATHSIG), which dies with the
coordinator, so no worker outlives the coordinator. The template forks only while it has
one thread (checked), and it does not import the objective's module: each worker imports
it after the fork, once `CUDA_VISIBLE_DEVICES` is its own (GPU libraries read it at
import), and numeric libraries (numpy's OpenBLAS, torch) start threads when imported,
which would make the template unsafe to fork.

Warm template: a finished sweep leaves its template idle for the next local sweep of this
process (a notebook, a benchmark, `sweeps.create_study(...).optimize` called again), whose
workers then fork at once instead of waiting for a new interpreter and its imports. It is
reused only from the same working folder with the same environment (what its workers
inherit); it stops itself after `IDLE_RELEASE` seconds without a worker (no thread in the
coordinator keeps time), and is stopped at interpreter exit or by `release_template()`.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from sweeps.objectives import die_with_parent

_MAX_MESSAGE = 1 << 20
IDLE_RELEASE = 60.0  # seconds an idle template waits for this process's next sweep


def _cwd() -> str:
    """This process's working folder ("" once it was deleted)."""
    try:
        return os.getcwd()
    except OSError:
        return ""


def _thread_count() -> int:
    """Threads of this process, native ones included (Linux)."""
    return len(os.listdir("/proc/self/task"))


class ForkedProcess:
    """A worker forked by the server: `pid` and `wait()`, like the `Popen` of a spawned one."""

    def __init__(self, server: ForkServer) -> None:
        self._server = server
        self._pid: int | None = None

    @property
    def pid(self) -> int | None:
        """The worker's pid (waits for the server's answer); None if the server died first."""
        while self._pid is None and self._server.receive(None):
            pass
        return self._pid

    def wait(self, timeout: float | None = None) -> int:
        """The worker's exit code, once the server saw it end; raises TimeoutExpired."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pid = self.pid
        while pid not in self._server.codes:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"worker {pid}", timeout)
            if not self._server.receive(left):
                return -signal.SIGKILL  # the server died: its workers died with it
        return self._server.codes[pid]


class ForkServer:
    """The coordinator's side of a fork server process."""

    def __init__(self, env: dict[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            # No preexec_fn (the server sets its own death signal): Popen can then use
            # vfork, which does not copy the coordinator's memory and is ~10x faster.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sweeps.backends.forkserver", str(theirs.fileno()),
                 str(os.getpid()), str(IDLE_RELEASE)], pass_fds=[theirs.fileno()], env=env,
                start_new_session=True)
        self.key = (_cwd(), env)  # what its workers inherit: who may reuse it
        self.idle_release = IDLE_RELEASE  # it stops itself after so long without a worker
        self._sock = ours
        self._waiting: deque[ForkedProcess] = deque()
        self.codes: dict[int, int] = {}

    def alive(self) -> bool:
        """Whether the server process still runs (it dies with the OOM killer, say)."""
        return self._sock.fileno() >= 0 and self.process.poll() is None

    def fork(self, name: str, env: dict[str, str], fd: int) -> ForkedProcess:
        """Ask for a worker that serves the socket `fd` (sent along; the caller closes its
        copy) with `env` added to its environment."""
        forked = ForkedProcess(self)
        try:
            socket.send_fds(self._sock, [pickle.dumps((name, env))], [fd])
            self._waiting.append(forked)
        except OSError:
            pass  # the server died: this worker's pid stays None and it "exited" killed
        return forked

    def receive(self, timeout: float | None) -> bool:
        """Take one answer from the server, waiting up to `timeout`; False once it is gone."""
        try:
            if not select.select([self._sock], [], [], timeout)[0]:
                return True
            message = self._sock.recv(_MAX_MESSAGE)
        except (OSError, ValueError):
            message = b""
        if not message:
            self._waiting.clear()
            return False
        answer = pickle.loads(message)
        if answer[0] == "forked":
            self._waiting.popleft()._pid = answer[1]
        else:
            self.codes[answer[1]] = answer[2]
        return True

    def close(self) -> None:
        """Stop the server; it kills what is left of its workers' groups as it goes."""
        self._sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _IdleTemplate:
    """The template the last local sweep of this process left (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ForkServer | None = None
        self._kept = 0.0  # time.monotonic() when it was left idle
        self._exit_hook = False

    def take(self, env: dict[str, str]) -> ForkServer:
        """The idle template if it lives and serves this folder and `env`, else a new one
        (the idle one is stopped once the new one is on its way). One idle for half its
        `IDLE_RELEASE` or more is not reused: it may be stopping itself right now."""
        with self._lock:
            server, self._server = self._server, None
        if (server is not None and server.key == (_cwd(), env) and server.alive()
                and time.monotonic() - self._kept < server.idle_release / 2):
            return server
        try:
            return ForkServer(env)
        finally:
            if server is not None:
                server.close()

    def keep(self, server: ForkServer) -> None:
        """Leave `server` idle for the next sweep; an older idle one is stopped."""
        server.codes.clear()  # its workers of the sweep that ended: all waited for
        with self._lock:
            older, self._server, self._kept = self._server, server, time.monotonic()
            if not self._exit_hook:
                atexit.register(self.release)
                self._exit_hook = True
        if older is not None:
            older.close()

    def release(self) -> None:
        """Stop the idle template now."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()


_IDLE = _IdleTemplate()


def take_template(env: dict[str, str]) -> ForkServer:
    """A running template for a sweep: the idle one the last sweep of this process left,
    when it serves this working folder and `env`, else a new one."""
    return _IDLE.take(env)


def keep_template(server: ForkServer) -> None:
    """Leave a sweep's template (its workers all ended) to the next sweep of this process;
    it stops itself after `IDLE_RELEASE` seconds unused, and is stopped at exit."""
    _IDLE.keep(server)


def release_template() -> None:
    """Stop the worker template kept for this process's next local sweep now (it stops
    itself after `IDLE_RELEASE` seconds unused, and is stopped at exit): the next sweep
    starts cold.

    >>> from sweeps.backends.forkserver import release_template
    >>> release_template()
    """
    _IDLE.release()


def serve(sock: socket.socket, idle_release: float) -> None:
    """The server's loop: fork a worker per request, report each one's end, until EOF or
    `idle_release` seconds without a worker or a request."""
    import sweeps.backends.local  # noqa: F401 - what every worker runs, imported once here
    assert threading.active_count() == 1 and _thread_count() == 1, "fork server has threads"
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    try:
        while True:
            ready = select.select([sock, wake_read], [], [],
                                  None if children else idle_release)[0]
            if not ready:
                return  # idle too long: the coordinator starts a new template if it needs one
            if wake_read in ready:
                os.read(wake_read, 4096)
                for pid, code in _reap(children):
                    sock.send(pickle.dumps(("exited", pid, code)))
            if sock not in ready:
                continue
            message, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 1)
            if not message:
                return
            name, env = pickle.loads(message)
            pid = os.fork()
            if pid == 0:
                os.close(wake_read)
                os.close(wake_write)
                _worker(sock, fds[0], name, env)
            os.close(fds[0])
            children.add(pid)
            sock.send(pickle.dumps(("forked", pid)))
    except (BrokenPipeError, ConnectionResetError):
        return
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def _reap(children: set[int]) -> list[tuple[int, int]]:
    """The workers that ended, with their exit codes."""
    ended = []
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
            ended.append((pid, os.waitstatus_to_exitcode(status)))
    return ended


def _worker(sock: socket.socket, fd: int, name: str, env: dict[str, str]) -> None:
    """In the forked child: become a worker like a spawned one, and never return."""
    from sweeps.backends.local import serve_worker
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        server = os.getppid()
        sock.close()
        os.setsid()
        die_with_parent()
        if os.getppid() != server:  # the server died before the line above
            os._exit(1)
        os.environ.update(env)
        serve_worker(fd, name)
        code = 0
    except BaseException:  # noqa: BLE001 - a worker's own failure ends it, like a spawned one
        import traceback
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()  # as at a normal exit: tracking writes what it buffered
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # never back into the server's loop (or its cleanup)


def server_env() -> dict[str, str]:
    """This process's environment, with sweepbook's own folder importable."""
    package_root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}


if __name__ == "__main__":
    die_with_parent()
    if os.getppid() == int(sys.argv[2]):  # else the coordinator died before the line above
        serve(socket.socket(fileno=int(sys.argv[1])), float(sys.argv[3]))
    os._exit(0)  # nothing to clean up: skip the interpreter's slow shutdown
