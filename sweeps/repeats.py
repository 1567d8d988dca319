"""`budget.repeats: N`: every trial runs N times with new seeds, for noisy objectives.

The trial's own run holds its params and, once its repeats ended, the mean of their
objective values (what optuna is told); each repeat is a child run of it
(`records.REPETITION`, with its seed and its own metrics). A repeat that does not complete
makes the trial end as that repeat did, so the sweep's retry rules apply to the trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sweeps import records
from sweeps.config import SweepConfig
from sweeps.optimizer import ActiveTrial
from sweeps.reruns import Rerun, seed_for, with_seed
from sweeps.trial import Outcome


@dataclass
class _Group:
    trial: ActiveTrial
    # (repeat, outcome, values, error) of each repeat that ended, as they end
    ended: list[tuple[int, Outcome, dict[str, float], str | None]] = field(
        default_factory=list)
    logged: list[dict[str, float]] = field(default_factory=list)  # their last values


@dataclass(frozen=True)
class GroupEnd:
    """How a trial ended once all its repeats did."""

    trial: ActiveTrial
    outcome: Outcome
    values: dict[str, float]  # the mean of each objective metric (empty unless COMPLETE)
    error: str | None
    logged: dict[str, float] = field(default_factory=dict)  # mean last value of each metric


class Repeats:
    """The trials whose repeats are running (see the module docstring)."""

    def __init__(self, config: SweepConfig) -> None:
        self.size = config.budget.repeats
        self._names = tuple(m.name for m in config.metrics)
        self._seed_base, self._seed_param = config.sampler.seed, config.seed_param
        self._groups: dict[str, _Group] = {}  # by the trial attempt's run id

    def __len__(self) -> int:
        return len(self._groups)

    def expand(self, trial: ActiveTrial) -> list[Rerun]:
        """The repeats of `trial`'s attempt (its run is `trial.key`), to run in order."""
        self._groups[trial.key] = _Group(trial)
        plan = []
        for repeat in range(1, self.size + 1):
            seed = seed_for(self._seed_base, trial.number, repeat)
            plan.append(Rerun(records.REPETITION, trial.number, trial.key, repeat, seed,
                              with_seed(trial.params, self._seed_param, seed)))
        return plan

    def trial_of(self, repeat: ActiveTrial) -> ActiveTrial | None:
        """The trial a repeat belongs to (None for any other attempt)."""
        rerun = repeat.rerun
        group = self._groups.get(rerun.rerun_of) if rerun is not None and \
            rerun.role == records.REPETITION else None
        return None if group is None else group.trial

    def ended(self, repeat: ActiveTrial, outcome: Outcome, values: dict[str, float],
              error: str | None) -> GroupEnd | None:
        """Note how a repeat ended; the trial's end once it was the last one."""
        trial = self.trial_of(repeat)
        if trial is None:
            return None
        group = self._groups[trial.key]
        group.ended.append((repeat.rerun.repeat if repeat.rerun else 0, outcome, values, error))
        group.logged.append(dict(repeat.logged))
        if len(group.ended) < self.size:
            return None
        del self._groups[trial.key]
        for number, how, _, why in sorted(group.ended, key=lambda e: e[0]):
            if how is not Outcome.COMPLETE:
                return GroupEnd(trial, how, {}, f"repeat {number}: {why or how.value}")
        means = {n: math.fsum(v.get(n, math.nan) for _, _, v, _ in group.ended) / self.size
                 for n in self._names}
        keys = {k for logged in group.logged for k in logged}
        logged = {k: math.fsum(d.get(k, math.nan) for d in group.logged) / self.size
                  for k in keys}
        return GroupEnd(trial, Outcome.COMPLETE, means, None, logged)

    def drop(self) -> list[str]:
        """Forget the trials whose repeats will not all run; returns their run ids."""
        keys, self._groups = list(self._groups), {}
        return keys
