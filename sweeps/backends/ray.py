"""The Ray backend: the same trials on a Ray cluster, with per-trial resources.

Each slot is a long-lived Ray actor holding one trial's resources (`cpu`, `gpu`, `memory`,
custom names), reused trial after trial like the local backend's worker processes. An
actor runs its trial in a thread (the shared `run_trial`) and buffers the trial's events;
the backend long-polls each busy actor (`next_events`) and waits on all of them at once
with `ray.wait`, so events arrive promptly and in order, and prune questions are answered
through `answer`. Artifacts travel back as bytes (`ArtifactData`); the coordinator stays the
only writer to the store.

Faults: an actor whose process dies ends its trial FAILED and is replaced; an actor whose
node left the cluster ends its trial LOST (retried elsewhere, not counted as a failure). A
timeout or a prune of a command objective kills the actor, as the local backend kills its
worker process.

Where Ray runs: `address` None starts a local runtime bound to loopback only (node IP
127.0.0.1, no dashboard) and shuts it down after; "auto", "HOST:PORT" or "ray://HOST:PORT"
connects to a cluster and leaves it running, shipping the objective's folder and the
sweepbook packages through Ray's runtime environment. A Ray runtime already started in this
process (`ray.init`) is used as it is and left running.

Warm pool: on a runtime that outlives the sweep (the caller's `ray.init`, or a cluster this
process connected to), a finished sweep leaves its idle actors to the next sweep of this
process that asks for the same resources (a notebook running `sweeps.run` again): its first
trials start without waiting for new actors. The pool is released after `IDLE_RELEASE`
seconds unused, at interpreter exit, or by `release_pool()`; an actor whose imported modules
changed on disk since it started (an edited objective) is not reused.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import math
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sweeps.backends.base import Backend
from sweeps.errors import SweepError
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

if TYPE_CHECKING:
    from sweeps.config import Execution

LONG_POLL = 5.0  # seconds an actor holds a next_events call open when nothing happens
IDLE_RELEASE = 60.0  # seconds the warm pool waits for this process's next sweep
FRESH_WAIT = 5.0  # seconds a pooled actor has to answer whether it can be reused
RESIZE_EVERY = 5.0  # seconds between checks of what the cluster can hold
EXCLUDES = [".git", "/runs", "/reports", "__pycache__", "*.pyc", ".venv", "venv",
            "node_modules", ".pytest_cache", ".ruff_cache"]
_RAY_NAMES = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}
_LOCAL_IPS = {"127.0.0.1", "::1", "localhost"}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SweepError("execution.backend: ray needs the ray package; install it with "
                         "pip install 'sweepbook[ray]'") from None
    return ray


def ray_request(resources: Mapping[str, float]) -> dict[str, float]:
    """One trial's resources in Ray's resource names: {"cpu": 2} -> {"CPU": 2.0}."""
    request = {_RAY_NAMES.get(k, k): float(v) for k, v in resources.items()}
    request.setdefault("CPU", 1.0)
    return {k: v for k, v in request.items() if v > 0}


def actor_options(request: Mapping[str, float]) -> dict[str, Any]:
    """`ray.remote(...).options` keywords of a trial actor holding `request` (Ray's names):
    its resources, 4 threads (`next_events` and `answer` run while a trial does), no
    restarts (a dead actor's trial ends; the backend starts a new actor)."""
    options: dict[str, Any] = {"num_cpus": request.get("CPU", 0.0),
                               "num_gpus": request.get("GPU", 0.0),
                               "max_concurrency": 4, "max_restarts": 0}
    if request.get("memory"):
        options["memory"] = int(request["memory"])
    custom = {k: v for k, v in request.items() if k not in ("CPU", "GPU", "memory")}
    if custom:
        options["resources"] = custom
    return options


def _per_node(total: Mapping[str, float], request: Mapping[str, float]) -> int:
    """How many trials asking for `request` one node with `total` resources holds."""
    counts = [math.floor(total.get(name, 0.0) / amount + 1e-9)
              for name, amount in request.items()]
    return max(0, min(counts)) if counts else 0


def capacity(nodes: list[Mapping[str, float]], request: Mapping[str, float]) -> int:
    """How many trials the cluster (nodes' total resources) holds at once."""
    return sum(_per_node(total, request) for total in nodes)


def check_fits(nodes: list[Mapping[str, float]], request: Mapping[str, float]) -> None:
    """A one-line SweepError when no node can ever hold one trial."""
    if capacity(nodes, request) > 0:
        return
    back = {v: k for k, v in _RAY_NAMES.items()}
    for name, amount in request.items():
        largest = max((total.get(name, 0.0) for total in nodes), default=0.0)
        if largest < amount:
            shown = back.get(name, name)
            raise SweepError(f"execution.resources.{shown}: each trial asks for {amount:g}, "
                             f"but no node of the Ray cluster has that much (the most on one "
                             f"node is {largest:g})")
    raise SweepError(f"execution.resources: no single node of the Ray cluster has all of "
                     f"{', '.join(f'{k}={v:g}' for k, v in request.items())} at once")


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Keep 127.0.0.1 as it is while Ray starts or connects.

    Ray rewrites a loopback node IP or cluster address to the machine's outward IP; with
    this, a runtime started with node IP 127.0.0.1 listens on loopback only, and a driver
    reaches a cluster whose head was started that way.
    """
    from ray._private import services
    rewrite = services.resolve_ip_for_localhost
    services.resolve_ip_for_localhost = lambda host: host if host in _LOCAL_IPS else \
        rewrite(host)
    token_log = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = token_log.level
    token_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        services.resolve_ip_for_localhost = rewrite
        token_log.setLevel(level)


def _token_auth_on() -> bool:
    try:
        from ray._private.authentication.authentication_utils import is_token_auth_enabled
        return bool(is_token_auth_enabled())
    except ImportError:  # an older Ray: no token authentication at all
        return False


# -- the worker actor --------------------------------------------------------------------------


class TrialActor:
    """One slot on the cluster: runs trials one at a time in a thread, buffers their events.

    Created with `max_concurrency` > 1 so `next_events` and `answer` run while a trial does.
    """

    def __init__(self, root: str | None) -> None:
        import ray

        import sweeps.objectives  # noqa: F401 - loaded now, not in the first trial's time
        self._name = ""  # the slot's name in the current sweep (a pooled actor serves many)
        self._born = time.time()
        self._preloaded = set(sys.modules)
        self._root = root  # the coordinator's folder, unpacked here as our working dir
        self._here = os.getcwd()
        self._ready = threading.Condition()
        self._events: list[Event] = []
        self._answers: queue.Queue[bool] = queue.Queue()
        self._function: tuple[str | None, bytes | None] = (None, None)  # the last objective's
        context = ray.get_runtime_context()
        self._node_id = context.get_node_id()
        self._host = socket.gethostname()
        self._gpu_ids = tuple(str(g) for g in ray.get_gpu_ids())

    def where(self) -> tuple[str, str]:
        return self._node_id, self._host

    def fresh(self) -> bool:
        """Whether no module imported since this actor started (the objective's, say) has
        changed on disk since: whether the next sweep may reuse the actor."""
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if name in self._preloaded or not path:
                continue
            try:
                if os.stat(path).st_mtime > self._born:
                    return False
            except OSError:  # removed since
                return False
        return True

    def run(self, spec: TrialSpec, wait: float, name: str) -> list[Event]:
        """Start `spec` as slot `name` and return its first events (like `next_events`).
        A cloudpickled objective comes with a slot's first spec only (`function_id`)."""
        self._name = name
        if spec.function_id is not None:
            if spec.function is None and self._function[0] == spec.function_id:
                spec = replace(spec, function=self._function[1])
            self._function = (spec.function_id, spec.function)
        while not self._answers.empty():
            self._answers.get_nowait()
        if self._root is not None:
            relative = os.path.relpath(spec.cwd, self._root)
            if relative == "." or not relative.startswith(".."):
                spec = replace(spec, cwd=os.path.normpath(os.path.join(self._here, relative)))
        threading.Thread(target=self._run, args=(spec,), name=f"trial-{spec.number}",
                         daemon=True).start()
        return self.next_events(wait)

    def _run(self, spec: TrialSpec) -> None:
        from sweeps.objectives import run_trial
        self.send(Started(spec.key, self._name, self._host, os.getpid(), time.time(),
                          self._gpu_ids, self._node_id))
        try:
            result = run_trial(spec, self)
        except BaseException as e:  # noqa: BLE001 - the trial's end must always be sent
            result = TrialResult(Outcome.FAILED, error=f"{type(e).__name__}: {e}")
        self.send(Finished(spec.key, result, time.time()))

    def send(self, event: Event) -> None:
        with self._ready:
            self._events.append(event)
            self._ready.notify_all()

    def ask_prune(self, key: str) -> bool:
        self.send(PruneQuery(key))
        return bool(self._answers.get())

    def ask_suggest(self, query: SuggestQuery) -> Any:
        self.send(query)
        return self._answers.get()

    def answer(self, value: Any) -> None:
        self._answers.put(value)

    def next_events(self, wait: float) -> list[Event]:
        """The events buffered so far, waiting up to `wait` seconds for the first."""
        with self._ready:
            if not self._events:
                self._ready.wait(wait)
            events, self._events = self._events, []
        return events


@functools.cache
def _remote_actor_class() -> Any:
    """TrialActor as a Ray actor class, made once a process: Ray exports a new actor class
    to the cluster before its first actor (20-60 ms on a cold sweep's path, every sweep),
    and this one again by itself only on a runtime it has not been exported to."""
    return _import_ray().remote(TrialActor)


# -- the warm pool -----------------------------------------------------------------------------


def _connection_id(ray: Any) -> str | None:
    """Which Ray connection this process has now (None: none): the job and the driver's
    node, as a job id alone repeats in a runtime started again."""
    if not ray.is_initialized():
        return None
    try:
        context = ray.get_runtime_context()
        return f"{context.get_job_id()}@{context.get_node_id()}"
    except Exception:  # noqa: BLE001 - no usable runtime context: nothing is pooled
        return None


class _WarmPool:
    """The idle actors of this process's last sweep, under the key of what they hold (the
    Ray connection, the resource request, the shipped folder); one key at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ray: Any = None
        self._key: tuple[Any, ...] | None = None
        self._actors: list[Any] = []
        self._generation = 0
        self._exit_hook = False

    def keep(self, ray: Any, key: tuple[Any, ...], actors: list[Any]) -> None:
        """Pool `actors` (an older pool is released) until IDLE_RELEASE seconds pass."""
        with self._lock:
            self._drop()
            self._ray, self._key, self._actors = ray, key, actors
            self._generation += 1
            timer = threading.Timer(IDLE_RELEASE, self._expire, args=(self._generation,))
            timer.daemon = True
            timer.start()
            if not self._exit_hook:
                atexit.register(self.release)
                self._exit_hook = True

    def take(self, ray: Any, key: tuple[Any, ...], count: int) -> list[Any]:
        """Up to `count` pooled actors under `key` that may be reused; every other pooled
        actor is killed (its resources go back to the cluster)."""
        with self._lock:
            actors = self._actors if key == self._key else []
            if actors:
                self._actors = []
            self._drop()
        use, extra = actors[:count], actors[count:]
        checks = [actor.fresh.remote() for actor in use]
        ready = set(ray.wait(checks, num_returns=len(checks), timeout=FRESH_WAIT)[0]) \
            if checks else set()
        kept = []
        for actor, check in zip(use, checks, strict=True):
            try:
                reusable = check in ready and ray.get(check) is True
            except ray.exceptions.RayError:  # it died while idle
                reusable = False
            (kept if reusable else extra).append(actor)
        for actor in extra:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        return kept

    def release(self) -> None:
        """Kill the pooled actors now."""
        with self._lock:
            self._drop()

    def _expire(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._drop()

    def _drop(self) -> None:
        ray, key, actors = self._ray, self._key, self._actors
        self._ray, self._key, self._actors = None, None, []
        self._generation += 1
        if not actors or _connection_id(ray) != key[0]:  # that runtime is gone, its actors too
            return
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)


_POOL = _WarmPool()


def release_pool() -> None:
    """Kill the idle Ray actors kept for this process's next sweep (they are released
    anyway after IDLE_RELEASE seconds and at exit), freeing what they hold on the cluster.

    >>> from sweeps.backends.ray import release_pool
    >>> release_pool()
    """
    _POOL.release()


# -- the backend -------------------------------------------------------------------------------


@dataclass
class _Slot:
    name: str
    actor: Any = None
    key: str | None = None
    ref: Any = None  # the outstanding run / next_events call
    node_id: str | None = None
    started: bool = False  # the trial has begun on its actor (not waiting for a placement)
    functions: set[str] = field(default_factory=set)  # the objectives' bytes its actor has


class RayBackend(Backend):
    """Trials as Ray actors, `execution.workers` at once (capped by what the cluster holds).

    >>> backend = RayBackend(config.execution)  # address None: a local loopback runtime
    """

    name = "ray"

    def __init__(self, execution: Execution) -> None:
        self._workers = execution.workers
        self._address = execution.ray.address
        self._request = ray_request(execution.resources)
        self._max_artifact_bytes = execution.max_artifact_bytes
        self._ray: Any = None
        self._owns_runtime = False
        self._ship = False
        self._actor_class: Any = None
        self._root = os.getcwd()  # the coordinator's folder: shipped as the working_dir
        self._size = 0
        self._slots: list[_Slot] = []
        self._running: dict[str, _Slot] = {}
        self._pending: list[Event] = []
        self._next_name = 0
        self._last_resize = 0.0
        self._auth_mode: str | None = None

    # -- start and stop ----------------------------------------------------------------------

    def start(self) -> None:
        ray = self._ray = _import_ray()
        self._connect(ray)
        nodes = self._node_totals()
        check_fits(nodes, self._request)
        self._size = min(self._workers, capacity(nodes, self._request))
        if self._size < self._workers:
            print(f"sweeps: the Ray cluster holds {self._size} trial(s) at once with "
                  f"resources {self._request}; running {self._size}, not "
                  f"{self._workers}", file=sys.stderr)
        self._last_resize = time.monotonic()
        self._define_actor()  # the actors boot while the coordinator sets up the sweep

    def _connect(self, ray: Any) -> None:
        if ray.is_initialized():
            return  # started in this process by the caller, with its own runtime_env
        if self._address is None:
            self._auth_mode = os.environ.get("RAY_AUTH_MODE")
            with loopback_only():
                ray.init(address="local", _node_ip_address="127.0.0.1",
                         include_dashboard=False, logging_level=logging.WARNING)
            self._owns_runtime = True
            return
        host = self._address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
        try:
            with loopback_only() if host in _LOCAL_IPS else contextlib.nullcontext():
                ray.init(address=self._address, logging_level=logging.WARNING,
                         runtime_env=self.runtime_env())
        except Exception as e:  # noqa: BLE001 - ray raises many kinds; one line for the user
            text = " ".join(str(e).split())[:500]
            raise SweepError(f"execution.ray.address: cannot connect to the Ray cluster at "
                             f"{self._address}: {type(e).__name__}: {text}") from None
        self._ship = True
        if not _token_auth_on():
            print(f"sweeps: warning: the Ray cluster at {self._address} has no "
                  f"authentication; anyone who can reach it can run code on it "
                  f"(start it with RAY_AUTH_MODE=token)", file=sys.stderr)

    def runtime_env(self) -> dict[str, Any]:
        """What reaches the workers of a remote cluster: this folder (the objective's code
        and data, less EXCLUDES) as their working directory, and the sweepbook packages."""
        import sweeps
        import tracking
        return {"working_dir": self._root, "excludes": EXCLUDES,
                "py_modules": [os.path.dirname(sweeps.__file__),
                               os.path.dirname(tracking.__file__)]}

    def _node_totals(self, leaving: str | None = None) -> list[dict[str, float]]:
        return [dict(n.get("Resources", {})) for n in self._ray.nodes()
                if n.get("Alive") and n.get("NodeID") != leaving]

    def shutdown(self) -> None:
        ray = self._ray
        if ray is None:
            return
        key = None if self._owns_runtime else self._pool_key()
        idle = [s.actor for s in self._slots
                if key is not None and s.actor is not None and s.key is None and s.ref is None]
        for slot in self._slots:
            if slot.actor is not None and not any(slot.actor is a for a in idle):
                with contextlib.suppress(Exception):
                    ray.kill(slot.actor, no_restart=True)
        if key is not None and idle:
            _POOL.keep(ray, key, idle)
        self._slots.clear()
        self._running.clear()
        if self._owns_runtime:
            ray.shutdown()
            self._owns_runtime = False
            if self._auth_mode is None:
                os.environ.pop("RAY_AUTH_MODE", None)  # ray.init set it for this process
        self._ray = None

    # -- slots -------------------------------------------------------------------------------

    def _define_actor(self) -> None:
        self._actor_class = _remote_actor_class().options(**actor_options(self._request))
        key = None if self._owns_runtime else self._pool_key()
        warm = _POOL.take(self._ray, key, self._size) if key is not None else []
        self._slots = [self._new_slot(actor) for actor in warm] + \
            [self._new_slot() for _ in range(self._size - len(warm))]

    def _pool_key(self) -> tuple[Any, ...] | None:
        """What a pooled actor must share with this sweep's (None: no pooling): the Ray
        connection, the resource request and the project folder (objectives import from it,
        and stay imported)."""
        connection = _connection_id(self._ray)
        return None if connection is None else \
            (connection, tuple(sorted(self._request.items())), self._root, self._ship)

    def _new_slot(self, actor: Any = None) -> _Slot:
        name = f"ray-{self._next_name}"
        self._next_name += 1
        if actor is None:
            actor = self._actor_class.remote(self._root if self._ship else None)
        return _Slot(name, actor)

    def free_slots(self) -> int:
        return sum(1 for s in self._slots if s.key is None)

    def submit(self, spec: TrialSpec) -> None:
        spec = replace(spec, artifacts_travel=True, max_artifact_bytes=self._max_artifact_bytes)
        slot = next(s for s in self._slots if s.key is None)
        if spec.function_id is not None:
            if spec.function_id in slot.functions:
                spec = replace(spec, function=None)  # its actor has it
            slot.functions.add(spec.function_id)
        slot.key = spec.key
        self._running[spec.key] = slot
        slot.ref = slot.actor.run.remote(spec, LONG_POLL, slot.name)

    def _replace(self, slot: _Slot, leaving: str | None = None) -> None:
        """A slot's actor is gone: start a new one, unless the cluster shrank below us."""
        with contextlib.suppress(Exception):
            self._ray.kill(slot.actor, no_restart=True)
        self._slots.remove(slot)
        if len(self._slots) < self._fit_size(leaving):
            self._slots.append(self._new_slot())

    def _fit_size(self, leaving: str | None = None) -> int:
        """Slots wanted now: `workers` capped by what the live nodes hold (at least one,
        waiting for a node to join); `leaving` is a node known to be going."""
        try:
            held = capacity(self._node_totals(leaving), self._request)
        except Exception:  # noqa: BLE001 - the GCS is briefly unreachable: keep the size
            return self._size
        self._size = max(1, min(self._workers, held))
        return self._size

    def _resize(self) -> list[Event]:
        """Match the slots to what the live nodes hold: grow when nodes join; shrink when
        they left, first idle slots, then trials still waiting for a place (LOST)."""
        self._last_resize = time.monotonic()
        size = self._fit_size()
        while len(self._slots) < size:
            self._slots.append(self._new_slot())
        events: list[Event] = []
        for slot in sorted(self._slots, key=lambda s: (s.key is not None, s.started)):
            if len(self._slots) <= size or slot.started:
                break
            if slot.key is not None:
                events.append(Finished(slot.key, TrialResult(
                    Outcome.LOST, error="the Ray cluster shrank before the trial could start"),
                    time.time()))
                self._end(slot)
            with contextlib.suppress(Exception):
                self._ray.kill(slot.actor, no_restart=True)
            self._slots.remove(slot)
        return events

    # -- events ------------------------------------------------------------------------------

    def poll(self, timeout: float) -> list[Event]:
        events, self._pending = self._pending, []
        if time.monotonic() - self._last_resize > RESIZE_EVERY:
            events += self._resize()
        waiting = {s.ref: s for s in self._slots if s.ref is not None}
        if not waiting:
            if not events and timeout > 0:
                time.sleep(timeout)
            return events
        ray = self._ray
        refs = list(waiting)
        ready, rest = ray.wait(refs, num_returns=1, timeout=0 if events else timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        for ref in ready:
            events += self._collect(waiting[ref], ref)
        return events

    def _collect(self, slot: _Slot, ref: Any) -> list[Event]:
        ray = self._ray
        try:
            events: list[Event] = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            return self._actor_died(slot, e)
        except ray.exceptions.RayError as e:  # e.g. the runtime env could not be set up
            key = slot.key
            self._end(slot)
            self._replace(slot)
            text = " ".join(str(e).split())[:500]
            return [Finished(key, TrialResult(Outcome.FAILED, error=f"ray: {text}"),
                             time.time())] if key else []
        for event in events:
            if isinstance(event, Started):
                slot.node_id, slot.started = event.node_id, True
            elif isinstance(event, Finished):
                self._end(slot)
        if slot.key is not None:
            slot.ref = slot.actor.next_events.remote(LONG_POLL)
        return events

    def _end(self, slot: _Slot) -> None:
        if slot.key is not None:
            self._running.pop(slot.key, None)
        slot.key, slot.ref, slot.started = None, None, False

    def _actor_died(self, slot: _Slot, error: Any) -> list[Event]:
        key = slot.key
        lost = self._node_lost(slot, error)
        self._end(slot)
        self._replace(slot, slot.node_id if lost else None)
        if key is None:
            return []
        if lost:
            result = TrialResult(Outcome.LOST, error="the trial's Ray node left the cluster")
        else:
            detail = _death_detail(str(error))
            result = TrialResult(Outcome.FAILED, error="worker process died during the trial"
                                 + (f" ({detail})" if detail else ""))
        return [Finished(key, result, time.time())]

    def _node_lost(self, slot: _Slot, error: Any) -> bool:
        ray = self._ray
        if isinstance(error, ray.exceptions.ActorUnavailableError) or error.preempted:
            return True
        if "node has died" in str(error):
            return True
        if slot.node_id is None:
            return False
        try:
            alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
        except Exception:  # noqa: BLE001
            return False
        return slot.node_id not in alive

    def answer(self, key: str, value: Any) -> None:
        slot = self._running.get(key)
        if slot is not None:
            slot.actor.answer.remote(value)

    def cancel(self, key: str, outcome: Outcome, message: str) -> None:
        slot = self._running.get(key)
        if slot is None:
            return
        ray = self._ray
        ray.kill(slot.actor, no_restart=True)
        if slot.ref is not None:
            ready, _ = ray.wait([slot.ref], timeout=0)
            if ready:
                with contextlib.suppress(ray.exceptions.RayError):
                    self._pending += [e for e in ray.get(ready[0])]
        finished = any(isinstance(e, Finished) and e.key == key for e in self._pending)
        if not finished:
            self._pending.append(Finished(key, TrialResult(outcome, error=message), time.time()))
        self._end(slot)
        self._replace(slot)


def _death_detail(text: str) -> str:
    """The useful line of an ActorDiedError's message (why the worker exited)."""
    for line in text.splitlines():
        line = line.strip()
        if "because" in line or "exit" in line.lower():
            return line[:300]
    return ""
