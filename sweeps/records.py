"""How a sweep is written down in tracking, and read back (for resume, `ls` and reports).

A sweep is a parent run tagged `sweep.role=sweep`; each attempt of each trial is a child
run tagged `sweep.role=trial` with `trial.number` and `trial.attempt`. The tag names here
are the whole convention: nothing else in sweepbook spells them.
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
from tracking import Client, Run, RunStatus
from tracking.errors import NotFoundError

ROLE = "sweep.role"
SWEEP, TRIAL = "sweep", "trial"
# on the sweep (parent) run
OBJECTIVE, METRICS = "sweep.objective", "sweep.metrics"
SAMPLER, PRUNER = "sweep.sampler", "sweep.pruner"
BACKEND, WORKERS, BUDGET = "sweep.backend", "sweep.workers", "sweep.budget_trials"
BEST_TRIAL, BEST_VALUES, COUNTS = "sweep.best_trial", "sweep.best_values", "sweep.counts"
STOP_REASON, WALL, CWD = "sweep.stop_reason", "sweep.wall_seconds", "sweep.cwd"
COORDINATOR = "sweep.coordinator"  # "host:pid" of the process running the sweep
CONFIG_ARTIFACT = "sweep/config.json"
# on each trial (child) run
NUMBER, ATTEMPT, PARAMS = "trial.number", "trial.attempt", "trial.params"
WORKER, HOST, NODE, GPUS = "trial.worker", "trial.host", "trial.node_id", "trial.gpu_ids"
QUEUE_WAIT, RUN_SECONDS = "trial.queue_wait_s", "trial.run_s"
ERROR, RETRY_OF, LOST = "trial.error", "trial.retry_of", "trial.lost"
TRACEBACK_ARTIFACT = "error/traceback.txt"


@dataclass(frozen=True)
class TrialRecord:
    """One attempt of one trial, as stored."""

    run: Run
    number: int
    attempt: int
    params: Mapping[str, Any]

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
    host, _, pid = sweep.data.tags.get(COORDINATOR, "").rpartition(":")
    if sweep.info.status is not RunStatus.RUNNING or host != socket.gethostname() \
            or not pid.isdigit() or int(pid) == os.getpid():
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


def trial_tags(number: int, attempt: int, params: Mapping[str, Any],
               retry_of: str | None) -> dict[str, str]:
    tags = {ROLE: TRIAL, NUMBER: str(number), ATTEMPT: str(attempt),
            PARAMS: json.dumps(dict(params), default=str)}
    if retry_of:
        tags[RETRY_OF] = retry_of
    return tags


def metric_goals(sweep: Run) -> list[tuple[str, str]]:
    """[(metric name, "maximize" | "minimize")] of a sweep run."""
    return [(m["name"], m["goal"]) for m in json.loads(sweep.data.tags.get(METRICS, "[]"))]


def is_sweep(run: Run) -> bool:
    return run.data.tags.get(ROLE) == SWEEP


def sweeps_of(client: Client, experiment_id: str) -> list[Run]:
    """The sweep runs of an experiment, newest first."""
    return client.search_runs([experiment_id], f"tags.`{ROLE}` = '{SWEEP}'",
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
    runs = client.search_runs([sweep.info.experiment_id], trial_filter(sweep.info.run_id))
    records = []
    for run in runs:
        tags = run.data.tags
        if tags.get(ROLE) != TRIAL:
            continue
        records.append(TrialRecord(run, int(tags.get(NUMBER, -1)), int(tags.get(ATTEMPT, 1)),
                                   json.loads(tags.get(PARAMS, "{}"))))
    return sorted(records, key=lambda r: (r.number, r.attempt))


def best_value_text(values: list[float] | None) -> str:
    if not values:
        return ""
    return ", ".join(f"{v:.6g}" if math.isfinite(v) else str(v) for v in values)
