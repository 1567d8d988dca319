"""How a sweep is written down in tracking, and read back (for resume, `ls` and reports).

A sweep is a parent run tagged `sweep.role=sweep`; each attempt of each trial is a child
run tagged `sweep.role=trial` with `trial.number` and `trial.attempt`, and the trial's
params in the run's params table (with their types). The tag names, artifact names and
status words here are the whole convention: nothing else in sweepbook spells them (a test
checks it). Readers decode runs into `SweepRecord` and `TrialRecord`.
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sweeps.errors import SweepError
from sweeps.trial import Outcome
from tracking import Client, NotFoundError, Run, RunStatus

SWEEP_PREFIX, TRIAL_PREFIX = "sweep.", "trial."
RESERVED_PREFIXES = (SWEEP_PREFIX, TRIAL_PREFIX)
"""Tags written by sweepbook only."""
ROLE = "sweep.role"
SWEEP, TRIAL = "sweep", "trial"
# on the sweep (parent) run
OBJECTIVE, METRICS = "sweep.objective", "sweep.metrics"
SAMPLER, PRUNER = "sweep.sampler", "sweep.pruner"
BACKEND, WORKERS, BUDGET = "sweep.backend", "sweep.workers", "sweep.budget_trials"
BEST_TRIAL, BEST_VALUES, COUNTS = "sweep.best_trial", "sweep.best_values", "sweep.counts"
STOP_REASON, WALL, CWD = "sweep.stop_reason", "sweep.wall_seconds", "sweep.cwd"
COORDINATOR = "sweep.coordinator"  # "host:pid" of the process running the sweep
CONTROL = "sweep.control"  # run | pause | stop | cancel: asked by `sweeps pause` & co.
CONFIG_ARTIFACT = "sweep/config.json"
# on each trial (child) run
NUMBER, ATTEMPT = "trial.number", "trial.attempt"
PARAMS = "trial.params"  # JSON of the params: written by old versions only, still read
WORKER, HOST, NODE, GPUS = "trial.worker", "trial.host", "trial.node_id", "trial.gpu_ids"
QUEUE_WAIT, RUN_SECONDS = "trial.queue_wait_s", "trial.run_s"
ERROR, RETRY_OF, LOST = "trial.error", "trial.retry_of", "trial.lost"
INTERPRETER = "trial.interpreter"  # the Python a command objective's `python` ran
PID, WARNING = "trial.pid", "trial.warning"  # a command's process id; what was not kept
TRACEBACK_ARTIFACT = "error/traceback.txt"
EVAL_DATA_ARTIFACT = "eval/data.json"  # trial.set_eval_data: what `sweeps promote` explains on
# optuna studies (sweeps.optuna_compat): where an imported run came from, and each param's
# optuna distribution (JSON {name: optuna.distributions.distribution_to_json})
OPTUNA_STUDY, OPTUNA_TRIAL_ID = "sweep.optuna_study", "trial.optuna_trial_id"
DISTRIBUTIONS = "trial.distributions"
SEED = "trial.seed"  # the seed the attempt ran with (`trial.seed`; the seed param's value)
# re-runs of a finished trial, child runs of the sweep that the study never sees: `sweeps
# recheck` repeats (ROLE=RECHECK, one per repeat) and `sweeps reproduce` (ROLE=REPRODUCTION);
# both carry the original's NUMBER, its run id in RERUN_OF, and their SEED
RECHECK, REPRODUCTION = "recheck", "reproduction"
# `budget.repeats`: each repeat of a trial is a child run of the trial's run (ROLE=REPETITION)
REPETITION = "repetition"
RERUN_OF, REPEAT = "trial.rerun_of", "trial.repeat"
RERUN_BY = "trial.rerun_by"  # "host:pid" of the process running a re-run

RUN_STATUS = {Outcome.COMPLETE: RunStatus.FINISHED, Outcome.PRUNED: RunStatus.PRUNED,
              Outcome.FAILED: RunStatus.FAILED, Outcome.KILLED: RunStatus.KILLED,
              Outcome.LOST: RunStatus.FAILED}
"""How each way an attempt ends is stored (a LOST attempt is FAILED and tagged LOST)."""


@dataclass(frozen=True)
class SweepRecord:
    """A sweep (parent) run, decoded."""

    run: Run
    objective: str
    goals: tuple[tuple[str, str], ...]  # (metric name, "maximize" | "minimize")
    sampler: str
    pruner: str
    backend: str
    workers: str
    budget_trials: int | None
    cwd: str | None
    best_trial: int | None
    best_values: list[float] | None
    stop_reason: str
    wall_seconds: float | None

    @classmethod
    def from_run(cls, run: Run) -> SweepRecord:
        """Decode a sweep run; raises SweepError if `run` is not a sweep."""
        if not is_sweep(run):
            raise SweepError(f"run {run.info.run_id} is not a sweep (it has no {ROLE}={SWEEP} "
                             "tag)")
        tags = run.data.tags
        budget, best, wall = tags.get(BUDGET, ""), tags.get(BEST_TRIAL, ""), tags.get(WALL)
        return cls(run, tags.get(OBJECTIVE, ""), tuple(metric_goals(run)),
                   tags.get(SAMPLER, ""), tags.get(PRUNER, ""), tags.get(BACKEND, ""),
                   tags.get(WORKERS, ""), int(budget) if budget.isdigit() else None,
                   tags.get(CWD), int(best) if best.isdigit() else None,
                   json.loads(tags[BEST_VALUES]) if tags.get(BEST_VALUES) else None,
                   tags.get(STOP_REASON, ""), float(wall) if wall else None)


@dataclass(frozen=True)
class TrialRecord:
    """One attempt of one trial, as stored."""

    run: Run
    number: int
    attempt: int
    params: Mapping[str, Any]

    @classmethod
    def from_run(cls, run: Run, params: Mapping[str, Any] | None = None) -> TrialRecord:
        """Decode a trial run; `params` are its typed params (`Client.typed_params`), else
        the `trial.params` tag old versions wrote, else its params as text."""
        tags = run.data.tags
        if not params and PARAMS in tags:
            params = json.loads(tags[PARAMS])
        return cls(run, int(tags.get(NUMBER, -1)), int(tags.get(ATTEMPT, 1)),
                   dict(run.data.params if params is None else params))

    @property
    def error(self) -> str:
        return self.run.data.tags.get(ERROR, "")

    @property
    def lost(self) -> bool:
        """Cut off by the infrastructure, not by its objective (not counted as a failure)."""
        return self.run.data.tags.get(LOST) == "true"

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def status(self) -> RunStatus:
        return self.run.info.status


def sweep_tags(metrics: list[dict[str, str]], objective: str, sampler: str, pruner: str,
               backend: str, workers: int, trials: int | None, cwd: str) -> dict[str, str]:
    return {ROLE: SWEEP, OBJECTIVE: objective, METRICS: json.dumps(metrics), SAMPLER: sampler,
            PRUNER: pruner, BACKEND: backend, WORKERS: str(workers),
            BUDGET: "" if trials is None else str(trials), CWD: cwd,
            COORDINATOR: this_coordinator()}


def this_coordinator() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def live_coordinator(sweep: Run) -> str | None:
    """The pid of the process on this host still running `sweep`, if there is one."""
    if sweep.info.status is not RunStatus.RUNNING:
        return None
    return _live(sweep.data.tags.get(COORDINATOR, ""))


def live_rerun(rerun: Run) -> str | None:
    """Who may still be running a re-run left QUEUED or RUNNING: the pid of a live process on
    this host, or "host:pid" of one on another host (which cannot be checked from here)."""
    if rerun.info.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return None
    where = rerun.data.tags.get(RERUN_BY, "")
    if where.rpartition(":")[0] not in ("", socket.gethostname()):
        return where
    return _live(where)


def _live(where: str) -> str | None:
    """The pid in "host:pid" when that process lives on this host (not this process)."""
    host, _, pid = where.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return None
    try:
        with open(f"/proc/{pid}/stat") as handle:  # Linux: a zombie counts as dead
            return None if handle.read().rpartition(")")[2].split()[0] == "Z" else pid
    except FileNotFoundError:
        return None
    except OSError:  # no /proc: ask the process table
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by someone else
        return pid


def trial_tags(number: int, attempt: int, retry_of: str | None,
               seed: int | None = None) -> dict[str, str]:
    tags = {ROLE: TRIAL, NUMBER: str(number), ATTEMPT: str(attempt)}
    if retry_of:
        tags[RETRY_OF] = retry_of
    if seed is not None:
        tags[SEED] = str(seed)
    return tags


def metric_goals(sweep: Run) -> list[tuple[str, str]]:
    """[(metric name, "maximize" | "minimize")] of a sweep run."""
    return [(m["name"], m["goal"]) for m in json.loads(sweep.data.tags.get(METRICS, "[]"))]


def is_sweep(run: Run) -> bool:
    return run.data.tags.get(ROLE) == SWEEP


def is_trial(run: Run) -> bool:
    return run.data.tags.get(ROLE) == TRIAL


def trial_number(run: Run) -> str | None:
    """A trial run's number as stored (text), or None for another run."""
    return run.data.tags.get(NUMBER)


def sweeps_filter() -> str:
    """The search_runs filter for sweep runs."""
    return f"tags.`{ROLE}` = '{SWEEP}'"


def read_config(client: Client, sweep: Run) -> dict[str, Any]:
    """The config a sweep ran with (its `sweep/config.json` artifact); SweepError when it
    is missing or unreadable."""
    path = client.artifact_dir(sweep.info.run_id) / CONFIG_ARTIFACT
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as e:
        raise SweepError(f"sweep {sweep.info.run_id}: cannot read its stored config "
                         f"({path}): {e}") from None
    if not isinstance(config, dict):
        raise SweepError(f"sweep {sweep.info.run_id}: its stored config ({path}) is not a "
                         "mapping")
    return config


def sweeps_of(client: Client, experiment_id: str) -> list[Run]:
    """The sweep runs of an experiment, newest first."""
    return client.search_runs([experiment_id], sweeps_filter(),
                              order_by=["attributes.start_time DESC"])


def find_sweep(client: Client, name_or_id: str, *, unfinished: bool = False) -> Run:
    """A sweep run by run id, or the latest sweep of the experiment with that name."""
    try:
        run = client.get_run(name_or_id)
    except NotFoundError:
        run = None
    if run is not None:
        if not is_sweep(run):
            raise SweepError(f"run {name_or_id} is not a sweep (it has no {ROLE}={SWEEP} tag)")
        return run
    experiment = client.get_experiment_by_name(name_or_id)
    if experiment is None:
        raise SweepError(f"no sweep run or experiment named {name_or_id!r} in "
                         f"{client.tracking_uri}")
    candidates = sweeps_of(client, experiment.experiment_id)
    if unfinished:
        candidates = [r for r in candidates if r.info.status != RunStatus.FINISHED]
    if not candidates:
        which = "unfinished sweep" if unfinished else "sweep"
        raise SweepError(f"experiment {name_or_id!r} has no {which}")
    return candidates[0]


def trial_filter(sweep_run_id: str) -> str:
    """The search_runs filter for a sweep's trial runs."""
    if not sweep_run_id.isalnum():
        raise SweepError(f"not a run id: {sweep_run_id!r}")
    return f"attributes.parent_run_id = '{sweep_run_id}'"


def load_trials(client: Client, sweep: Run) -> list[TrialRecord]:
    """Every attempt of every trial of a sweep, by trial number then attempt."""
    runs = [run for run in client.search_runs([sweep.info.experiment_id],
                                              trial_filter(sweep.info.run_id)) if is_trial(run)]
    params = client.typed_params(runs)
    records = [TrialRecord.from_run(run, params[run.info.run_id]) for run in runs]
    return sorted(records, key=lambda r: (r.number, r.attempt))


@dataclass(frozen=True)
class RerunRecord:
    """One re-run of a finished trial (`sweeps recheck` repeat or `sweeps reproduce`)."""

    run: Run
    role: str  # RECHECK | REPRODUCTION
    number: int  # the original trial's number
    rerun_of: str  # the original attempt's run id
    repeat: int
    seed: int | None

    @classmethod
    def from_run(cls, run: Run) -> RerunRecord:
        tags = run.data.tags
        seed = tags.get(SEED, "")
        return cls(run, tags.get(ROLE, ""), int(tags.get(NUMBER, -1)), tags.get(RERUN_OF, ""),
                   int(tags.get(REPEAT, 0)), int(seed) if seed.lstrip("-").isdigit() else None)

    @property
    def status(self) -> RunStatus:
        return self.run.info.status

    def value(self, metric: str) -> float:
        """The run's final value of `metric` (NaN unless it finished with one)."""
        if self.status is not RunStatus.FINISHED:
            return math.nan
        return self.run.data.metrics.get(metric, math.nan)


def rerun_tags(role: str, number: int, rerun_of: str, repeat: int,
               seed: int | None) -> dict[str, str]:
    tags = {ROLE: role, NUMBER: str(number), RERUN_OF: rerun_of, REPEAT: str(repeat),
            RERUN_BY: this_coordinator()}
    if seed is not None:
        tags[SEED] = str(seed)
    return tags


def load_reruns(client: Client, sweep: Run, role: str = RECHECK) -> list[RerunRecord]:
    """A sweep's re-runs of one role, by trial number then repeat."""
    where = f"{trial_filter(sweep.info.run_id)} and tags.`{ROLE}` = '{role}'"
    found = [RerunRecord.from_run(r) for r in client.search_runs([sweep.info.experiment_id],
                                                                 where)]
    return sorted(found, key=lambda r: (r.number, r.repeat))


def best_value_text(values: list[float] | None) -> str:
    if not values:
        return ""
    return ", ".join(f"{v:.6g}" if math.isfinite(v) else str(v) for v in values)
