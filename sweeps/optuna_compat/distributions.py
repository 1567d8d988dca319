"""Optuna distributions as they travel and are stored: JSON (optuna's own encoding), and a
suggestion drawn from one by a real optuna trial through its public `suggest_*` methods."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
    json_to_distribution,
)


def to_json(distributions: Mapping[str, BaseDistribution]) -> str:
    """`{name: distribution}` as the JSON text of the `trial.distributions` tag."""
    return json.dumps({k: json.loads(distribution_to_json(d)) for k, d in distributions.items()})


def from_json(text: str) -> dict[str, BaseDistribution]:
    """The inverse of `to_json`."""
    return {k: json_to_distribution(json.dumps(v)) for k, v in json.loads(text).items()}


def suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    """`trial`'s value for `name` from `distribution` (optuna's checks and messages)."""
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(name, distribution.low, distribution.high,
                                   step=distribution.step, log=distribution.log)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high,
                                 step=distribution.step, log=distribution.log)
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise ValueError(f"{name}: cannot suggest from a {type(distribution).__name__}")
