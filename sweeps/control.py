"""The control channel of a running sweep: `sweeps pause | resume | stop | cancel SWEEP`.

A request is one tag, `sweep.control`, on the sweep (parent) run, written through the
public Client API: it reaches the coordinator from any terminal or machine that shares
the store (SQLite or PostgreSQL), whatever the backend. The coordinator reads it through
a `Watch` (one read of the sweep run, at most every `CHECK_INTERVAL` seconds) and acts:
- pause: no trial starts (those sent ahead are called off and run again on resume);
  running ones finish;
- run: un-pause;
- stop: no new trials, running ones finish; the sweep ends "stopped by user";
- cancel: running trials are killed (KILLED), and so is the sweep.
Stop and cancel are final: a stopping sweep cannot be paused or resumed.
"""

from __future__ import annotations

import enum
import time

from sweeps import records
from sweeps.errors import SweepError
from tracking import Client, Run, RunStatus

CHECK_INTERVAL = 0.5  # seconds between two reads of the request by the coordinator
STOPPED, CANCELLED = "stopped by user", "cancelled by user"  # the sweeps' stop reasons


class Control(enum.Enum):
    """What the user asked a running sweep to do."""

    RUN = "run"
    PAUSE = "pause"
    STOP = "stop"
    CANCEL = "cancel"


FINAL = (Control.STOP, Control.CANCEL)
_STATES = {Control.PAUSE: "paused", Control.STOP: "stopping", Control.CANCEL: "cancelling"}


def requested(sweep: Run) -> Control:
    """The request stored on a sweep run (RUN when there is none, or it is unreadable)."""
    try:
        return Control(sweep.data.tags.get(records.CONTROL, Control.RUN.value))
    except ValueError:
        return Control.RUN


def state_text(sweep: Run) -> str:
    """A sweep's status as `sweeps ls` shows it: "RUNNING (paused)" while paused.

    >>> state_text(client.get_run(sweep_id))
    'RUNNING (paused)'
    """
    status = sweep.info.status.value
    state = _STATES.get(requested(sweep))
    return f"{status} ({state})" if state and sweep.info.status is RunStatus.RUNNING else status


def paused(sweep: Run) -> bool:
    """Whether `sweep` is running, paused, and its coordinator not known to be gone."""
    return sweep.info.status is RunStatus.RUNNING and requested(sweep) is Control.PAUSE \
        and not _gone(sweep)


def request(client: Client, sweep: Run, control: Control) -> str:
    """Ask the running `sweep` to pause, run (un-pause), stop or cancel; returns the line to
    show. SweepError when it is not running, or already stopping.

    >>> request(client, client.get_run(sweep_id), Control.PAUSE)
    'sweep quickstart (3f9a...) pauses: no new trials until `sweeps resume` (running ones finish)'
    """
    info = sweep.info
    name = f"sweep {info.run_name} ({info.run_id})"
    if info.status is not RunStatus.RUNNING:
        raise SweepError(f"{name} is not running (it is {info.status.value})")
    if _gone(sweep):
        raise SweepError(f"{name} is not running: its process is gone (continue it with "
                         f"sweeps resume {info.run_id})")
    current = requested(sweep)
    if current in FINAL and control is not Control.CANCEL:
        raise SweepError(f"{name} is already {_STATES[current]}")
    if current is control:
        return f"{name} is already {_STATES.get(control, 'running')}"
    client.set_tag(info.run_id, records.CONTROL, control.value)
    return {Control.PAUSE: f"{name} pauses: no new trials until `sweeps resume` (running "
                           "ones finish)",
            Control.RUN: f"{name} resumes",
            Control.STOP: f"{name} stops: running trials finish, no new ones start",
            Control.CANCEL: f"{name} is cancelled: its running trials are killed"}[control]


def _gone(sweep: Run) -> bool:
    """Whether the sweep's coordinator ran on this host and is dead (another host's
    coordinator cannot be checked from here)."""
    host = sweep.data.tags.get(records.COORDINATOR, "").rpartition(":")[0]
    return host == records.this_coordinator().rpartition(":")[0] \
        and records.live_coordinator(sweep) is None


class Watch:
    """The coordinator's side: reads a sweep's request, at most every `interval` seconds."""

    def __init__(self, client: Client, sweep_run_id: str, *,
                 interval: float = CHECK_INTERVAL) -> None:
        self._client, self._run_id, self._interval = client, sweep_run_id, interval
        self._next = 0.0

    def read(self) -> Control | None:
        """The request now, or None when it was read less than `interval` seconds ago."""
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + self._interval
        return requested(self._client.get_run(self._run_id))
