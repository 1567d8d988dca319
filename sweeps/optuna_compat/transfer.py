"""Optuna studies into sweeps, and sweeps into optuna storages, through public APIs only.

`import_studies` reads an optuna storage (an RDB URL such as ``sqlite:///optuna.db``, or a
journal file's path) with optuna's own API and writes each study as a sweep through the
tracking `Client`: the sweep (parent) run carries the study's directions and metric names;
each trial is a child run with its typed params (and their optuna distributions), its
intermediate values as step metrics of the first metric, its values as the metrics, its
state (COMPLETE -> FINISHED, PRUNED -> PRUNED, FAIL -> FAILED, RUNNING -> RUNNING,
WAITING -> QUEUED), its user attrs as tags (a non-text value as JSON) and its start and end
times. Intermediate points are stamped with the trial's start time and values with its end
time. It is idempotent: the sweep is found again by the study's name in its experiment and
each trial by its number, and a re-import writes only what changed.

`export_sweep` does the reverse with `optuna.create_study(storage=...)` and
`study.add_trial`, so optuna-dashboard and optuna's tools read a sweep; each optuna trial
keeps the run id in its system attrs (``sweepbook.run_id``) and an export again adds only
trials not there yet.

    from sweeps.optuna_compat import import_studies
    import_studies(client, "sqlite:///optuna.db", ["my-study"])
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence

import optuna
from optuna.distributions import BaseDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from sweeps import records
from sweeps.errors import SweepsError
from sweeps.mlflow_bridge import Transfer
from sweeps.optimizer import TRIAL_STATE
from sweeps.optuna_compat.distributions import from_json, to_json
from tracking import Client, Metric, Run, RunStatus

RUN_ID_ATTR = "sweepbook.run_id"
"""The system attr of an exported optuna trial that names the run it came from."""
USER_ATTR_PREFIX = "user_attr."
"""A user attr whose name is one of sweepbook's own tag prefixes is kept under this prefix."""
RUN_STATUS = {TrialState.COMPLETE: RunStatus.FINISHED, TrialState.PRUNED: RunStatus.PRUNED,
              TrialState.FAIL: RunStatus.FAILED, TrialState.RUNNING: RunStatus.RUNNING,
              TrialState.WAITING: RunStatus.QUEUED}
"""An optuna trial state as a run's status."""
_USER_TAG_PREFIXES = (*records.RESERVED_PREFIXES, "sys.")


def open_storage(url: str, *, create: bool = False) -> optuna.storages.BaseStorage:
    """Optuna's storage at `url`: an RDB URL (``sqlite:///optuna.db``) or a journal file's
    path. Without `create`, a missing SQLite or journal file is a SweepsError."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else \
        None if "://" in url else url
    if not create and path is not None and not os.path.isfile(path):
        raise SweepsError(f"no optuna storage at {url} (no such file: {path})")
    try:
        if path is None or url.startswith("sqlite:///"):
            return optuna.storages.RDBStorage(url)
        from optuna.storages.journal import JournalFileBackend
        return optuna.storages.JournalStorage(JournalFileBackend(path))
    except Exception as e:  # noqa: BLE001 - optuna passes on SQLAlchemy's own errors
        raise SweepsError(f"cannot open the optuna storage {url}: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def metric_names(study: optuna.Study) -> list[str]:
    """The study's metric names, or optuna's column names (`value`, `values_0`, ...)."""
    if study.metric_names:
        return list(study.metric_names)
    count = len(study.directions)
    return ["value"] if count == 1 else [f"values_{i}" for i in range(count)]


def _ms(when: dt.datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def _trial_tags(trial: FrozenTrial) -> dict[str, str]:
    tags = records.trial_tags(trial.number, 1, None)
    tags[records.OPTUNA_TRIAL_ID] = str(trial._trial_id)
    tags[records.DISTRIBUTIONS] = to_json(trial.distributions)
    for key, value in trial.user_attrs.items():
        name = USER_ATTR_PREFIX + key if key.startswith(_USER_TAG_PREFIXES) else key
        tags[name] = value if isinstance(value, str) else json.dumps(value, default=str)
    return tags


def _trial_points(trial: FrozenTrial, names: Sequence[str]) -> list[Metric]:
    start = _ms(trial.datetime_start) or 0
    points = [Metric(names[0], float(v), start, int(step))
              for step, v in sorted(trial.intermediate_values.items())]
    last = max(trial.intermediate_values, default=0)
    end = _ms(trial.datetime_complete) or start
    points += [Metric(n, float(v), end, int(last))
               for n, v in zip(names, trial.values or (), strict=False)]
    return points


def _point_key(m: Metric) -> tuple[str, int, int, str]:
    return m.key, m.step, m.timestamp, repr(m.value)


def import_studies(client: Client, storage: str | optuna.storages.BaseStorage,
                   study_names: Sequence[str] = (), *, experiment: str | None = None
                   ) -> list[Transfer]:
    """Import the studies named (default: every one) of an optuna storage (or its URL, see
    `open_storage`), each as a sweep in the experiment `experiment` (default: the study's
    name)."""
    url = storage if isinstance(storage, str) else type(storage).__name__
    storage = open_storage(storage) if isinstance(storage, str) else storage
    available = [s.study_name for s in optuna.get_all_study_summaries(
        storage, include_best_trial=False)]
    missing = [n for n in study_names if n not in available]
    if missing:
        raise SweepsError(f"no study {missing[0]!r} in {url} (it has: "
                          f"{', '.join(available) or 'no studies'})")
    return [_import_study(client, optuna.load_study(study_name=name, storage=storage),
                          experiment or name) for name in (study_names or available)]


def _import_study(client: Client, study: optuna.Study, experiment: str) -> Transfer:
    names = metric_names(study)
    experiment_id = client.get_or_create_experiment(experiment)
    trials = study.get_trials(deepcopy=False)
    sweep = next((run for run in records.sweeps_of(client, experiment_id)
                  if run.data.tags.get(records.OPTUNA_STUDY) == study.study_name), None)
    existing = {} if sweep is None else {
        r.number: r.run for r in records.load_trials(client, sweep)}
    histories: dict[str, set[tuple[str, int, int, str]]] = {}
    for run_id, metric in client.get_metric_histories(
            [r.info.run_id for r in existing.values()]):
        histories.setdefault(run_id, set()).add(_point_key(metric))
    created = updated = points = 0
    with client.batch() as writes:
        if sweep is None:
            sweep_id = writes.create_run(
                experiment_id, run_name=study.study_name,
                start_time=min((_ms(t.datetime_start) for t in trials if t.datetime_start),
                               default=None))
            created += 1
        else:
            sweep_id = sweep.info.run_id
        writes.set_tags(sweep_id, _sweep_tags(study, names, trials))
        for trial in trials:
            run = existing.get(trial.number)
            status = RUN_STATUS[trial.state]
            tags, new_points = _trial_tags(trial), _trial_points(trial, names)
            if run is None:
                run_id = writes.create_run(
                    experiment_id, run_name=f"trial-{trial.number}", parent_run_id=sweep_id,
                    status=RunStatus.QUEUED if status is RunStatus.QUEUED else
                    RunStatus.RUNNING, start_time=_ms(trial.datetime_start), tags=tags)
                params = dict(trial.params)
                created += 1
            else:
                run_id = run.info.run_id
                seen = histories.get(run_id, set())
                new_points = [m for m in new_points if _point_key(m) not in seen]
                params = {k: v for k, v in trial.params.items() if k not in run.data.params}
                tags = {k: v for k, v in tags.items() if run.data.tags.get(k) != v}
                moved = run.info.status is not status or (
                    status is not RunStatus.QUEUED
                    and run.info.end_time != _ms(trial.datetime_complete))
                if not (params or tags or new_points or moved):
                    continue
                updated += 1
                writes.set_tags(run_id, tags)
                if run.info.status is RunStatus.QUEUED and trial.datetime_start:
                    writes.start(run_id, _ms(trial.datetime_start))
            writes.log_params(run_id, params)
            writes.log_metrics(run_id, new_points)
            points += len(new_points)
            if trial.state.is_finished():
                writes.set_terminated(run_id, status, _ms(trial.datetime_complete))
        end = max((_ms(t.datetime_complete) for t in trials if t.datetime_complete),
                  default=None)
        if sweep is None or sweep.info.end_time != end:
            writes.set_terminated(sweep_id, RunStatus.FINISHED, end)
    return Transfer(created, updated, points, experiment)


def _sweep_tags(study: optuna.Study, names: Sequence[str],
                trials: Sequence[FrozenTrial]) -> dict[str, str]:
    goals = [{"name": n, "goal": d.name.lower()}
             for n, d in zip(names, study.directions, strict=True)]
    tags = records.sweep_tags(goals, f"optuna study {study.study_name}", "", "", "optuna", 1,
                              None, "")
    del tags[records.COORDINATOR]  # no process runs an imported sweep
    tags[records.OPTUNA_STUDY] = study.study_name
    states = [t.state for t in trials]
    tags[records.COUNTS] = json.dumps({
        "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED), "failed": states.count(TrialState.FAIL)})
    if TrialState.COMPLETE in states:
        best = study.best_trial if len(names) == 1 else study.best_trials[0]
        tags[records.BEST_TRIAL] = str(best.number)
        tags[records.BEST_VALUES] = json.dumps(list(best.values))
    return tags


def sweep_trials(client: Client, sweep: Run) -> tuple[list[tuple[str, str]],
                                                     list[FrozenTrial]]:
    """A sweep's goals ([(metric, "minimize" | "maximize")]) and its trials as optuna
    trials (the last attempt of each that started; the run id in system attr
    `sweepbook.run_id`)."""
    from sweeps.report.data import load_sweep
    data = load_sweep(client, sweep.info.run_id)
    goals = list(data.goals)
    if not goals:
        raise SweepsError(f"sweep {sweep.info.run_id} records no metric to optimize")
    final = {r.number: r for r in records.load_trials(client, sweep)}  # last attempt wins
    history: dict[str, dict[int, float]] = {}  # the first point of each step: the last
    stored = sorted(client.get_metric_histories([r.run_id for r in final.values()]),
                    key=lambda p: -p[1].timestamp)  # may be the trial's value
    for run_id, m in stored:
        if m.key == goals[0][0] and len(goals) == 1:
            history.setdefault(run_id, {})[m.step] = m.value
    trials = (_frozen_trial(record, [n for n, _ in goals], data.distributions,
                            history.get(record.run_id, {}))
              for _, record in sorted(final.items()))
    return goals, [t for t in trials if t is not None]


def export_sweep(client: Client, sweep: Run, url: str, study_name: str | None = None
                 ) -> Transfer:
    """Add a sweep's trials (the last attempt of each) to the optuna study `study_name`
    (default: the sweep's run name) in the storage at `url`, created when missing."""
    goals, trials = sweep_trials(client, sweep)
    name = study_name or sweep.info.run_name
    storage = open_storage(url, create=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = [StudyDirection[goal.upper()] for _, goal in goals]
    try:
        study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                    directions=directions)
    except ValueError as e:
        raise SweepsError(f"optuna study {name!r} in {url}: {e}") from None
    if study.directions != directions:
        raise SweepsError(f"optuna study {name!r} in {url} has directions "
                          f"{[d.name.lower() for d in study.directions]}, the sweep "
                          f"{[g for _, g in goals]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([n for n, _ in goals])
    done = {t.system_attrs.get(RUN_ID_ATTR) for t in study.get_trials(deepcopy=False)}
    todo = [t for t in trials if t.system_attrs[RUN_ID_ATTR] not in done]
    for trial in todo:
        study.add_trial(trial)
    return Transfer(len(todo), 0, sum(len(t.intermediate_values) for t in todo), name)


def _frozen_trial(record: records.TrialRecord, names: Sequence[str],
                  inferred: Mapping[str, BaseDistribution],
                  intermediate: dict[int, float]) -> FrozenTrial | None:
    """A stored attempt as an optuna trial; None for one that never started (QUEUED)."""
    if record.status is RunStatus.QUEUED:
        return None
    state = TRIAL_STATE[record.status]
    values: list[float] | None = [record.run.data.metrics.get(n, math.nan) for n in names]
    if not all(math.isfinite(v) for v in values or ()):  # a pruned trial's value is optional
        state, values = TrialState.FAIL if state is TrialState.COMPLETE else state, None
    if state not in (TrialState.COMPLETE, TrialState.PRUNED):
        values = None
    stored = from_json(record.run.data.tags.get(records.DISTRIBUTIONS, "{}"))
    distributions = {k: stored.get(k) or inferred[k] for k in record.params
                     if k in stored or k in inferred}
    info = record.run.info
    tags = record.run.data.tags
    start = dt.datetime.fromtimestamp(info.start_time / 1000)
    return FrozenTrial(
        number=record.number, state=state, value=None, values=values,
        datetime_start=start, datetime_complete=None if info.end_time is None or
        state is TrialState.RUNNING else dt.datetime.fromtimestamp(info.end_time / 1000),
        params={k: record.params[k] for k in distributions}, distributions=distributions,
        user_attrs={k.removeprefix(USER_ATTR_PREFIX): v for k, v in tags.items()
                    if not k.startswith(_USER_TAG_PREFIXES)},
        system_attrs={RUN_ID_ATTR: info.run_id},
        intermediate_values={k: v for k, v in intermediate.items() if math.isfinite(v)},
        trial_id=-1)
