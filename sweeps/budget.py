"""A sweep's budget and failure policy: when to ask for more trials, when to retry an
attempt, and when to stop the sweep (trials, time, metric target or `stop_when`, failures);
and the counts that progress displays show.

The coordinator tells it what happened (`count`, `failed`, `succeeded`); it answers
`may_ask` and `failed` (retry or not) and calls `on_stop(reason)` when the sweep should
ask for no more trials. It knows nothing of backends or the store.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from optuna.trial import TrialState

from sweeps import records
from sweeps.config import Goal, SweepConfig
from sweeps.failures import error_pattern
from sweeps.trial import Outcome
from tracking import RunStatus

MAX_LOST_ATTEMPTS = 3
IDENTICAL_FAILURES = 5  # the first attempts failing alike that stop a sweep (no max_failures)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays."""

    complete: int
    pruned: int
    failed: int
    running: int  # started on a worker
    queued: int  # sent ahead to a busy worker, not started yet
    total: int | None
    best: str
    elapsed: float


@dataclass
class ErrorCount:
    """How many failed attempts share one error pattern, and the first of them."""

    count: int
    first: str  # "<error> (trial N: run <id>)"


class Budget:
    """The budget and failure policy of one sweep (see the module docstring)."""

    def __init__(self, config: SweepConfig, on_stop: Callable[[str], None]) -> None:
        self.config = config
        self._on_stop = on_stop
        self.counts: Counter[TrialState] = Counter()  # COMPLETE, PRUNED and FAIL only
        self.failed_attempts = 0
        self._errors: dict[str, ErrorCount] = {}  # by error pattern
        self._opening_failures: int | None = 0  # failed attempts before any other outcome
        self._failure_stop = False  # stopped because of failures: the sweep FAILED
        self.stop_reason = ""
        self.started = time.monotonic()

    @property
    def trials(self) -> int | None:
        """The number of trials to run: budget.trials, and at most the grid's size."""
        trials = self.config.budget.trials
        if self.config.sampler.type in ("grid", "wandb_grid"):
            size = self.config.space.grid_size()
            trials = size if trials is None else min(trials, size or trials)
        return trials

    def stop(self, reason: str, *, failed: bool = False) -> None:
        """Ask for no more trials (running ones finish)."""
        self.stop_reason = reason
        self._failure_stop = self._failure_stop or failed
        self._on_stop(reason)

    def count(self, state: TrialState) -> None:
        """A trial reached its final state."""
        self.counts[state if state in (TrialState.COMPLETE, TrialState.PRUNED)
                    else TrialState.FAIL] += 1

    def count_names(self) -> dict[str, int]:
        """The counts as the sweep's `sweep.counts` tag and progress displays name them."""
        return {"complete": self.counts[TrialState.COMPLETE],
                "pruned": self.counts[TrialState.PRUNED], "failed": self.counts[TrialState.FAIL]}

    def progress(self, running: int, queued: int, best: list[float] | None) -> Progress:
        return Progress(**self.count_names(), running=running, queued=queued,
                        total=self.trials, best=records.best_value_text(best),
                        elapsed=time.monotonic() - self.started)

    def may_ask(self, pending: int) -> bool:
        """Whether a new trial may be asked for, with `pending` trials not yet counted
        (running, waiting for a retry or re-queued on resume)."""
        trials = self.trials
        return not self.stop_reason and (trials is None or sum(self.counts.values())
                                         + pending < trials)

    def deadline(self) -> float | None:
        """When the time budget runs out (time.monotonic), while it still matters."""
        timeout = self.config.budget.timeout
        return None if timeout is None or self.stop_reason else self.started + timeout

    def check_time(self) -> None:
        deadline = self.deadline()
        if deadline is not None and time.monotonic() >= deadline:
            self.stop("time budget used")

    def resumed(self, failed: Iterable[tuple[int, str, str]]) -> None:
        """Count the stored failed attempts, (trial number, run id, error), of a resumed
        sweep, after its stored trials were counted."""
        for number, run_id, error in failed:
            self.failed_attempts += 1
            self._note_error(number, run_id, error)
        if self.counts[TrialState.COMPLETE] or self.counts[TrialState.PRUNED]:
            self._opening_failures = None
        else:
            self._opening_failures = self.failed_attempts

    @property
    def watches_values(self) -> bool:
        """Whether a completed trial's values can stop the sweep (a target, `stop_when`)."""
        return self.config.metrics[0].target is not None or self.config.stop_when is not None

    def succeeded(self, values: list[float] | None, number: int | None = None,
                  logged: Mapping[str, float] | None = None) -> None:
        """An attempt of trial `number` completed, with its objective values and the final
        value of every metric it logged (`logged`), or was pruned (`values` None). Reaching
        the metric target or `stop_when` stops the sweep."""
        self._opening_failures = None
        if values is None or self.stop_reason:
            return
        first, when = self.config.metrics[0], self.config.stop_when
        if first.target is not None and len(values) == 1:
            if _reaches(values[0], first.target, first.goal):
                self.stop(f"metric target {first.target:g} reached")
        elif when is not None:
            names = [m.name for m in self.config.metrics]
            value = values[names.index(when.metric)] if when.metric in names \
                else (logged or {}).get(when.metric, math.nan)
            if _reaches(value, when.value, when.goal):
                self.stop(f"stop_when: {when.metric} reached {when.value:g} (trial {number})")

    def failed(self, outcome: Outcome, number: int, run_id: str, error: str,
               failures: int, lost: int) -> bool:
        """An attempt FAILED or was LOST (`failures`/`lost`: the trial's counts, this one
        included); returns whether to run it again."""
        if outcome is Outcome.FAILED:
            self.failed_attempts += 1
            self._failed_alike(number, run_id, error)
        limit = self.config.budget.max_failures
        if limit is not None and self.failed_attempts > limit and not self.stop_reason:
            self.stop(f"too many failures ({self.failed_attempts} > {limit})", failed=True)
        retry = ((outcome is Outcome.LOST and lost <= MAX_LOST_ATTEMPTS)
                 or (outcome is Outcome.FAILED and failures <= self.config.execution.retries))
        return retry and not self.stop_reason

    def _note_error(self, number: int, run_id: str, error: str) -> ErrorCount:
        """Count a failed attempt's error under its pattern."""
        entry = self._errors.setdefault(error_pattern(error),
                                        ErrorCount(0, f"{error} (trial {number}: run {run_id})"))
        entry.count += 1
        return entry

    def _failed_alike(self, number: int, run_id: str, error: str) -> None:
        """Stop asking for trials when the first N attempts all failed with one error
        (N = budget.max_failures, else IDENTICAL_FAILURES): more would fail the same way."""
        count = self._note_error(number, run_id, error).count
        if self._opening_failures is None:
            return
        self._opening_failures += 1
        limit = self.config.budget.max_failures or IDENTICAL_FAILURES
        if count < self._opening_failures:  # another error came first: the rule is off
            self._opening_failures = None
        elif count >= limit and not self.stop_reason:
            self.stop(f"the first {count} attempts failed with the same error", failed=True)

    def sweep_status(self) -> RunStatus:
        """How a sweep that ran to its end ends: FAILED when it stopped for failures or no
        trial completed (the stop reason then says why), else FINISHED."""
        status = RunStatus.FAILED if self._failure_stop else RunStatus.FINISHED
        if not self.counts[TrialState.COMPLETE]:
            status = RunStatus.FAILED
            self.stop_reason = "; ".join(r for r in (self._none_completed(), self.stop_reason)
                                         if r)
        return status

    def _none_completed(self) -> str:
        """The line saying why a sweep where no trial completed failed."""
        failed, pruned = self.counts[TrialState.FAIL], self.counts[TrialState.PRUNED]
        if not self._errors:
            return f"no trial completed ({failed} failed, {pruned} pruned)"
        top = max(self._errors.values(), key=lambda e: e.count)
        others = sum(e.count for e in self._errors.values()) - top.count
        head = (f"no trial completed ({failed} failed, {pruned} pruned)" if pruned
                else f"all {failed} trial{'s' if failed != 1 else ''} failed")
        if not others:
            return f"{head}: {top.first}"
        return f"{head}, {top.count} attempts with: {top.first}; {others} with other errors"


def _reaches(value: float, target: float, goal: Goal) -> bool:
    """Whether `value` is at `target` or beyond it in the direction of `goal` (NaN never)."""
    return value >= target if goal is Goal.MAXIMIZE else value <= target
