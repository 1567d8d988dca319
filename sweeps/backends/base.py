"""The backend contract: where trials run. A backend knows nothing of optuna or SQLite.

The coordinator submits `TrialSpec`s while `free_slots()` allows, then polls for events
(submit -> wait for any -> handle), so a free slot gets a new trial at once. Every
submitted trial ends in exactly one `Finished` event, whatever happens to its process:
a crash, a kill, a timeout (`cancel`), or a lost node (`Outcome.LOST`).
"""

from __future__ import annotations

import abc
from typing import Any

from sweeps.trial import Event, Outcome, TrialSpec


class Backend(abc.ABC):
    """Runs trials and carries their events back. Used from one thread (the coordinator)."""

    name: str

    @abc.abstractmethod
    def start(self) -> None:
        """Get ready (start workers, connect to a cluster); errors are one-line SweepErrors.
        Returns without waiting for workers to boot: they start while the coordinator sets
        the sweep up, and `submit` may send them trials before they are up."""

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials may be submitted now."""

    @abc.abstractmethod
    def submit(self, spec: TrialSpec) -> None: ...

    @abc.abstractmethod
    def poll(self, timeout: float) -> list[Event]:
        """Events that arrived, waiting up to `timeout` seconds for the first one."""

    @abc.abstractmethod
    def answer(self, key: str, value: Any) -> None:
        """Answer a trial's PruneQuery (a bool) or SuggestQuery (a value or SuggestFailed)."""

    @abc.abstractmethod
    def cancel(self, key: str, outcome: Outcome, message: str) -> None:
        """Stop a running trial; its Finished event carries `outcome` and `message`."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop everything still running and release the resources."""
