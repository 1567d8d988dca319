"""The coordinator: the one place that holds the optuna study and writes the store.

It asks optuna for trials, hands each to a backend, receives the trials' events, decides
pruning, writes everything to the tracking store (batched), and tells optuna the results.
A finished trial is on disk before optuna is told. It enforces budgets, per-trial
timeouts and retries, and resumes an interrupted sweep from the store: the study is
rebuilt from the recorded trials and nothing that finished runs again.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeps import records
from sweeps.backends.base import Backend
from sweeps.config import Goal, SweepConfig
from sweeps.errors import SweepError
from sweeps.objectives import check_importable
from sweeps.search import build_pruner, build_sampler
from sweeps.trial import (
    ArtifactData,
    Event,
    Finished,
    Logged,
    Outcome,
    PruneQuery,
    Started,
    TrialResult,
    TrialSpec,
)
from tracking import Client, Metric, RunStatus, artifacts, environment, validation
from tracking.client import now_ms
from tracking.errors import TrackingError
from tracking.store.base import Batch

MAX_LOST_ATTEMPTS = 3
_STATUS = {Outcome.COMPLETE: RunStatus.FINISHED, Outcome.PRUNED: RunStatus.PRUNED,
           Outcome.FAILED: RunStatus.FAILED, Outcome.KILLED: RunStatus.KILLED,
           Outcome.LOST: RunStatus.FAILED}


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays."""

    complete: int
    pruned: int
    failed: int
    running: int
    total: int | None
    best: str
    elapsed: float


@dataclass
class _Trial:
    """A trial in flight: its optuna trial, params and current attempt."""

    number: int
    optuna_trial: optuna.trial.Trial
    params: dict[str, Any]
    attempt: int = 1
    failures: int = 0  # failed attempts (lost ones, cut off by the infrastructure, not counted)
    lost: int = 0
    key: str = ""
    submitted: float = 0.0
    started: float | None = None
    steps: set[int] = field(default_factory=set)
    last_step: int = 0
    logged: dict[str, float] = field(default_factory=dict)


class Coordinator:
    """Runs one sweep to its end (see the module docstring).

    >>> result = Coordinator(config, client=Client("runs"), backend=LocalBackend(2)).run()
    """

    def __init__(self, config: SweepConfig, *, client: Client, backend: Backend,
                 resume: str | None = None, cwd: str | None = None,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.config = config
        self.client = client
        self.backend = backend
        self._resume = resume
        self._cwd = os.path.abspath(cwd or config.objective.cwd or os.getcwd())
        self._on_progress = on_progress
        self._names = tuple(m.name for m in config.metrics)
        self._maximize = config.metrics[0].goal is Goal.MAXIMIZE
        self._active: dict[str, _Trial] = {}
        self._retry: deque[_Trial] = deque()
        self._requeue: deque[tuple[dict[str, Any], int, int, int]] = deque()
        self._counts = {"complete": 0, "pruned": 0, "failed": 0}
        self._failed_attempts = 0
        self._next_number = 0
        self._by_optuna_number: dict[int, int] = {}
        self._deadlines: dict[str, float] = {}
        self._ended: list[tuple[_Trial, Outcome, list[float]]] = []
        self._best: list[float] | None = None
        self._stop_reason = ""
        self._started = time.monotonic()
        self._last_progress = 0.0
        self.sweep_run_id = ""
        self.experiment_id = ""

    # -- set-up --------------------------------------------------------------------------

    def _open(self) -> None:
        config = self.config
        self.experiment_id = self.client.get_or_create_experiment(config.experiment)
        directions = ["maximize" if m.goal is Goal.MAXIMIZE else "minimize"
                      for m in config.metrics]
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the study is ours; we report
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.study = optuna.create_study(
                directions=directions, sampler=build_sampler(config.sampler, config.space),
                pruner=build_pruner(config.pruner))
        if self._resume:
            sweep = records.find_sweep(self.client, self._resume, unfinished=True)
            if sweep.info.experiment_id != self.experiment_id:
                raise SweepError(f"sweep {sweep.info.run_id} belongs to another experiment "
                                 f"than {config.experiment!r}")
            live = records.live_coordinator(sweep)
            if live:
                raise SweepError(f"sweep {sweep.info.run_id} is still running (process {live}); "
                                 "stop it before resuming")
            self._cwd = sweep.data.tags.get(records.CWD, self._cwd)
            self._check_objective()
            self._rebuild(sweep)
            self.sweep_run_id = sweep.info.run_id
            self.client.write(Batch(
                tags=[(self.sweep_run_id, records.COORDINATOR, records.this_coordinator())],
                ends={self.sweep_run_id: (RunStatus.RUNNING, None)}))
        else:
            self._check_objective()
            run = self.client.create_run(
                self.experiment_id, run_name=config.name,
                tags={**environment.capture(), **records.sweep_tags(
                    [{"name": m.name, "goal": m.goal.value} for m in config.metrics],
                    config.objective.callable or config.objective.command or "",
                    config.sampler.type, config.pruner.type, self.backend.name,
                    config.execution.workers, self.budget_trials, self._cwd)})
            self.sweep_run_id = run.info.run_id
            self.client.log_dict(self.sweep_run_id, config.to_dict(), records.CONFIG_ARTIFACT)

    def _check_objective(self) -> None:
        if self.config.objective.callable:
            check_importable(self.config.objective.callable, self._cwd)

    @property
    def budget_trials(self) -> int | None:
        trials = self.config.budget.trials
        if self.config.sampler.type == "grid":
            size = self.config.space.grid_size()
            trials = size if trials is None else min(trials, size or trials)
        return trials

    def _rebuild(self, sweep: Any) -> None:
        """Rebuild the study from stored trials; re-queue what was cut off."""
        stored = records.load_trials(self.client, sweep)
        histories: dict[str, list[Metric]] = {}
        for run_id, metric in self.client.store.get_metric_histories([r.run_id for r in stored]):
            histories.setdefault(run_id, []).append(metric)
        by_number: dict[int, list[records.TrialRecord]] = {}
        for record in stored:
            by_number.setdefault(record.number, []).append(record)
        dead = Batch()
        for number, attempts in sorted(by_number.items()):
            self._next_number = max(self._next_number, number + 1)
            last = attempts[-1]
            finished = [a for a in attempts if a.status is RunStatus.FINISHED]
            failures = sum(1 for a in attempts if a.status is RunStatus.FAILED
                           and a.run.data.tags.get(records.LOST) != "true")
            self._failed_attempts += failures
            if finished:
                self._add_stored(finished[-1], TrialState.COMPLETE, histories)
            elif last.status is RunStatus.PRUNED:
                self._add_stored(last, TrialState.PRUNED, histories)
            elif last.status is RunStatus.RUNNING:  # cut off when its coordinator died
                dead.ends[last.run_id] = (RunStatus.FAILED, now_ms())
                dead.tags += [(last.run_id, records.ERROR, "the sweep stopped while it ran"),
                              (last.run_id, records.LOST, "true")]
                self._requeue.append((dict(last.params), number, last.attempt + 1, failures))
            elif (last.status is RunStatus.KILLED or last.run.data.tags.get(records.LOST)
                  or failures <= self.config.execution.retries):
                self._requeue.append((dict(last.params), number, last.attempt + 1, failures))
            else:
                self._add_stored(last, TrialState.FAIL, histories)
        self.client.write(dead)

    def _add_stored(self, record: records.TrialRecord, state: TrialState,
                    histories: dict[str, list[Metric]]) -> None:
        distributions = self.config.space.distributions()
        params = {k: v for k, v in record.params.items() if k in distributions}
        intermediate = {m.step: m.value for m in histories.get(record.run_id, [])
                        if m.key == self._names[0] and math.isfinite(m.value)}
        values = None
        if state is TrialState.COMPLETE:
            values = [record.run.data.metrics.get(n, math.nan) for n in self._names]
            if not all(math.isfinite(v) for v in values):
                state, values = TrialState.FAIL, None
        try:
            frozen = optuna.trial.create_trial(
                params=params, distributions={k: distributions[k] for k in params},
                values=values, intermediate_values=intermediate, state=state)
            self.study.add_trial(frozen)
        except ValueError as e:
            raise SweepError(f"cannot resume: trial {record.number}'s params no longer fit the "
                             f"config's space ({e})") from None
        self._by_optuna_number[len(self.study.get_trials(deepcopy=False)) - 1] = record.number
        self._count(state)

    def _count(self, state: TrialState) -> None:
        key = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(state, "failed")
        self._counts[key] += 1

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> str:
        """Run the sweep to its end; returns the sweep run id. Ctrl-C stops it KILLED."""
        try:  # workers boot while the study and the sweep run are set up
            self.backend.start()
            self._open()
        except BaseException:
            self.backend.shutdown()
            raise
        status = RunStatus.FINISHED
        try:
            self._loop()
            if self._stop_reason.startswith("too many failures"):
                status = RunStatus.FAILED
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            self._stop_reason = "interrupted"
            self._interrupt()
        except BaseException:
            status = RunStatus.FAILED
            raise
        finally:
            try:
                self.backend.shutdown()
            finally:
                self._finish(status)
        return self.sweep_run_id

    def _check_time(self) -> None:
        """Stop asking for trials once the time budget is used (running ones finish)."""
        timeout = self.config.budget.timeout
        if (timeout is not None and not self._stop_reason
                and time.monotonic() - self._started >= timeout):
            self._stop("time budget used")

    def _may_ask(self) -> bool:
        """Whether the budget allows asking optuna for a new trial now."""
        if self._stop_reason:
            return False
        trials = self.budget_trials
        planned = (sum(self._counts.values()) + len(self._active) + len(self._retry)
                   + len(self._requeue))
        return trials is None or planned < trials

    def _stop(self, reason: str) -> None:
        """Ask for no more trials; trials sent ahead but not started are called off."""
        self._stop_reason = reason
        for key, trial in list(self._active.items()):
            if trial.started is None:
                self.backend.cancel(key, Outcome.KILLED, f"not started: {reason}")

    def _loop(self) -> None:
        while True:
            self._check_time()
            while self.backend.free_slots() > 0:
                spec = self._next_spec()
                if spec is None:
                    break
                self.backend.submit(spec)
            if not self._active:
                break
            for event in self.backend.poll(self._poll_timeout()):
                self._handle(event)
            self._settle()
            self._enforce_timeouts()
            self._report_progress()

    def _next_spec(self) -> TrialSpec | None:
        """The next attempt to run: a retry, a trial cut off before a resume, or a new one."""
        if self._stop_reason:
            return None
        if self._retry:
            trial = self._retry.popleft()
        elif self._requeue:
            params, number, attempt, failures = self._requeue.popleft()
            self.study.enqueue_trial(params, skip_if_exists=False)
            trial = self._ask(number)
            trial.attempt, trial.failures = attempt, failures
        elif self._may_ask():
            trial = self._ask(self._next_number)
            self._next_number += 1
        else:
            return None
        return self._submit_attempt(trial)

    def _ask(self, number: int) -> _Trial:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna_trial = self.study.ask()
            params = self.config.space.suggest(optuna_trial)
        self._by_optuna_number[optuna_trial.number] = number
        return _Trial(number, optuna_trial, params)

    def _submit_attempt(self, trial: _Trial) -> TrialSpec:
        retry_of = trial.key or None
        run = self.client.create_run(
            self.experiment_id, run_name=f"trial-{trial.number}"
            + (f"-attempt-{trial.attempt}" if trial.attempt > 1 else ""),
            parent_run_id=self.sweep_run_id, buffered=True,
            tags=records.trial_tags(trial.number, trial.attempt, trial.params, retry_of))
        self.client.enqueue(Batch(params=[
            (run.info.run_id, k, *validation.param_value(k, v)) for k, v in trial.params.items()]))
        trial.key = run.info.run_id
        trial.submitted = time.monotonic()
        trial.started = None
        trial.steps, trial.last_step, trial.logged = set(), 0, {}
        self._active[trial.key] = trial
        execution = self.config.execution
        objective = self.config.objective
        return TrialSpec(
            key=trial.key, number=trial.number, attempt=trial.attempt, params=trial.params,
            objective=objective.callable, command=objective.command, cwd=self._cwd,
            env=dict(objective.env), objective_metrics=self._names,
            artifact_dir=str(self.client.artifact_dir(trial.key)),
            tracking_uri=self.client.tracking_uri, resources=dict(execution.resources))

    def _poll_timeout(self) -> float:
        deadlines = list(self._deadlines.values())
        if self.config.budget.timeout is not None and not self._stop_reason:
            deadlines.append(self._started + self.config.budget.timeout)
        return min([0.5, *(max(0.0, d - time.monotonic()) for d in deadlines)])

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for key, deadline in list(self._deadlines.items()):
            if now >= deadline:
                del self._deadlines[key]
                limit = self.config.execution.trial_timeout
                self.backend.cancel(key, Outcome.FAILED, f"timed out after {limit:g}s")

    # -- events --------------------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        trial = self._active.get(event.key)
        if trial is None:
            if isinstance(event, PruneQuery):  # a trial already given up: let it stop
                self.backend.answer(event.key, True)
            return
        if isinstance(event, Logged):
            self._logged(trial, event)
        elif isinstance(event, PruneQuery):
            self.backend.answer(event.key, self._should_prune(trial))
        elif isinstance(event, Started):
            self._started_event(trial, event)
        elif isinstance(event, ArtifactData):
            self._artifact(trial, event)
        elif isinstance(event, Finished):
            self._finished(trial, event.result)

    def _started_event(self, trial: _Trial, event: Started) -> None:
        trial.started = time.monotonic()
        if self.config.execution.trial_timeout:
            self._deadlines[trial.key] = trial.started + self.config.execution.trial_timeout
        tags = {records.WORKER: event.worker, records.HOST: event.host,
                records.QUEUE_WAIT: f"{trial.started - trial.submitted:.4f}"}
        if event.gpu_ids:
            tags[records.GPUS] = ",".join(event.gpu_ids)
        if event.node_id:
            tags[records.NODE] = event.node_id
        self.client.enqueue(Batch(tags=[(trial.key, k, v) for k, v in tags.items()]))

    def _logged(self, trial: _Trial, event: Logged) -> None:
        key = trial.key
        batch = Batch(metrics=[(key, m.key, m.value, m.step, m.timestamp) for m in event.metrics],
                      tags=[(key, k, v) for k, v in event.tags.items()])
        if event.note is not None:
            batch.notes[key] = event.note
        self.client.enqueue(batch)
        if event.params:
            try:
                self.client.write(Batch(params=[(key, k, text, kind)
                                                 for k, (text, kind) in event.params.items()]))
            except TrackingError as e:
                self.client.set_tag(key, "trial.warning", str(e))
        prune_now = False
        for metric in event.metrics:
            trial.logged[metric.key] = metric.value
            trial.last_step = max(trial.last_step, metric.step)
            if (metric.key == self._names[0] and len(self._names) == 1
                    and metric.step not in trial.steps and math.isfinite(metric.value)):
                trial.steps.add(metric.step)
                trial.optuna_trial.report(metric.value, metric.step)
                prune_now = True
        if prune_now and self.config.objective.command is not None and \
                self._should_prune(trial):
            self.backend.cancel(key, Outcome.PRUNED, f"pruned at step {trial.last_step}")

    def _should_prune(self, trial: _Trial) -> bool:
        if len(self._names) != 1 or self.config.pruner.type == "none":
            return False
        return bool(trial.optuna_trial.should_prune())  # optuna may answer numpy.bool_

    def _artifact(self, trial: _Trial, event: ArtifactData) -> None:
        try:
            artifacts.write_artifact(self.client.artifact_dir(trial.key), event.relative_file,
                                     event.data)
        except (TrackingError, OSError) as e:
            self.client.set_tag(trial.key, "trial.warning", f"artifact not saved: {e}")

    def _finished(self, trial: _Trial, result: TrialResult) -> None:
        """Record how the attempt ended (buffered: `_settle` makes it durable)."""
        del self._active[trial.key]
        self._deadlines.pop(trial.key, None)
        outcome, values = result.outcome, dict(result.values)
        error = result.error
        if outcome is Outcome.COMPLETE:
            bad = [n for n in self._names if not math.isfinite(values.get(n, math.nan))]
            if bad:
                outcome, error = Outcome.FAILED, f"objective metric {bad[0]!r} is " \
                    f"{values.get(bad[0], 'missing')}"
        key = trial.key
        ran = time.monotonic() - (trial.started or time.monotonic())
        batch = Batch(tags=[(key, records.RUN_SECONDS, f"{ran:.4f}")])
        now = now_ms()
        batch.metrics = [(key, k, v, trial.last_step, now) for k, v in values.items()
                         if trial.logged.get(k) != v]
        if error and outcome is not Outcome.PRUNED:
            batch.tags.append((key, records.ERROR, error[:2000]))
        if outcome is Outcome.LOST:
            batch.tags.append((key, records.LOST, "true"))
        batch.ends[key] = (_STATUS[outcome], now)
        if result.traceback:
            try:
                artifacts.write_artifact(self.client.artifact_dir(key),
                                         records.TRACEBACK_ARTIFACT, result.traceback)
            except (TrackingError, OSError):
                pass
        self.client.enqueue(batch)
        self._ended.append((trial, outcome, [values.get(n, math.nan) for n in self._names]))

    def _settle(self) -> None:
        """Make the attempts that ended durable in one transaction, then tell optuna (or
        queue a retry): nobody learns of a result before it is on disk."""
        if not self._ended:
            return
        self.client.flush()
        ended, self._ended = self._ended, []
        for trial, outcome, values in ended:
            if outcome is Outcome.KILLED:  # called off by the sweep: re-run on resume
                continue
            if outcome in (Outcome.FAILED, Outcome.LOST):
                if outcome is Outcome.LOST:
                    trial.lost += 1
                elif outcome is Outcome.FAILED:
                    trial.failures += 1
                    self._failed_attempts += 1
                self._after_failure(trial, outcome)
            elif outcome is Outcome.PRUNED:
                self._tell(trial, TrialState.PRUNED)
            else:
                self._tell(trial, TrialState.COMPLETE, values)

    def _after_failure(self, trial: _Trial, outcome: Outcome) -> None:
        limit = self.config.budget.max_failures
        if limit is not None and self._failed_attempts > limit and not self._stop_reason:
            self._stop(f"too many failures ({self._failed_attempts} > {limit})")
        retry = ((outcome is Outcome.LOST and trial.lost <= MAX_LOST_ATTEMPTS)
                 or (outcome is Outcome.FAILED and trial.failures <= self.config.execution.retries))
        if retry and not self._stop_reason:
            trial.attempt += 1
            self._retry.append(trial)
        else:
            self._tell(trial, TrialState.FAIL)

    def _tell(self, trial: _Trial, state: TrialState, values: list[float] | None = None) -> None:
        if values is not None and len(values) == 1 and (
                self._best is None or (values[0] > self._best[0]) == self._maximize):
            self._best = values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                self.study.tell(trial.optuna_trial, values, state=state)
            except RuntimeError as e:
                # GridSampler calls study.stop() once the grid is done, which only works
                # inside optimize(); optuna has stored the result by then, and our budget
                # already stops at the grid's size.
                if "Study.stop" not in str(e):
                    raise
        self._count(state)

    # -- the end -------------------------------------------------------------------------

    def _interrupt(self) -> None:
        """Ctrl-C: keep every result that already arrived; the trials still running end
        KILLED (the backend's shutdown stops them) and run again on resume."""
        for event in self.backend.poll(0):
            self._handle(event)
        self._settle()
        now = now_ms()
        self.client.write(Batch(
            tags=[(key, records.ERROR, "the sweep was interrupted") for key in self._active],
            ends={key: (RunStatus.KILLED, now) for key in self._active}))
        self._active.clear()

    def best(self) -> tuple[int | None, list[float] | None, dict[str, Any] | None]:
        """(sweeps trial number, values, params) of the best trial, if any completed."""
        completed = [t for t in self.study.get_trials(deepcopy=False)
                     if t.state is TrialState.COMPLETE]
        if not completed:
            return None, None, None
        if len(self._names) == 1:
            best = self.study.best_trial
        else:
            best = self.study.best_trials[0]
        return self._by_optuna_number.get(best.number), list(best.values), dict(best.params)

    def _finish(self, status: RunStatus) -> None:
        number, values, _ = self.best()
        tags = [(self.sweep_run_id, records.COUNTS, json.dumps(self._counts)),
                (self.sweep_run_id, records.WALL, f"{time.monotonic() - self._started:.3f}")]
        if number is not None:
            tags += [(self.sweep_run_id, records.BEST_TRIAL, str(number)),
                     (self.sweep_run_id, records.BEST_VALUES, json.dumps(values))]
        if self._stop_reason:
            tags.append((self.sweep_run_id, records.STOP_REASON, self._stop_reason))
        self.client.write(Batch(tags=tags, ends={self.sweep_run_id: (status, now_ms())}))
        self._report_progress(force=True)

    def _report_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._on_progress is None or (not force and now - self._last_progress < 0.1):
            return
        self._last_progress = now
        self._on_progress(Progress(
            complete=self._counts["complete"], pruned=self._counts["pruned"],
            failed=self._counts["failed"], running=len(self._active), total=self.budget_trials,
            best=records.best_value_text(self._best), elapsed=now - self._started))

