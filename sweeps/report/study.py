"""A read-only optuna study over a sweep's stored trials, for optuna.visualization.

optuna's in-memory storage deep-copies every trial when it is added and again on every
read of `study.trials`; at thousands of trials that copying is most of a figure's cost.
`FrozenStudy` holds already frozen trials and hands them out as they are (the figure
functions only read them). Text that ends up in a figure (param names, categorical
choices, metric and study names) is HTML-escaped here, because plotly renders a small
HTML subset in labels, legends and hover text.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import warnings
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from sweeps.optimizer import TRIAL_STATE
from sweeps.report.data import SweepData
from tracking import RunStatus


def plot_text(value: Any) -> str:
    """A user string made safe for plotly's label mini-HTML (shown literally)."""
    return html.escape(str(value), quote=True)


class FrozenStudy(optuna.Study):
    """An optuna Study whose trials are a fixed list (see the module docstring)."""

    def __init__(self, name: str, directions: Sequence[str], trials: list[FrozenTrial]) -> None:
        storage = InMemoryStorage()
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "a new study created"
        try:
            storage.create_new_study([StudyDirection[d.upper()] for d in directions], name)
        finally:
            optuna.logging.set_verbosity(level)
        super().__init__(study_name=name, storage=storage)
        self._frozen = trials

    def get_trials(self, deepcopy: bool = True,
                   states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        if states is None:
            return list(self._frozen)
        return [t for t in self._frozen if t.state in states]

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    @property
    def best_trial(self) -> FrozenTrial:
        if self._is_multi_objective():
            raise RuntimeError("best_trial is for single-objective studies")
        complete = self.get_trials(states=(TrialState.COMPLETE,))
        if not complete:
            raise ValueError("no trials are completed yet")
        pick = min if self.direction is StudyDirection.MINIMIZE else max
        return pick(complete, key=lambda t: t.value)


def _display_distribution(dist: BaseDistribution) -> BaseDistribution:
    if isinstance(dist, CategoricalDistribution):
        return CategoricalDistribution([_display_value(c) for c in dist.choices])
    return dist


def _display_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return plot_text(value)


def _shown_value(value: Any, dist: BaseDistribution) -> Any:
    """`value` as the figures show it, or None where the trial has no value that `dist`
    holds (an inactive conditional param, a value out of range)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    value = _display_value(value)
    if isinstance(dist, (FloatDistribution, IntDistribution)) and isinstance(value, bool):
        return None
    if isinstance(dist, IntDistribution) and isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    try:
        return value if dist._contains(dist.to_internal_repr(value)) else None
    except (ValueError, TypeError):
        return None


def _shown_column(values: list[Any], dist: BaseDistribution) -> list[Any]:
    """`_shown_value` of each trial's value (a categorical's choices worked out once each)."""
    if not isinstance(dist, CategoricalDistribution):
        return [_shown_value(v, dist) for v in values]
    memo: dict[str, Any] = {}
    out = []
    for value in values:
        key = repr(value)
        if key not in memo:
            memo[key] = _shown_value(value, dist)
        out.append(memo[key])
    return out


def to_study(data: SweepData, numbers: Sequence[int] | None = None, *,
             name: str | None = None) -> FrozenStudy:
    """A FrozenStudy of the sweep's final attempts (only `numbers`, when given)."""
    final = data.final
    if numbers is not None:
        final = final[final["number"].isin(list(numbers))]
    goals = data.goals
    distributions = {p: _display_distribution(d) for p, d in data.distributions.items()}
    shown = {p: plot_text(p) for p in distributions}
    trials = []
    columns = [(shown[p], dist, _shown_column(final[f"params.{p}"].tolist(), dist))
               for p, dist in distributions.items()]
    metrics = [final[f"metrics.{m}"].tolist() if f"metrics.{m}" in final else
               [math.nan] * len(final) for m, _ in goals]
    for i, (number, status, start, end) in enumerate(zip(
            final["number"].tolist(), final["status"].tolist(), final["start_ms"].tolist(),
            final["end_ms"].tolist(), strict=True)):
        state = TRIAL_STATE.get(RunStatus(status), TrialState.FAIL)
        values = [m[i] for m in metrics]
        if state is TrialState.COMPLETE and not all(
                isinstance(v, float) and math.isfinite(v) for v in values):
            state = TrialState.FAIL
        params: dict[str, Any] = {}
        dists: dict[str, BaseDistribution] = {}
        for param, dist, column in columns:
            if column[i] is not None:
                params[param], dists[param] = column[i], dist
        started = dt.datetime.fromtimestamp(start / 1000)
        ended = (dt.datetime.fromtimestamp(end / 1000)
                 if state is not TrialState.RUNNING and end == end and end is not None
                 else (None if state is TrialState.RUNNING else started))
        trials.append(FrozenTrial(
            number=int(number), state=state, value=None, datetime_start=started,
            datetime_complete=ended, params=params, distributions=dists, user_attrs={},
            system_attrs={}, intermediate_values={}, trial_id=int(number),
            values=values if state is TrialState.COMPLETE else None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return FrozenStudy(plot_text(name or data.label), [g for _, g in goals], trials)
