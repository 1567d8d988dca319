"""The optuna side of a sweep: the study, asking for trials, reporting intermediate
values, pruning, telling results, and adding a resumed sweep's stored trials.

`TRIAL_STATE` is the one mapping from a stored run's status to optuna's trial state.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.pruners import NopPruner
from optuna.samplers import GridSampler, QMCSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from sweeps.compat.impute import IMPUTED, imputed_value
from sweeps.config import Goal, SweepConfig
from sweeps.errors import SweepError
from sweeps.optuna_compat.distributions import from_json, suggest
from sweeps.records import DISTRIBUTIONS, TrialRecord
from sweeps.search import build_pruner, build_sampler
from sweeps.trial import SuggestFailed
from tracking import Metric, RunStatus

if TYPE_CHECKING:
    from sweeps.reruns import Rerun

TRIAL_STATE = {RunStatus.FINISHED: TrialState.COMPLETE, RunStatus.PRUNED: TrialState.PRUNED,
               RunStatus.FAILED: TrialState.FAIL, RunStatus.KILLED: TrialState.FAIL,
               RunStatus.RUNNING: TrialState.RUNNING}
"""A stored attempt's status as an optuna state (QUEUED has none: it never ran)."""


def tell_outside_optimize(study: optuna.Study, trial: optuna.Trial | int, *args: Any,
                          **kwargs: Any) -> FrozenTrial | None:
    """`study.tell(trial, ...)`; None when the grid sampler then called `study.stop()`,
    which works only inside optuna's own optimize (optuna has stored the result by then)."""
    try:
        return study.tell(trial, *args, **kwargs)
    except RuntimeError as e:
        if "Study.stop" not in str(e):
            raise
        return None


@dataclass
class ActiveTrial:
    """A trial in flight: its optuna trial, params and current attempt; or a re-run of a
    finished trial (`rerun`), which has no optuna trial."""

    number: int
    optuna_trial: optuna.trial.Trial | None
    params: dict[str, Any]
    attempt: int = 1
    failures: int = 0  # failed attempts (lost ones, cut off by the infrastructure, not counted)
    lost: int = 0
    key: str = ""  # the current attempt's run id
    submitted: float = 0.0
    started: float | None = None
    steps: set[int] = field(default_factory=set)
    last_step: int = 0
    logged: dict[str, float] = field(default_factory=dict)
    # every value logged for an objective metric whose `use` is not last, in order
    reported: dict[str, list[float]] = field(default_factory=dict)
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)  # suggested
    seed: int | None = None
    rerun: Rerun | None = None
    drawn: dict[str, tuple[str, Any]] = field(default_factory=dict)  # see TrialSpec.drawn


class Optimizer:
    """The sweep's optuna study (see the module docstring)."""

    def __init__(self, config: SweepConfig, *, study: optuna.Study | None = None,
                 callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = ()
                 ) -> None:
        """`study`: the user's own (a define-by-run `sweeps.create_study`), else one made
        from the config; `callbacks` run after each tell, as in `optuna.Study.optimize`."""
        self.config = config
        self.callbacks = tuple(callbacks)
        self.names = tuple(m.name for m in config.metrics)
        self._kept = frozenset(m.name for m in config.metrics if m.use != "last")
        self._maximize = config.metrics[0].goal is Goal.MAXIMIZE
        self._by_optuna_number: dict[int, int] = {}
        # define-by-run: each param asked for so far, (distribution JSON, distribution)
        self._asked: dict[str, tuple[str, BaseDistribution]] = {}
        self.best_values: list[float] | None = None  # single objective: the best so far
        # a W&B bayes file's metric.impute: failed trials are told with a value
        self._impute = (config.objective.wandb or {}).get("impute")
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the study is ours; we report
        # the user's study already holds a resumed sweep's stored trials (in optuna's own
        # storage, or in memory from an earlier `optimize`): `add_stored` only counts them
        self._holds_stored = study is not None and (bool(study.get_trials(deepcopy=False)) or
                                                    not isinstance(study._storage,
                                                                   optuna.storages.InMemoryStorage))
        if study is not None:
            self.study = study
            if len(self.names) == 1 and study.get_trials(deepcopy=False,
                                                         states=(TrialState.COMPLETE,)):
                self.best_values = [study.best_value]  # trials it had before this sweep
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.study = optuna.create_study(
                directions=["maximize" if m.goal is Goal.MAXIMIZE else "minimize"
                            for m in config.metrics],
                sampler=build_sampler(config.sampler, config.space),
                pruner=build_pruner(config.pruner))

    def reseed(self, trials_before: int) -> None:
        """A resumed or extended sweep's sampler, built from the config with a seed that
        depends on how many trials it had (`trials_before`): the same seed would draw the
        first trials' params again. The user's own study keeps its sampler."""
        if self._holds_stored or self.config.sampler.seed is None or not trials_before:
            return
        from sweeps.reruns import seed_for
        spec = dataclasses.replace(self.config.sampler,
                                   seed=seed_for(self.config.sampler.seed, trials_before))
        self.study.sampler = build_sampler(spec, self.config.space)

    @property
    def learns(self) -> bool:
        """Whether a finished trial can change what comes next: the sampler draws from the
        trials told so far, the pruner compares with them, or a callback sees each one.
        Random, grid and quasi-random sampling without a pruner or callbacks can be told
        late (in bigger batches)."""
        return (bool(self.callbacks) or type(self.study.pruner) is not NopPruner
                or type(self.study.sampler) not in (RandomSampler, GridSampler, QMCSampler))

    def study_view(self) -> dict[str, Any] | None:
        """A define-by-run trial's read-only view of the study (None for a declared space)."""
        if len(self.config.space):
            return None
        return {"study_name": self.study.study_name,
                "directions": [d.name.lower() for d in self.study.directions],
                "user_attrs": self.study.user_attrs,
                "best_value": self.best_values[0] if self.best_values else None}

    def suggest(self, trial: ActiveTrial, name: str, distribution: str) -> Any:
        """A define-by-run trial's param, drawn by its optuna trial (the study's sampler);
        a SuggestFailed when optuna refuses it."""
        if trial.drawn.get(name, (distribution,))[0] != distribution:
            # drawn ahead from another distribution (a range that depends on another
            # param): not fixed, drawn from this one (optuna takes a fixed one out of range)
            fixed = trial.optuna_trial._fixed_params
            trial.optuna_trial._fixed_params = {k: v for k, v in fixed.items() if k != name}
        known = self._asked.get(name)  # the same question as before: parsed once
        try:
            drawn_from = known[1] if known and known[0] == distribution else \
                json_to_distribution(distribution)
            value = suggest(trial.optuna_trial, name, drawn_from)
        except (ValueError, TypeError) as e:
            return SuggestFailed(str(e))
        trial.params[name] = value
        trial.distributions.setdefault(name, drawn_from)
        self._asked.setdefault(name, (distribution, drawn_from))
        return value

    def ask(self, number: int, params: Mapping[str, Any] | None = None) -> ActiveTrial:
        """A new trial numbered `number`; `params` fixes its params (a re-queued trial).
        Define-by-run with optuna's RandomSampler, which ignores history: a value of each
        param asked for before is drawn now and fixed in the optuna trial, so that the
        worker takes it without asking (`TrialSpec.drawn`)."""
        drawn: dict[str, tuple[str, Any]] = {}
        if params is None and self._asked and type(self.study.sampler) is RandomSampler \
                and not self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            # (a trial the user enqueued is asked first, with its own params)
            drawn = {name: (text, self.study.sampler.sample_independent(
                self.study, None, name, distribution))  # type: ignore[arg-type]
                for name, (text, distribution) in self._asked.items()}
            params = {name: value for name, (_, value) in drawn.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if params is not None:
                self.study.enqueue_trial(dict(params), skip_if_exists=False)
            optuna_trial = self.study.ask()
            suggested = self.config.space.suggest(optuna_trial)
        self._by_optuna_number[optuna_trial.number] = number
        return ActiveTrial(number, optuna_trial, suggested, drawn=drawn)

    def report(self, trial: ActiveTrial, metrics: Sequence[Metric]) -> bool:
        """Note the logged metrics; True when a new objective value was reported to optuna
        (a prune question is then worth asking)."""
        reported = False
        for metric in metrics:
            trial.logged[metric.key] = metric.value
            if metric.key in self._kept:
                trial.reported.setdefault(metric.key, []).append(metric.value)
            trial.last_step = max(trial.last_step, metric.step)
            if (metric.key == self.names[0] and len(self.names) == 1
                    and trial.optuna_trial is not None
                    and metric.step not in trial.steps and math.isfinite(metric.value)):
                trial.steps.add(metric.step)
                trial.optuna_trial.report(metric.value, metric.step)
                reported = True
        return reported

    def should_prune(self, trial: ActiveTrial) -> bool:
        if len(self.names) != 1 or isinstance(self.study.pruner, optuna.pruners.NopPruner):
            return False
        return bool(trial.optuna_trial.should_prune())  # optuna may answer numpy.bool_

    def tell(self, trial: ActiveTrial, state: TrialState,
             values: list[float] | None = None) -> str | None:
        """Tell optuna how the trial ended, then run the callbacks; why the sweep stops
        when one of them (or the grid sampler) called `study.stop()`, else None."""
        if values is not None and len(values) == 1 and (
                self.best_values is None or (values[0] > self.best_values[0]) == self._maximize):
            self.best_values = values
        if state is TrialState.FAIL and self._impute:  # sweeps.compat.impute; stays FAILED
            own = self.study.get_trials(deepcopy=False)[trial.optuna_trial.number]
            state, values = TrialState.COMPLETE, [imputed_value(
                self.study.get_trials(deepcopy=False), own.intermediate_values, self._impute,
                maximize=self._maximize)]
            trial.optuna_trial.set_user_attr(IMPUTED, self._impute)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            frozen = tell_outside_optimize(self.study, trial.optuna_trial, values, state=state)
        if frozen is None:  # a declared space's budget already stops at the grid's size
            return None if len(self.config.space) else "the grid sampler ran its grid"
        if not self.callbacks:
            return None
        # optuna's Study.stop() works only inside optimize(): the callbacks run as there
        self.study._thread_local.in_optimize_loop = True
        try:
            for callback in self.callbacks:
                callback(self.study, frozen)
        finally:
            self.study._thread_local.in_optimize_loop = False
        stop, self.study._stop_flag = self.study._stop_flag, False
        return "a callback called study.stop()" if stop else None

    def add_stored(self, record: TrialRecord, history: Sequence[Metric]) -> TrialState:
        """Add a stored attempt (FINISHED, PRUNED or FAILED) to the study as a finished
        trial (unless the study's own storage holds it); returns its state (a FINISHED one
        without finite values counts as FAIL)."""
        state = TRIAL_STATE[record.status]
        distributions = self.config.space.distributions() if len(self.config.space) else \
            from_json(record.run.data.tags.get(DISTRIBUTIONS, "{}"))  # define-by-run
        params = {k: v for k, v in record.params.items() if k in distributions}
        intermediate = {m.step: m.value for m in history
                        if m.key == self.names[0] and math.isfinite(m.value)}
        values = None
        if state is TrialState.COMPLETE:
            values = [record.run.data.metrics.get(n, math.nan) for n in self.names]
            if not all(math.isfinite(v) for v in values):
                state, values = TrialState.FAIL, None
        if self._holds_stored:
            return state
        imputed = {IMPUTED: self._impute} if state is TrialState.FAIL and self._impute else {}
        if imputed:  # as `tell` did when it failed (sweeps.compat.impute)
            values = [imputed_value(self.study.get_trials(deepcopy=False), intermediate,
                                    self._impute, maximize=self._maximize)]
        try:
            frozen = optuna.trial.create_trial(
                params=params, distributions={k: distributions[k] for k in params},
                values=values, intermediate_values=intermediate, user_attrs=imputed,
                state=TrialState.COMPLETE if imputed else state)
            self.study.add_trial(frozen)
        except ValueError as e:
            raise SweepError(f"cannot resume: trial {record.number}'s params no longer fit the "
                             f"config's space ({e})") from None
        self._by_optuna_number[len(self.study.get_trials(deepcopy=False)) - 1] = record.number
        return state

    def best(self) -> tuple[int | None, list[float] | None, dict[str, Any] | None]:
        """(sweeps trial number, values, params) of the best trial, if any completed."""
        completed = [t for t in self.study.get_trials(deepcopy=False)
                     if t.state is TrialState.COMPLETE and IMPUTED not in t.user_attrs]
        if not completed:
            return None, None, None
        best = (max if self._maximize else min)(completed, key=lambda t: t.values[0]) \
            if len(self.names) == 1 else self.study.best_trials[0]
        return self._by_optuna_number.get(best.number), list(best.values), dict(best.params)
