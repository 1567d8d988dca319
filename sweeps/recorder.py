"""The trial recorder: the only part of a sweep that writes to the tracking store.

It turns the sweep's start, each attempt's events and results, and the sweep's end into
`Client.batch` writes. Trial events are buffered (one transaction per poll cycle, when the
coordinator calls `flush`); the sweep run's own changes are written at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping

from sweeps import records
from sweeps.config import SweepConfig
from sweeps.control import Control
from sweeps.optimizer import ActiveTrial
from sweeps.optuna_compat.distributions import to_json
from sweeps.resume import CutOff
from sweeps.trial import ArtifactData, Logged, Outcome, Started, TrialResult
from tracking import Client, Metric, RunStatus, TrackingError


class Recorder:
    """Writes one sweep (see the module docstring)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.sweep_run_id = ""
        self.experiment_id = ""

    def create_sweep(self, config: SweepConfig, experiment_id: str, backend: str,
                     budget_trials: int | None, cwd: str, *,
                     optuna_study: str | None = None) -> str:
        """Create the sweep (parent) run and save its config; returns its run id.
        `optuna_study`: the name of the optuna study it runs (`sweeps.create_study`)."""
        self.experiment_id = experiment_id
        tags = records.sweep_tags(
            [{"name": m.name, "goal": m.goal.value} for m in config.metrics],
            config.objective.callable or config.objective.command or "",
            config.sampler.type, config.pruner.type, backend,
            config.execution.workers, budget_trials, cwd)
        if optuna_study is not None:
            tags[records.OPTUNA_STUDY] = optuna_study
        run = self.client.create_run(experiment_id, run_name=config.name,
                                     capture_environment=True, tags=tags)
        self.sweep_run_id = run.info.run_id
        saved = config.to_dict()
        if "://" in (config.tracking_uri or ""):  # a server's URI: kept without its password
            saved["tracking"] = {"uri": self.client.store.root}
        self.client.log_dict(self.sweep_run_id, saved, records.CONFIG_ARTIFACT)
        return self.sweep_run_id

    def attach(self, experiment_id: str, sweep_run_id: str) -> None:
        """Write re-runs under a stored sweep, leaving the sweep run itself as it is."""
        self.experiment_id, self.sweep_run_id = experiment_id, sweep_run_id

    def reopen_sweep(self, experiment_id: str, sweep_run_id: str,
                     cut_off: Iterable[CutOff], budget_trials: int | None) -> None:
        """Resume: end the runs a dead coordinator left behind and make the sweep RUNNING
        again under this process (un-paused, with its trial budget as now), in one
        transaction."""
        self.experiment_id, self.sweep_run_id = experiment_id, sweep_run_id
        with self.client.batch() as writes:
            for run in cut_off:
                writes.set_tags(run.run_id, {records.ERROR: run.error,
                                             **({records.LOST: "true"} if run.lost else {})})
                writes.set_terminated(run.run_id, run.status)
            writes.set_tags(sweep_run_id, {records.COORDINATOR: records.this_coordinator(),
                                           records.CONTROL: Control.RUN.value,
                                           records.BUDGET: "" if budget_trials is None
                                           else str(budget_trials)})
            writes.reopen(sweep_run_id)

    def create_attempt(self, trial: ActiveTrial, retry_of: str | None, *,
                       optuna_trial_id: int | None = None) -> str:
        """A QUEUED run for the trial's next attempt (or a re-run), with its params and
        seed (and the id of its trial in the user's optuna study); returns its id."""
        rerun = trial.rerun
        if rerun is not None:
            name = f"trial-{trial.number}-{rerun.role}" + (f"-{rerun.repeat}" if rerun.repeat
                                                           else "")
            tags = records.rerun_tags(rerun.role, rerun.number, rerun.rerun_of, rerun.repeat,
                                      rerun.seed)
        else:
            name = f"trial-{trial.number}" + (f"-attempt-{trial.attempt}" if trial.attempt > 1
                                              else "")
            tags = records.trial_tags(trial.number, trial.attempt, retry_of, trial.seed)
        if optuna_trial_id is not None:
            tags[records.OPTUNA_TRIAL_ID] = str(optuna_trial_id)
        with self.client.batch(buffered=True) as writes:
            parent = rerun.rerun_of if rerun is not None and rerun.role == \
                records.REPETITION else self.sweep_run_id
            run_id = writes.create_run(self.experiment_id, run_name=name, parent_run_id=parent,
                                       status=RunStatus.QUEUED, tags=tags)
            writes.log_params(run_id, trial.params)
        return run_id

    def started(self, trial: ActiveTrial, event: Started) -> None:
        tags = {records.WORKER: event.worker, records.HOST: event.host,
                records.QUEUE_WAIT: f"{(trial.started or 0.0) - trial.submitted:.4f}"}
        if event.gpu_ids:
            tags[records.GPUS] = ",".join(event.gpu_ids)
        if event.node_id:
            tags[records.NODE] = event.node_id
        with self.client.batch(buffered=True) as writes:
            writes.set_tags(trial.key, tags)
            writes.start(trial.key, int(event.time * 1000))

    def logged(self, trial: ActiveTrial, event: Logged) -> None:
        """What the objective logged; params are written at once, and one that conflicts
        with a logged value is kept as a warning tag instead."""
        with self.client.batch(buffered=True) as writes:
            writes.log_metrics(trial.key, event.metrics)
            writes.set_tags(trial.key, event.tags)
            if event.note is not None:
                writes.set_note(trial.key, event.note)
        if event.params:
            try:
                with self.client.batch() as writes:
                    writes.log_params(trial.key, event.params, encoded=True)
            except TrackingError as e:
                self.warn(trial.key, str(e))

    def suggested(self, trial: ActiveTrial, name: str) -> None:
        """A define-by-run trial's param, with every distribution its trial drew from."""
        with self.client.batch(buffered=True) as writes:
            writes.log_params(trial.key, {name: trial.params[name]})
            writes.set_tags(trial.key, {records.DISTRIBUTIONS: to_json(trial.distributions)})

    def artifact(self, trial: ActiveTrial, event: ArtifactData) -> None:
        try:
            self.client.log_text(trial.key, event.data, event.relative_file)
        except (TrackingError, OSError) as e:
            self.warn(trial.key, f"artifact not saved: {e}")

    def warn(self, run_id: str, text: str) -> None:
        self.client.set_tag(run_id, records.WARNING, text)

    def finished(self, trial: ActiveTrial, result: TrialResult, outcome: Outcome,
                 values: Mapping[str, float], error: str | None) -> None:
        """How the attempt ended (buffered: durable at the next `flush`)."""
        key = trial.key
        ran = time.monotonic() - (trial.started or time.monotonic())
        tags = {records.RUN_SECONDS: f"{ran:.4f}"}
        if error and outcome is not Outcome.PRUNED:
            tags[records.ERROR] = error[:2000]
        if outcome is Outcome.LOST:
            tags[records.LOST] = "true"
        if result.traceback:
            try:
                self.client.log_text(key, result.traceback, records.TRACEBACK_ARTIFACT)
            except (TrackingError, OSError):
                pass
        with self.client.batch(buffered=True) as writes:
            writes.set_tags(key, tags)
            end = int(time.time() * 1000)
            writes.log_metrics(key, [Metric(k, v, end, trial.last_step)
                                     for k, v in values.items() if trial.logged.get(k) != v])
            writes.set_terminated(key, records.RUN_STATUS[outcome], end)

    def flush(self) -> None:
        """Make everything buffered durable, in one transaction."""
        self.client.flush()

    def interrupted(self, run_ids: Iterable[str]) -> None:
        """Ctrl-C: the attempts still running end KILLED."""
        with self.client.batch() as writes:
            for run_id in run_ids:
                writes.set_tags(run_id, {records.ERROR: "the sweep was interrupted"})
                writes.set_terminated(run_id, RunStatus.KILLED)

    def finish_sweep(self, status: RunStatus, counts: Mapping[str, int], wall: float,
                     best_trial: int | None, best_values: list[float] | None,
                     stop_reason: str) -> None:
        tags = {records.COUNTS: json.dumps(dict(counts)), records.WALL: f"{wall:.3f}",
                records.STOP_REASON: stop_reason}  # "" clears a reopened sweep's old one
        if best_trial is not None:
            tags |= {records.BEST_TRIAL: str(best_trial),
                     records.BEST_VALUES: json.dumps(best_values)}
        with self.client.batch() as writes:
            writes.set_tags(self.sweep_run_id, tags)
            writes.set_terminated(self.sweep_run_id, status)
