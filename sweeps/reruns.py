"""Re-running finished trials: seeds, `sweeps recheck` plans and `sweeps reproduce` plans.

A re-run is a child run of the sweep that the study never sees (`records.RECHECK` or
`records.REPRODUCTION`): the coordinator runs it like a trial, with the original's params and
a seed of its own, and tells optuna nothing. Every attempt, re-run or not, gets a seed
(`trial.seed`): the seed param's value where the config names one (`seed: {param: NAME}`),
else one derived from the sampler's seed, the trial number and the repeat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sweeps import records
from sweeps.config import Goal, SweepConfig
from sweeps.errors import SweepError
from tracking import Client, Run, RunStatus
from tracking.host import capture_environment

SEED_LIMIT = 2**31 - 1  # numpy's and scikit-learn's random_state take seeds below 2**32


@dataclass(frozen=True)
class Rerun:
    """One re-run of the finished attempt `rerun_of` (trial `number`), as repeat `repeat`."""

    role: str  # records.RECHECK | records.REPRODUCTION
    number: int
    rerun_of: str
    repeat: int
    seed: int | None
    params: Mapping[str, Any]


RECHECK_STREAM = 1  # re-checks draw seeds of their own, apart from trials and repeats


def seed_for(base: int | None, number: int, repeat: int = 0, stream: int = 0) -> int:
    """The derived seed of trial `number`'s repeat `repeat` (0: the trial itself; `stream`
    keeps re-checks' seeds apart from the trial's and its `budget.repeats`)."""
    return ((base or 0) * 1_000_003 + number * 7_919 + repeat * 104_729
            + stream * 15_485_863) % SEED_LIMIT


def trial_seed(config: SweepConfig, number: int, params: Mapping[str, Any]) -> int:
    """The seed a trial runs with: its seed param's value, else the derived one."""
    value = params.get(config.seed_param) if config.seed_param else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return seed_for(config.sampler.seed, number)


def with_seed(params: Mapping[str, Any], seed_param: str | None, seed: int) -> dict[str, Any]:
    """`params` with the seed param (if any) set to `seed`."""
    return {**params, seed_param: seed} if seed_param else dict(params)


def _finished_trials(client: Client, sweep: Run) -> list[records.TrialRecord]:
    return [r for r in records.load_trials(client, sweep) if r.status is RunStatus.FINISHED]


def top_trials(client: Client, sweep: Run, config: SweepConfig,
               top: int) -> list[tuple[records.TrialRecord, float]]:
    """The `top` best finished trials by the first objective metric, best first."""
    metric = config.metrics[0]
    scored = [(r, r.run.data.metrics.get(metric.name, math.nan))
              for r in _finished_trials(client, sweep)]
    scored = [(r, v) for r, v in scored if math.isfinite(v)]
    scored.sort(key=lambda rv: rv[1], reverse=metric.goal is Goal.MAXIMIZE)
    return scored[:top]


def recheck_plan(client: Client, sweep: Run, config: SweepConfig, *, top: int, repeats: int,
                 seed_param: str | None) -> list[Rerun]:
    """`repeats` re-runs of each of the `top` best trials, each with a new seed (set as
    `seed_param`'s value when there is one). SweepError when there is nothing to re-check."""
    for name, value in (("top", top), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SweepError(f"--{name} must be a whole number of at least 1, not {value!r}")
    best = top_trials(client, sweep, config, top)
    if not best:
        raise SweepError(f"sweep {sweep.info.run_id} has no completed trial to re-check")
    if seed_param and not any(seed_param in r.params for r, _ in best):
        names = sorted({k for r, _ in best for k in r.params})
        raise SweepError(f"--seed-param {seed_param!r} is not a param of the sweep's trials "
                         f"(they have: {', '.join(names) or 'none'})")
    done = {(r.number, r.repeat) for r in records.load_reruns(client, sweep)}
    plan = []
    for record, _ in best:
        first = 1 + max([rep for n, rep in done if n == record.number], default=0)
        for repeat in range(first, first + repeats):  # a second recheck adds new seeds
            seed = seed_for(config.sampler.seed, record.number, repeat, RECHECK_STREAM)
            plan.append(Rerun(records.RECHECK, record.number, record.run_id, repeat, seed,
                              with_seed(record.params, seed_param, seed)))
    return plan


def reproduce_plan(client: Client, trial: Run, config: SweepConfig) -> Rerun:
    """A re-run of `trial` (a trial's run, or one repeat of a `budget.repeats` trial) with
    its recorded params and seed."""
    role = trial.data.tags.get(records.ROLE)
    if role not in (records.TRIAL, records.REPETITION):
        raise SweepError(f"run {trial.info.run_id} is not a trial of a sweep")
    if role == records.TRIAL and config.budget.repeats > 1:
        repeats = client.search_runs([trial.info.experiment_id],
                                     f"attributes.parent_run_id = '{trial.info.run_id}'")
        raise SweepError(f"trial {trial.data.tags.get(records.NUMBER)}'s value is the mean of "
                         f"its {config.budget.repeats} repeats (budget.repeats): reproduce "
                         "one of them: " + ", ".join(r.info.run_id for r in repeats))
    if trial.info.status is not RunStatus.FINISHED:
        raise SweepError(f"run {trial.info.run_id} is {trial.info.status.value}: only a "
                         "finished trial can be reproduced")
    record = records.TrialRecord.from_run(trial, client.typed_params([trial])[trial.info.run_id])
    recorded = trial.data.tags.get(records.SEED, "")
    seed = int(recorded) if recorded.lstrip("-").isdigit() else \
        trial_seed(config, record.number, record.params)
    return Rerun(records.REPRODUCTION, record.number, record.run_id, 0, seed, record.params)


def environment_changes(sweep: Run) -> list[str]:
    """One line per recorded source or environment fact (git commit and dirty state, Python,
    key library versions) that differs now, in the sweep's project folder."""
    recorded = {k: v for k, v in sweep.data.tags.items() if k.startswith("sys.")}
    now = capture_environment(records.SweepRecord.from_run(sweep).cwd)
    lines = []
    for key in sorted(set(recorded) | set(now)):
        name = key.removeprefix("sys.")
        if not (name in ("git.commit", "git.dirty", "python") or name.startswith("lib.")):
            continue
        before, after = recorded.get(key), now.get(key)
        if before != after:
            lines.append(f"{name} differs: recorded {before or 'nothing'}, "
                         f"now {after or 'nothing'}")
    return lines
