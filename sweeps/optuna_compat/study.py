"""`sweeps.create_study`: optuna's `create_study`, whose `optimize` runs define-by-run
trials on sweepbook's workers, each a tracked child run of a sweep.

The returned `Study` is an `optuna.Study` on the same storage, sampler and pruner as the
one optuna's `create_study` made (`.optuna_study`), overriding only `optimize`, so
`best_trial`, `best_params`, `trials`, `trials_dataframe`, `enqueue_trial`,
`set_user_attr`, `add_trial` and `optuna.visualization` behave as optuna's. `storage=`
is optuna's own storage, used for the study as optuna uses it; the runs go to the
tracking store (`tracking_uri=`).

The objective (a module-level function, a lambda or a closure from a script's `__main__`)
is shipped to the workers with cloudpickle, once per trial spec; the coordinator's study
answers each `suggest_*` (see `sweeps.optuna_compat.worker`) and runs the callbacks.

A study is one sweep (parent) run, tagged with the study's name: `load_if_exists=True` on
optuna's own storage goes on with that run (an unfinished one is resumed to its budget, a
finished one gets `n_trials` more child runs), and the storage keeps every trial once.
As in optuna, an exception `catch` does not list stops `optimize` (see there); `sweeps run`
sweeps, with no `catch`, outlive every exception.

    import sweeps
    study = sweeps.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -10, 10) - 2) ** 2, n_trials=50, n_jobs=4)
    print(study.best_params)
"""

from __future__ import annotations

import gc
import math
import os
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps import records
from sweeps.config import PrunerSpec, SamplerSpec, SweepConfig, parse_config
from sweeps.errors import SweepError
from sweeps.optimizer import tell_outside_optimize
from sweeps.optuna_compat.transfer import metric_names
from sweeps.space import Space
from sweeps.trial import exception_names
from tracking import Client, Run, RunStatus

_NAME = re.compile(r"[A-Za-z_]\w*")


def create_study(storage: str | optuna.storages.BaseStorage | None = None,
                 sampler: optuna.samplers.BaseSampler | str | None = None,
                 pruner: optuna.pruners.BasePruner | str | None = None,
                 study_name: str | None = None, direction: str | None = None,
                 load_if_exists: bool = False, directions: Sequence[str] | None = None, *,
                 experiment: str | None = None, workers: int | None = None,
                 backend: str = "local", tracking_uri: str | os.PathLike | None = None,
                 config: Mapping[str, Any] | None = None) -> Study:
    """optuna's `create_study` (samplers and pruners as instances or by the YAML names),
    plus where the trials run and are tracked: `experiment` (default: the study's name),
    `workers`, `backend` ("local" or "ray"), `tracking_uri`, and `config` (more sweep
    config sections, e.g. ``{"execution": {"retries": 1}, "report": True}``; no report
    is written by default)."""
    from sweeps.search import build_pruner, build_sampler
    if isinstance(sampler, str):
        sampler = build_sampler(SamplerSpec(sampler), Space(()))
    if isinstance(pruner, str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            pruner = build_pruner(PrunerSpec(pruner))
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                study_name=study_name, direction=direction,
                                load_if_exists=load_if_exists, directions=directions)
    wrapped = Study(study, experiment=experiment, workers=workers, backend=backend,
                    tracking_uri=tracking_uri, config=config)
    if load_if_exists and storage is None:
        wrapped._take_up()
    elif load_if_exists:
        wrapped._go_on()
    return wrapped


class Study(optuna.Study):
    """An optuna study whose `optimize` runs on sweepbook's workers (see the module
    docstring); everything else is optuna's own, on `study`'s storage."""

    def __init__(self, study: optuna.Study, *, experiment: str | None = None,
                 workers: int | None = None, backend: str = "local",
                 tracking_uri: str | os.PathLike | None = None,
                 config: Mapping[str, Any] | None = None) -> None:
        super().__init__(study_name=study.study_name, storage=study._storage,
                         sampler=study.sampler, pruner=study.pruner)
        self.optuna_study = study
        self._resume: str | None = None  # the sweep the next optimize resumes
        self._reopen = False  # ... though it ended: `optimize` adds n_trials to it
        self.sweep_run_id: str | None = None  # the latest optimize's sweep
        self.report_path: Path | None = None  # its report, with config={"report": True}
        self._experiment, self._workers, self._backend = experiment, workers, backend
        self._tracking_uri, self._config = tracking_uri, dict(config or {})
        taken = sorted({"metric", "metrics", "objective", "space"} & set(self._config))
        if taken:
            raise SweepError(f"config: {', '.join(taken)} come from the study and its "
                             "objective (direction(s), study.set_metric_names, the "
                             "objective's suggest calls): leave them out")

    def optimize(self, func: Callable[[Any], Any], n_trials: int | None = None,
                 timeout: float | None = None, n_jobs: int = 1,
                 catch: Iterable[type[Exception]] | type[Exception] = (),
                 callbacks: Iterable[Callable[[optuna.Study, FrozenTrial], None]] | None = None,
                 gc_after_trial: bool = False, show_progress_bar: bool = False) -> None:
        """Run `n_trials` trials (or until `timeout` seconds) of `func(trial)` on `n_jobs`
        workers (-1: one per core; default: `workers=` of create_study, else 1). A trial
        that raises is FAILED; as in optuna, an exception that is not an instance of a
        class in `catch` then stops the sweep (running trials finish) and `optimize`
        raises a SweepError naming the trial and the exception, after the retries of
        `config={"execution": {"retries": N}}`. `gc_after_trial` runs the garbage
        collector in the worker after each trial; `show_progress_bar` draws sweepbook's
        bar (on stderr, as optuna's)."""
        import cloudpickle
        from rich.console import Console

        from sweeps.api import tracking_root
        from sweeps.backends import make_backend
        from sweeps.coordinator import Coordinator
        from sweeps.progress import ProgressBar

        caught = _catch_names(catch)
        config = parse_config(self._sweep_config(func, n_trials, timeout, n_jobs),
                              source="<sweeps.create_study>")
        client = Client(tracking_root(self._tracking_uri, config))
        if self._reopen and self._resume:
            config = _more_trials(client, client.get_run(self._resume), config)
        asked_before = {t.number for t in self.get_trials(deepcopy=False)}
        bar = ProgressBar(config.experiment, console=Console(stderr=True),
                          disabled=not show_progress_bar)
        coordinator = Coordinator(
            config, client=client, backend=make_backend(config), cwd=os.getcwd(),
            resume=self._resume, reopen=self._reopen, study=self, on_progress=bar.update,
            function=cloudpickle.dumps(_collect_after(func) if gc_after_trial else func),
            callbacks=tuple(callbacks or ()), catch=caught)
        self._resume, self._reopen = None, False  # taken up: the study now holds its trials
        try:
            self.sweep_run_id = coordinator.run()
        finally:
            bar.stop()
            if coordinator.sweep_run_id:
                self._end_running(client, coordinator.sweep_run_id, asked_before)
                # as in optuna, the next optimize goes on with the same study: its sweep
                self._resume, self._reopen = coordinator.sweep_run_id, True
        if config.report_enabled:
            from sweeps.report import write_sweep_report
            self.report_path = write_sweep_report(client, self.sweep_run_id, config.report_path)
        if coordinator.interrupted:  # as optuna's optimize: Ctrl-C goes on up
            raise KeyboardInterrupt
        if coordinator.uncaught:
            raise SweepError(f"{coordinator.uncaught} (not in catch): sweep "
                             f"{self.sweep_run_id} stopped once its running trials finished")

    def _go_on(self) -> None:
        """`load_if_exists` on optuna's own storage, which holds the study's trials: the
        next `optimize` goes on with the study's latest sweep (the run tagged with its
        name, which a sweepbook coordinator ran): an unfinished one is resumed to its
        budget (the trials it left RUNNING in the storage end as their runs did, see
        `_end_running`), a finished one is reopened for `n_trials` more. A study new to
        the storage starts a new sweep."""
        from sweeps.api import tracking_root
        if not self.get_trials(deepcopy=False):
            return
        client = Client(tracking_root(self._tracking_uri))
        experiment = client.get_experiment_by_name(self._experiment or self.study_name)
        sweep = next((run for run in records.sweeps_of(client, experiment.experiment_id)
                      if run.data.tags.get(records.OPTUNA_STUDY) == self.study_name
                      and records.COORDINATOR in run.data.tags), None) if experiment else None
        if sweep is None:  # an imported sweep (no coordinator) is `sweeps import`'s to update
            return
        self._resume = sweep.info.run_id
        self._reopen = sweep.info.status is RunStatus.FINISHED
        if not self._reopen and records.live_coordinator(sweep) is None:
            self._end_running(client, sweep.info.run_id)  # its coordinator died

    def _end_running(self, client: Client, sweep_run_id: str,
                     asked_before: Collection[int] = ()) -> None:
        """Trials left RUNNING (by a coordinator that died, or called off or cut off by
        Ctrl-C; none numbered in `asked_before`) end as their runs did, as optuna's own
        optimize leaves none RUNNING: one recorded FINISHED or PRUNED (durable before
        optuna is told) is told so, any other FAIL (a resumed sweep runs it again as a
        new trial)."""
        running = [t for t in self.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if t.number not in asked_before]
        if not running:
            return
        runs = {r.run.data.tags.get(records.OPTUNA_TRIAL_ID): r  # the last attempt wins
                for r in records.load_trials(client, client.get_run(sweep_run_id))}
        names = metric_names(self)
        for trial in running:
            record = runs.get(str(trial._trial_id))
            status = record.status if record else RunStatus.FAILED
            values = [record.run.data.metrics.get(n, math.nan) for n in names] if record else []
            if status is RunStatus.FINISHED and all(math.isfinite(v) for v in values):
                tell_outside_optimize(self, trial.number, values)
            else:
                tell_outside_optimize(self, trial.number, state=TrialState.PRUNED
                                      if status is RunStatus.PRUNED else TrialState.FAIL)

    def _take_up(self) -> None:
        """`load_if_exists` without an optuna storage (the study lives in the tracking
        store): the trials of the study's finished sweeps come back into the study, and
        an unfinished latest sweep (its process died) is resumed by the next `optimize`."""
        from sweeps.api import tracking_root
        from sweeps.optuna_compat.transfer import sweep_trials
        client = Client(tracking_root(self._tracking_uri))
        experiment = client.get_experiment_by_name(self._experiment or self.study_name)
        ours = [run for run in records.sweeps_of(client, experiment.experiment_id)
                if run.info.run_name == self.study_name][::-1] if experiment else []
        if ours and ours[-1].info.status is not RunStatus.FINISHED:
            self._resume = ours.pop().info.run_id
        for sweep in ours:
            for trial in sweep_trials(client, sweep)[1]:
                self.add_trial(trial)

    def _sweep_config(self, func: Callable[[Any], Any], n_trials: int | None,
                      timeout: float | None, n_jobs: int) -> dict[str, Any]:
        name = getattr(func, "__name__", "")
        workers = (os.cpu_count() or 1) if n_jobs == -1 else \
            n_jobs if n_jobs != 1 else self._workers or 1
        execution = {"backend": self._backend, "workers": workers,
                     **self._config.get("execution", {})}
        return {
            "experiment": self._experiment or self.study_name, "name": self.study_name,
            "objective": f"{getattr(func, '__module__', None) or '__main__'}:"
                         f"{name if _NAME.fullmatch(name) else 'objective'}",
            "metrics": [{"name": n, "goal": d.name.lower()}
                        for n, d in zip(metric_names(self), self.directions, strict=True)],
            "report": False, **self._config, "execution": execution,
            "budget": {"trials": n_trials, "timeout": timeout,
                       **self._config.get("budget", {})}}


def _collect_after(func: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`func`, with the garbage collector run after each call (optuna's `gc_after_trial`)."""
    def objective(trial: Any) -> Any:
        try:
            return func(trial)
        finally:
            gc.collect()

    return objective


def _catch_names(catch: Iterable[type[Exception]] | type[Exception]) -> tuple[str, ...]:
    """`optimize`'s `catch` (a tuple of exception classes, or one) as qualified names."""
    kinds = (catch,) if isinstance(catch, type) else catch
    if isinstance(kinds, (str, bytes)) or not isinstance(kinds, Iterable):
        raise SweepError(f"catch: expected a tuple of exception classes, got {kinds!r}")
    kinds = tuple(kinds)
    for kind in kinds:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise SweepError(f"catch: expected a tuple of exception classes, got {kind!r} "
                             f"in {kinds!r}")
    return tuple(exception_names(kind)[0] for kind in kinds)


def _more_trials(client: Client, sweep: Run, config: SweepConfig) -> SweepConfig:
    """A reopened sweep's config: its budget.trials counts the trials it has, as
    `sweeps extend`'s does, so that `n_trials` more run."""
    if config.budget.trials is None:
        return config
    stored = len({r.number for r in records.load_trials(client, sweep)})
    return replace(config, budget=replace(config.budget, trials=stored + config.budget.trials))
