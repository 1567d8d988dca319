"""The coordinator: the loop that runs one sweep, the one place that holds its study.

It asks for trials, hands each to a backend, receives the trials' events, decides pruning,
and tells the results; a finished attempt is on disk before optuna is told. Beside it, as
optuna splits `_optimize.py` from `_tell.py`:
- `sweeps.optimizer`: the optuna study (ask, report, prune, tell, stored trials);
- `sweeps.budget`: budgets (trials, time, target), retries and failure limits;
- `sweeps.resume`: what a resumed sweep starts from (nothing that finished runs again);
- `sweeps.recorder`: the only writer to the store (batched, one transaction a cycle).

Trials that ended are settled (made durable, then told) in one transaction per loop
cycle, or, where nothing waits for them (`_settle_due`: complete trials, a sampler that does
not learn from them, no target), in batches of up to `SETTLE_TRIALS` trials or
`SETTLE_SECONDS`: fewer, bigger transactions for fast trials.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps import records
from sweeps.backends.base import Backend
from sweeps.budget import Budget, Progress
from sweeps.config import SweepConfig
from sweeps.control import CANCELLED, STOPPED, Control, Watch
from sweeps.objectives import check_importable
from sweeps.optimizer import ActiveTrial, Optimizer
from sweeps.recorder import Recorder
from sweeps.repeats import Repeats
from sweeps.reruns import Rerun, trial_seed
from sweeps.resume import Requeued, find_resumable, plan_resume
from sweeps.space import thaw
from sweeps.trial import (
    ArtifactData,
    Event,
    Finished,
    Logged,
    Outcome,
    PruneQuery,
    Started,
    StopAsked,
    Suggested,
    SuggestFailed,
    SuggestQuery,
    TrialResult,
    TrialSpec,
    UserAttr,
)
from tracking import Client, RunStatus


@dataclass(frozen=True)
class _Ended:
    """An attempt that ended, recorded but not yet durable, nor told to optuna."""

    trial: ActiveTrial
    outcome: Outcome
    values: list[float]  # the objective metrics' values, NaN when missing
    error: str
    exception: tuple[str, ...] = ()  # what the objective raised (`TrialResult.exception`)
    at: float = field(default_factory=time.monotonic)


class Coordinator:
    """Runs one sweep to its end (see the module docstring).

    >>> result = Coordinator(config, client=Client("runs"), backend=LocalBackend(2)).run()
    """

    SETTLE_TRIALS = 64  # at most this many ended trials wait to be settled together
    SETTLE_SECONDS = 0.02  # nor any of them longer than this

    def __init__(self, config: SweepConfig, *, client: Client, backend: Backend,
                 resume: str | None = None, cwd: str | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 study: optuna.Study | None = None, function: bytes | None = None,
                 callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
                 reopen: bool = False, rerun_failed: bool = False,
                 reruns: Sequence[Rerun] = (), catch: Sequence[str] | None = None) -> None:
        """`study`, `function` (a cloudpickled define-by-run objective), `callbacks` and
        `catch` come from `sweeps.create_study(...).optimize`: `catch` names (qualified, see
        `exception_names`) the exceptions a trial may raise and the sweep goes on; another
        one, once the trial failed for good, stops the sweep (running trials finish) and is
        kept in `uncaught`. None (YAML sweeps): the sweep outlives every exception.
        With `resume` (a sweep run id): `reopen` takes up a sweep that ended too (`sweeps
        extend`: the config's budget.trials counts the stored trials), `rerun_failed` runs
        its failed trials again (`sweeps rerun-failed`), and `reruns` runs only those
        re-runs of finished trials, leaving the sweep itself as it was (`sweeps recheck`,
        `sweeps reproduce`)."""
        self.config = config
        self._study, self._function, self._callbacks = study, function, callbacks
        self._function_id = None if function is None else hashlib.sha256(function).hexdigest()
        self._catch = None if catch is None else frozenset(catch)
        self.uncaught = ""  # "trial N raised Error: text", an exception `catch` does not list
        self.client = client
        self.backend = backend
        self._resume = resume
        self._cwd = os.path.abspath(cwd or config.objective.cwd or os.getcwd())
        self._on_progress = on_progress
        self._names = tuple(m.name for m in config.metrics)
        self.budget = Budget(config, on_stop=self._call_off_unstarted)
        self.recorder = Recorder(client)
        self._active: dict[str, ActiveTrial] = {}
        self._retry: deque[ActiveTrial] = deque()
        self._requeue: deque[Requeued] = deque()
        self._next_number = 0
        self._deadlines: dict[str, float] = {}
        self._ended: list[_Ended] = []
        self._last_progress = 0.0
        self._paused = self._cancelled = False  # by `sweeps pause` / `sweeps cancel`
        self._held: set[str] = set()  # attempts called off by a pause: they run after it
        self._reopen, self._rerun_failed = reopen, rerun_failed
        self._reruns: deque[Rerun] = deque(reruns)
        self._reruns_only = bool(reruns)
        self._wall_before = 0.0  # a reopened sweep's recorded wall time
        self._repeats = Repeats(config)  # budget.repeats: the trials whose repeats run
        self.interrupted = False  # Ctrl-C ended the sweep (KILLED; resumable)

    @property
    def sweep_run_id(self) -> str:
        return self.recorder.sweep_run_id

    def _open(self) -> None:
        """Create the sweep, or take up the one to resume; the objective is checked before
        anything is written."""
        config = self.config
        self.optimizer = Optimizer(config, study=self._study, callbacks=self._callbacks)
        if not self._resume:
            self._check_objective()
            self.recorder.create_sweep(config, self.client.get_or_create_experiment(
                config.experiment), self.backend.name, self.budget.trials, self._cwd,
                optuna_study=None if self._study is None else self._study.study_name)
            return
        experiment = self.client.get_experiment_by_name(config.experiment)
        sweep = find_resumable(self.client, self._resume,
                               experiment.experiment_id if experiment else "", config.experiment,
                               ended=self._reopen or self._reruns_only)
        record = records.SweepRecord.from_run(sweep)
        self._cwd = record.cwd or self._cwd
        self._check_objective()
        if self._reruns_only:  # the sweep's trials and state stay as they are
            self.recorder.attach(sweep.info.experiment_id, sweep.info.run_id)
            return
        self._wall_before = record.wall_seconds or 0.0
        budget = config.budget
        if None not in (record.budget_trials, budget.trials) and \
                record.budget_trials > budget.trials:  # `sweeps extend` raised it
            self.config = replace(config, budget=replace(budget, trials=record.budget_trials))
            self.budget.config = self.config
        plan = plan_resume(self.client, sweep, config, rerun_failed=self._rerun_failed)
        for record, history in plan.stored:
            self.budget.count(self.optimizer.add_stored(record, history))
        self.budget.resumed(plan.failed)
        self._requeue.extend(plan.requeued)
        self._next_number = plan.next_number
        self.optimizer.reseed(plan.next_number)
        self.recorder.reopen_sweep(sweep.info.experiment_id, sweep.info.run_id, plan.cut_off,
                                   self.budget.trials)

    def _check_objective(self) -> None:
        if self.config.objective.callable and self._function is None:
            check_importable(self.config.objective.callable, self._cwd)

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
            status = RunStatus.KILLED if self._cancelled else self.budget.sweep_status()
        except KeyboardInterrupt:
            status, self.interrupted = RunStatus.KILLED, True
            self.budget.stop_reason = "interrupted"
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

    def _loop(self) -> None:
        control = Watch(self.client, self.sweep_run_id)
        while True:
            self.budget.check_time()
            self._control(control.read())
            while self.backend.free_slots() > 0:
                spec = self._next_spec()
                if spec is None:
                    break
                self.backend.submit(spec)
            if not self._active and self._ended:  # what ended decides whether more run
                self._settle()
                continue
            if not self._active and not (self._paused and not self.budget.stop_reason):
                break
            for event in self.backend.poll(self._poll_timeout()):
                self._handle(event)
            if self._settle_due():
                self._settle()
            self._enforce_timeouts()
            self._report_progress()

    def _call_off_unstarted(self, reason: str) -> list[str]:
        """The budget stopped the sweep (or it paused): trials sent ahead but not started
        are called off; returns their keys."""
        keys = [key for key, trial in self._active.items() if trial.started is None]
        for key in keys:
            self.backend.cancel(key, Outcome.KILLED, f"not started: {reason}")
        return keys

    def _control(self, control: Control | None) -> None:
        """Act on the user's request, read from the store (see `sweeps.control`)."""
        if control is None or self._cancelled:
            return
        if control is Control.CANCEL:
            self._cancelled = True
            self.budget.stop(CANCELLED)  # calls off the trials not started yet
            for key in [k for k, t in self._active.items() if t.started is not None]:
                self.backend.cancel(key, Outcome.KILLED, CANCELLED)
        elif control is Control.STOP and not self.budget.stop_reason:
            self.budget.stop(STOPPED)
        elif control is Control.PAUSE and not self._paused:
            self._held.update(self._call_off_unstarted("the sweep was paused"))
        self._paused = control is Control.PAUSE

    def _next_spec(self) -> TrialSpec | None:
        """The next attempt to run: a retry, a trial cut off before a resume, or a new one."""
        if self._paused or (self.budget.stop_reason and not (  # a stopped sweep ends the
                self._repeats and self._reruns and not self._cancelled)):  # trials it began
            return None
        if self._retry:
            trial = self._retry.popleft()
        elif self._requeue:
            again = self._requeue.popleft()
            trial = self.optimizer.ask(again.number, again.params)
            trial.attempt, trial.failures, trial.key = again.attempt, again.failures, \
                again.retry_of
        elif self._reruns:
            rerun = self._reruns.popleft()
            trial = ActiveTrial(rerun.number, None, dict(rerun.params), seed=rerun.seed,
                                rerun=rerun)
        elif not self._reruns_only and self.budget.may_ask(
                sum(t.rerun is None for t in self._active.values()) + len(self._repeats)
                + len(self._retry) + len(self._requeue)
                + sum(e.trial.rerun is None for e in self._ended)):
            trial = self.optimizer.ask(self._next_number)
            self._next_number += 1
        else:
            return None
        if trial.rerun is None:
            trial.seed = trial_seed(self.config, trial.number, trial.params)
        users = trial.optuna_trial if self._study is not None else None  # create_study's
        trial.key = self.recorder.create_attempt(
            trial, retry_of=trial.key or None,
            optuna_trial_id=None if users is None else users._trial_id)
        trial.submitted, trial.started = time.monotonic(), None
        trial.steps, trial.last_step, trial.logged = set(), 0, {}
        if trial.rerun is None and self._repeats.size > 1:  # its repeats run instead
            self._reruns.extendleft(reversed(self._repeats.expand(trial)))
            return self._next_spec()
        self._active[trial.key] = trial
        objective, wandb = self.config.objective, self.config.objective.wandb
        return TrialSpec(
            key=trial.key, number=trial.number, attempt=trial.attempt, params=trial.params,
            objective=objective.callable, command=objective.command, cwd=self._cwd,
            env=dict(objective.env), objective_metrics=self._names,
            artifact_dir=str(self.client.artifact_dir(trial.key)),
            tracking_uri=self.client.tracking_uri,
            resources=dict(self.config.execution.resources),
            wandb=None if wandb is None else {**thaw(wandb), "sweep_id": self.sweep_run_id},
            study_view=self.optimizer.study_view(), function=self._function,
            function_id=self._function_id, seed=trial.seed,
            drawn=trial.drawn)

    def _poll_timeout(self) -> float:
        deadlines = [*self._deadlines.values(), self.budget.deadline(),
                     self._ended[0].at + self.SETTLE_SECONDS if self._ended else None]
        return min([0.5, *(max(0.0, d - time.monotonic()) for d in deadlines if d is not None)])

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
            elif isinstance(event, SuggestQuery):
                self.backend.answer(event.key, SuggestFailed("the trial was called off"))
            return
        if isinstance(event, Logged):
            self.recorder.logged(trial, event)
            if (self.optimizer.report(trial, event.metrics)
                    and self.config.objective.command is not None
                    and self.optimizer.should_prune(trial)):
                self.backend.cancel(trial.key, Outcome.PRUNED, f"pruned at step {trial.last_step}")
        elif isinstance(event, PruneQuery):
            self.backend.answer(event.key, trial.rerun is None
                                and self.optimizer.should_prune(trial))
        elif isinstance(event, SuggestQuery) and trial.rerun is not None:  # as it was
            self.backend.answer(event.key, trial.params[event.name] if event.name in
                                trial.params else SuggestFailed(
                                    f"trial {trial.number} had no param {event.name!r}"))
        elif isinstance(event, Suggested):  # a value drawn ahead, taken
            self.optimizer.suggest(trial, event.name, event.distribution)
            self.recorder.suggested(trial, event.name)
        elif isinstance(event, SuggestQuery):
            self._settle()  # the sampler sees every trial that ended before this question
            value = self.optimizer.suggest(trial, event.name, event.distribution)
            if not isinstance(value, SuggestFailed):
                self.recorder.suggested(trial, event.name)
            self.backend.answer(event.key, value)
        elif isinstance(event, Started):
            trial.started = time.monotonic()
            if self.config.execution.trial_timeout:
                self._deadlines[trial.key] = trial.started + self.config.execution.trial_timeout
            self.recorder.started(trial, event)
            group = self._repeats.trial_of(trial)
            if group is not None and group.started is None:  # its first repeat started
                group.started = trial.started
                self.recorder.started(group, event)
        elif isinstance(event, ArtifactData):
            self.recorder.artifact(trial, event)
        elif isinstance(event, StopAsked) and not self.budget.stop_reason \
                and not self._reruns_only:  # a re-check runs its whole plan
            self.budget.stop(f"trial {trial.number} called study.stop()")
        elif isinstance(event, UserAttr) and trial.optuna_trial is not None:
            trial.optuna_trial.set_user_attr(event.name, event.value)
        elif isinstance(event, Finished):
            self._finished(trial, event.result)

    def _finished(self, trial: ActiveTrial, result: TrialResult) -> None:
        """Record how the attempt ended (buffered: `_settle` makes it durable)."""
        del self._active[trial.key]
        self._deadlines.pop(trial.key, None)
        outcome, values, error = result.outcome, dict(result.values), result.error
        reported, trial.reported = trial.reported, {}  # this attempt's; a retry starts anew
        for metric in self.config.metrics:  # the objective value by `metric.use`
            if metric.name in reported and metric.name in values:
                values[metric.name] = metric.value(reported[metric.name], values[metric.name])
        if outcome is Outcome.COMPLETE:
            bad = [n for n in self._names if not math.isfinite(values.get(n, math.nan))]
            if bad:
                outcome, error = Outcome.FAILED, f"objective metric {bad[0]!r} is " \
                    f"{values.get(bad[0], 'missing')}"
        self.recorder.finished(trial, result, outcome, values, error)
        trial.logged.update(values)  # the final values are logged now (for stop_when)
        self._ended.append(_Ended(trial, outcome, [values.get(n, math.nan) for n in self._names],
                                  error or "unknown error", result.exception))
        group = self._repeats.trial_of(trial)
        if group is not None and trial.key in self._held:  # a pause called a repeat off:
            self._held.discard(trial.key)  # its trial runs again after the pause
            self._held.add(group.key)
        end = self._repeats.ended(trial, outcome, values, error)
        if end is not None:  # the trial's last repeat: the trial ends with their mean
            self.recorder.finished(end.trial, TrialResult(end.outcome, end.values, end.error),
                                   end.outcome, end.values, end.error)
            end.trial.logged = {**end.logged, **end.values}  # what stop_when reads
            self._ended.append(_Ended(end.trial, end.outcome, [end.values.get(
                n, math.nan) for n in self._names], end.error or "unknown error"))

    def _settle_due(self) -> bool:
        """Whether the trials that ended are settled now, or may wait for more to end."""
        if not self._ended:
            return False
        return (len(self._ended) >= self.SETTLE_TRIALS
                or time.monotonic() - self._ended[0].at >= self.SETTLE_SECONDS
                or self.optimizer.learns or self.budget.watches_values
                or any(e.outcome is not Outcome.COMPLETE for e in self._ended))

    def _settle(self) -> None:
        """Make the attempts that ended durable in one transaction, then tell optuna (or
        queue a retry): nobody learns of a result before it is on disk."""
        if not self._ended:
            return
        self.recorder.flush()
        ended, self._ended = self._ended, []
        for end in ended:
            trial, outcome = end.trial, end.outcome
            if trial.rerun is not None:  # the study never sees a re-run
                continue
            if outcome is Outcome.KILLED:  # called off by the sweep: re-run on resume
                if trial.key in self._held:  # or, called off by a pause, after it
                    self._held.discard(trial.key)
                    trial.attempt += 1
                    self._retry.append(trial)
                continue
            if outcome in (Outcome.FAILED, Outcome.LOST):
                trial.lost += outcome is Outcome.LOST
                trial.failures += outcome is Outcome.FAILED
                if self.budget.failed(outcome, trial.number, trial.key, end.error,
                                      trial.failures, trial.lost):
                    trial.attempt += 1
                    self._retry.append(trial)
                else:
                    self._tell(trial, TrialState.FAIL)
                    self._stop_if_uncaught(trial.number, end)
            elif outcome is Outcome.PRUNED:
                self.budget.succeeded(None)
                self._tell(trial, TrialState.PRUNED)
            else:
                self.budget.succeeded(end.values, trial.number, trial.logged)
                self._tell(trial, TrialState.COMPLETE, end.values)

    def _stop_if_uncaught(self, number: int, end: _Ended) -> None:
        """A trial failed for good raising an exception `catch` does not list: no new
        trials (running ones finish), and `uncaught` says which (`study.optimize` raises)."""
        if (self._catch is None or not end.exception or self._catch & set(end.exception)
                or self.uncaught):
            return
        self.uncaught = f"trial {number} raised {end.error}"
        self.budget.stop(f"{self.uncaught} (not in catch)", failed=True)

    def _tell(self, trial: ActiveTrial, state: TrialState,
              values: list[float] | None = None) -> None:
        stop = self.optimizer.tell(trial, state, values)
        self.budget.count(state)
        if stop and not self.budget.stop_reason:
            self.budget.stop(stop)

    # -- the end -------------------------------------------------------------------------

    def _interrupt(self) -> None:
        """Ctrl-C: keep every result that already arrived; the trials still running end
        KILLED (the backend's shutdown stops them) and run again on resume."""
        for event in self.backend.poll(0):
            self._handle(event)
        self._settle()
        self.recorder.interrupted(list(self._active))
        self._active.clear()

    def best(self) -> tuple[int | None, list[float] | None, dict[str, object] | None]:
        """(sweeps trial number, values, params) of the best trial, if any completed."""
        return self.optimizer.best()

    def _finish(self, status: RunStatus) -> None:
        if len(self._repeats):  # cancelled or interrupted between repeats
            self.recorder.interrupted(self._repeats.drop())
        if self._reruns_only:
            self._report_progress(force=True)
            return
        number, values, _ = self.best()
        self.recorder.finish_sweep(status, self.budget.count_names(), self._wall_before
                                   + time.monotonic() - self.budget.started, number, values,
                                   self.budget.stop_reason)
        self._report_progress(force=True)

    def _report_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._on_progress is None or (not force and now - self._last_progress < 0.1):
            return
        self._last_progress = now
        running = sum(1 for t in self._active.values() if t.started is not None)
        self._on_progress(self.budget.progress(running, len(self._active) - running,
                                               self.optimizer.best_values))
