"""Resuming a sweep: which stored attempts the study gets back, which trials run again,
and which runs were cut off when the sweep's coordinator died.

`plan_resume(...)` only reads; the coordinator applies the plan (the optimizer takes the stored
trials, the budget counts them, the recorder marks the cut-off runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweeps import records
from sweeps.config import SweepConfig
from sweeps.errors import SweepError
from sweeps.records import TrialRecord
from tracking import Client, Metric, Run, RunStatus


@dataclass(frozen=True)
class Requeued:
    """A trial to run again with its stored params, as attempt `attempt`."""

    number: int
    params: Mapping[str, Any]
    attempt: int
    failures: int  # its failed attempts so far
    retry_of: str = ""  # the failed run it runs again, for `sweeps rerun-failed`


@dataclass(frozen=True)
class CutOff:
    """A run left QUEUED or RUNNING by a coordinator that died: to be ended now."""

    run_id: str
    status: RunStatus
    error: str
    lost: bool


@dataclass
class Plan:
    """What a resumed sweep starts from."""

    stored: list[tuple[TrialRecord, list[Metric]]] = field(default_factory=list)
    """Attempts whose trial is over (FINISHED, PRUNED or FAILED for good), with histories."""
    requeued: list[Requeued] = field(default_factory=list)
    cut_off: list[CutOff] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)
    """(trial number, run id, error) of every attempt that failed (lost ones excepted)."""
    next_number: int = 0


def find_resumable(client: Client, name_or_id: str, experiment_id: str,
                   experiment: str, *, ended: bool = False) -> Run:
    """The unfinished sweep to resume (or, with `ended`, any sweep), checked: in this
    experiment, and not running."""
    sweep = records.find_sweep(client, name_or_id, unfinished=not ended)
    if sweep.info.experiment_id != experiment_id:
        raise SweepError(f"sweep {sweep.info.run_id} belongs to another experiment "
                         f"than {experiment!r}")
    live = records.live_coordinator(sweep)
    if live:
        raise SweepError(f"sweep {sweep.info.run_id} is still running (process {live}); "
                         "stop it before resuming")
    return sweep


def plan_resume(client: Client, sweep: Run, config: SweepConfig, *,
                rerun_failed: bool = False) -> Plan:
    """Decide, from the stored attempts of `sweep`, what the resumed sweep starts from;
    `rerun_failed` runs the trials that failed for good again, as new attempts linked to
    their last one (their earlier failures no longer count)."""
    stored = records.load_trials(client, sweep)
    histories: dict[str, list[Metric]] = {}
    for run_id, metric in client.get_metric_histories([r.run_id for r in stored]):
        histories.setdefault(run_id, []).append(metric)
    by_number: dict[int, list[TrialRecord]] = {}
    for record in stored:
        by_number.setdefault(record.number, []).append(record)
    space = config.space.distributions()
    result = Plan()
    for number, attempts in sorted(by_number.items()):
        result.next_number = max(result.next_number, number + 1)
        last = attempts[-1]
        finished = [a for a in attempts if a.status is RunStatus.FINISHED]
        failed = [a for a in attempts if a.status is RunStatus.FAILED and not a.lost]
        if rerun_failed and not finished and last.status is RunStatus.FAILED:
            result.requeued.append(Requeued(number, {k: v for k, v in last.params.items()
                                                     if k in space or not space},
                                            last.attempt + 1, 0, retry_of=last.run_id))
            continue
        result.failed += [(a.number, a.run_id, a.error or "unknown error") for a in failed]
        again = Requeued(number, {k: v for k, v in last.params.items()  # all: define-by-run
                                  if k in space or not space}, last.attempt + 1, len(failed))
        if finished:
            result.stored.append((finished[-1], histories.get(finished[-1].run_id, [])))
        elif last.status is RunStatus.PRUNED:
            result.stored.append((last, histories.get(last.run_id, [])))
        elif last.status is RunStatus.QUEUED:  # never started: its coordinator died
            result.cut_off.append(CutOff(last.run_id, RunStatus.KILLED,
                                         "the sweep stopped before it started", lost=False))
            result.requeued.append(again)
        elif last.status is RunStatus.RUNNING:  # cut off when its coordinator died
            result.cut_off.append(CutOff(last.run_id, RunStatus.FAILED,
                                         "the sweep stopped while it ran", lost=True))
            result.requeued.append(again)
        elif (last.status is RunStatus.KILLED or last.lost
              or len(failed) <= config.execution.retries):
            result.requeued.append(again)
        else:
            result.stored.append((last, histories.get(last.run_id, [])))
    if config.budget.repeats > 1:
        result.cut_off += _cut_off_repeats(client, sweep, {c.run_id for c in result.cut_off})
    return result


def _cut_off_repeats(client: Client, sweep: Run, trials: set[str]) -> list[CutOff]:
    """The repeats (`budget.repeats`) a dead coordinator left unfinished under the trial
    runs it cut off."""
    if not trials:
        return []
    where = f"tags.`{records.ROLE}` = '{records.REPETITION}'"
    return [CutOff(run.info.run_id, RunStatus.KILLED, "the sweep stopped while it ran",
                   lost=False)
            for run in client.search_runs([sweep.info.experiment_id], where)
            if run.info.parent_run_id in trials
            and run.info.status in (RunStatus.RUNNING, RunStatus.QUEUED)]
