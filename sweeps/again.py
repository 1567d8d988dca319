"""Taking a stored sweep up again: more trials (`extend`), its failed trials once more
(`rerun_failed`), its winners with new seeds (`recheck`) and one trial as it ran
(`reproduce`). Each runs with the config the sweep stored, on the backend it names.

    sweeps.again.extend("iris-rf", trials=20)
    reruns = sweeps.again.recheck("iris-rf", top=3, repeats=5)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sweeps import records
from sweeps.api import SweepResult, run, tracking_root
from sweeps.backends import make_backend
from sweeps.budget import Progress
from sweeps.config import SweepConfig, parse_config
from sweeps.coordinator import Coordinator
from sweeps.errors import SweepError
from sweeps.recorder import Recorder
from sweeps.reruns import Rerun, environment_changes, recheck_plan, reproduce_plan
from tracking import Client, NotFoundError, Run, RunStatus


def stored_config(client: Client, sweep: Run, overrides: Sequence[str] = ()) -> SweepConfig:
    """The config `sweep` ran with, as stored with it (plus `overrides`)."""
    return parse_config(records.read_config(client, sweep), overrides=overrides,
                        source=f"sweep {sweep.info.run_id}")


def _runnable(config: SweepConfig, sweep: Run, objective: Callable[..., Any] | None,
              instead: str) -> bytes | None:
    """`objective` cloudpickled, else None for an objective the config names and workers
    can import; SweepError, saying to do `instead`, for a script's function without it."""
    spec = config.objective
    if objective is None and (spec.command or spec.wandb is not None or (
            spec.callable and not spec.callable.startswith("__main__:"))):
        return None
    if objective is None:
        raise SweepError(f"sweep {sweep.info.run_id}'s objective was a function passed to "
                         f"study.optimize, which the store cannot hold: {instead}")
    import cloudpickle
    return cloudpickle.dumps(objective)


EXTEND_INSTEAD = ("extend it with sweeps.create_study(study_name=..., load_if_exists=True)"
                  ".optimize(func, n_trials=N)")


def _sweep(client: Client, name_or_id: str) -> Run:
    """The sweep, checked: no process runs it or re-runs its trials now; re-runs left
    QUEUED or RUNNING by a process that died end KILLED."""
    sweep = records.find_sweep(client, name_or_id)
    live = records.live_coordinator(sweep)
    if live:
        raise SweepError(f"sweep {sweep.info.run_id} is still running (process {live}); "
                         "wait for it to end")
    left = [r.run for role in (records.RECHECK, records.REPRODUCTION)
            for r in records.load_reruns(client, sweep, role)
            if r.status in (RunStatus.QUEUED, RunStatus.RUNNING)]
    for rerun in left:
        live = records.live_rerun(rerun)
        if live:
            raise SweepError(f"sweep {sweep.info.run_id}'s trials are being re-run (process "
                             f"{live}); wait for it to end")
    if left:
        Recorder(client).interrupted([r.info.run_id for r in left])
    return sweep


def extend(sweep: str, trials: int, *, tracking_uri: str | os.PathLike | None = None,
           report: bool | None = None, overrides: Sequence[str] = (),
           on_progress: Callable[[Progress], None] | None = None,
           on_end: Callable[[SweepResult], None] | None = None) -> SweepResult:
    """Add `trials` trials to a sweep that ended, in the same parent run; the sampler
    starts from every recorded trial (`on_progress`, `on_end`: as for `sweeps.run`)."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise SweepError(f"--trials must be a whole number of at least 1, not {trials!r}")
    client = Client(tracking_root(tracking_uri))
    found = _sweep(client, sweep)
    config = stored_config(client, found, overrides)
    _runnable(config, found, None, EXTEND_INSTEAD)
    stored = len({r.number for r in records.load_trials(client, found)})
    grid = config.space.grid_size() if config.sampler.type in ("grid", "wandb_grid") else None
    if grid is not None and stored >= grid:
        raise SweepError(f"sweep {found.info.run_id} ran its whole grid ({grid} points): "
                         "there is nothing to add")
    config = replace(config, budget=replace(config.budget, trials=stored + trials))
    return run(config, resume=found.info.run_id, tracking_uri=client.tracking_uri,
               report=report, on_progress=on_progress, on_end=on_end, reopen=True)


def rerun_failed(sweep: str, *, tracking_uri: str | os.PathLike | None = None,
                 report: bool | None = None, overrides: Sequence[str] = (),
                 on_progress: Callable[[Progress], None] | None = None,
                 on_end: Callable[[SweepResult], None] | None = None) -> SweepResult:
    """Run a sweep's failed trials again with the same params, each as a new attempt
    (`trial.retry_of` names the failed run); no new trials."""
    client = Client(tracking_root(tracking_uri))
    found = _sweep(client, sweep)
    trials = records.load_trials(client, found)
    last = {r.number: r for r in trials}  # by number: the last attempt
    if not any(r.status is RunStatus.FAILED for r in last.values()):
        raise SweepError(f"sweep {found.info.run_id} has no failed trial to re-run")
    config = stored_config(client, found, overrides)
    _runnable(config, found, None, "run its failed trials' params again with "
              "study.enqueue_trial(params) and study.optimize(func, n_trials=N)")
    config = replace(config, budget=replace(config.budget, trials=len(last)))
    return run(config, resume=found.info.run_id, tracking_uri=client.tracking_uri,
               report=report, on_progress=on_progress, on_end=on_end, reopen=True,
               rerun_failed=True)


def _run_reruns(client: Client, sweep: Run, config: SweepConfig, plan: Sequence[Rerun],
                objective: Callable[..., Any] | None,
                on_progress: Callable[[Progress], None] | None) -> None:
    function = _runnable(config, sweep, objective, "pass it from Python: sweeps.recheck("
                         "..., objective=func) or sweeps.reproduce(..., objective=func)")
    config = replace(config, budget=replace(config.budget, timeout=None))  # the sweep's own
    coordinator = Coordinator(config, client=client, backend=make_backend(config),
                              resume=sweep.info.run_id, reruns=plan, on_progress=on_progress,
                              function=function)
    coordinator.run()


def recheck(sweep: str, *, top: int = 3, repeats: int = 5, seed_param: str | None = None,
            tracking_uri: str | os.PathLike | None = None, overrides: Sequence[str] = (),
            objective: Callable[..., Any] | None = None, report: bool | None = None,
            on_progress: Callable[[Progress], None] | None = None
            ) -> list[records.RerunRecord]:
    """Re-run the `top` best trials `repeats` times each with new seeds (the value of
    `seed_param`, else of the config's `seed:` param; `trial.seed` either way), as child
    runs of the sweep; returns every re-check of the sweep. The report is rewritten with
    its "Re-check" section (unless `report=False`, or the config turns reports off)."""
    client = Client(tracking_root(tracking_uri))
    found = _sweep(client, sweep)
    config = stored_config(client, found, overrides)
    plan = recheck_plan(client, found, config, top=top, repeats=repeats,
                        seed_param=seed_param or config.seed_param)
    _run_reruns(client, found, config, plan, objective, on_progress)
    if config.report_enabled if report is None else report:
        from sweeps.report import write_sweep_report
        write_sweep_report(client, found.info.run_id, config.report_path)
    return records.load_reruns(client, found)


@dataclass(frozen=True)
class Reproduction:
    """A trial and its re-run: the objective values of each, and what changed since."""

    trial: Run
    rerun: Run | None  # None when it could not be created
    values: dict[str, tuple[float, float]]  # metric: (original, reproduced)
    changes: list[str]  # environment_changes(...) lines

    @property
    def exact(self) -> bool:
        """Every objective value came out bit for bit the same."""
        return bool(self.values) and all(a == b for a, b in self.values.values())


def reproduce(run_id: str, *, tracking_uri: str | os.PathLike | None = None,
              objective: Callable[..., Any] | None = None,
              on_changes: Callable[[list[str]], None] | None = None) -> Reproduction:
    """Re-run one finished trial with the params, seed and config it ran with, in a fresh
    worker; `on_changes` hears, before it runs, what differs from the recorded source and
    environment (git commit, dirty state, Python, key libraries)."""
    client = Client(tracking_root(tracking_uri))
    try:
        trial = client.get_run(run_id)
    except NotFoundError:
        raise SweepError(f"no run {run_id!r} in {client.tracking_uri}") from None
    parent = trial.info.parent_run_id
    if trial.data.tags.get(records.ROLE) == records.REPETITION and parent:
        parent = client.get_run(parent).info.parent_run_id  # a repeat's trial's sweep
    if not parent or not records.is_sweep(client.get_run(parent)):
        raise SweepError(f"run {run_id} is not a trial of a sweep")
    sweep = _sweep(client, parent)
    config = stored_config(client, sweep)
    plan = reproduce_plan(client, trial, config)
    changes = environment_changes(sweep)
    if on_changes is not None:
        on_changes(changes)
    before = {r.run.info.run_id for r in records.load_reruns(client, sweep, records.REPRODUCTION)}
    single = replace(config, execution=replace(config.execution, workers=1))
    _run_reruns(client, sweep, single, [plan], objective, None)
    new = [r.run for r in records.load_reruns(client, sweep, records.REPRODUCTION)
           if r.run.info.run_id not in before and r.rerun_of == trial.info.run_id]
    rerun = new[-1] if new else None
    values = {m.name: (trial.data.metrics.get(m.name, math.nan),
                       rerun.data.metrics.get(m.name, math.nan) if rerun else math.nan)
              for m in config.metrics}
    return Reproduction(trial, rerun, values, changes)
