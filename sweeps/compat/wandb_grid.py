"""W&B's grid (wandb/sweeps ``grid_search.py``): every combination in W&B's order, none twice.

The order is ``itertools.product`` over the sampled parameters in the space's declared
order, the last one varying fastest; `sweeps.compat.wandb_config` declares W&B's order
(names sorted at every nesting level). A combination already in the study (finished,
running, failed, enqueued, or added back on resume) is skipped, compared as W&B compares
runs: the YAML of each value, an integral float read as an int. optuna's `GridSampler`
draws its points in random order; this sampler is ``sampler: {type: wandb_grid}``.

    sampler = WandbGridSampler(space)
    study = optuna.create_study(sampler=sampler)   # trials walk the grid in order
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import yaml
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

from sweeps.compat.wandb_space import WandbParam
from sweeps.space import FixedParam, Param, Space

_GRID_ID = "wandb_grid_id"  # the trial's point: an optuna system attr, as GridSampler's


def yaml_hash(value: Any) -> str:
    """W&B's identity of a value (``grid_search.yaml_hash``): 3e6 and 3000000 are one."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return hashlib.md5(yaml.dump(value, default_flow_style=True, sort_keys=True)
                       .encode("ascii")).hexdigest()


class WandbGridSampler(BaseSampler):
    """The grid of `search_space` walked in order, skipping combinations already tried.

    Once every combination is in the study, a further trial repeats the first one (the
    sweep's budget stops at the grid's size, so a sweep never asks for it).
    """

    def __init__(self, search_space: Space, seed: int | None = None) -> None:
        """`seed` is accepted as every sampler's is; the order has no randomness."""
        self._params: tuple[Param, ...] = tuple(
            p for p in search_space if not isinstance(p, FixedParam))
        grid = search_space.grid()  # optuna names (a W&B index for lists), declared order
        self._names = tuple(grid)
        hashes = [[yaml_hash(_value(p, v)) for v in values]
                  for p, values in zip(self._params, grid.values(), strict=True)]
        self._points = list(itertools.product(*grid.values()))
        self._keys = list(itertools.product(*hashes))
        self._cursor = 0  # every point before it is in the study
        self._known: dict[int, tuple[str, ...] | None] = {}  # trial number -> its key

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        if _GRID_ID in trial.system_attrs or "fixed_params" in trial.system_attrs:
            return  # a retried or enqueued trial keeps its params
        seen = {self._key(t) for t in study.get_trials(deepcopy=False)
                if t.number != trial.number}
        while self._cursor < len(self._keys) and self._keys[self._cursor] in seen:
            self._cursor += 1
        index = self._cursor if self._cursor < len(self._keys) else 0
        study._storage.set_trial_system_attr(trial._trial_id, _GRID_ID, index)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if param_name not in self._names:
            raise ValueError(f"{param_name!r} is not a parameter of the grid "
                             f"({', '.join(self._names)})")
        return self._points[trial.system_attrs[_GRID_ID]][self._names.index(param_name)]

    def _key(self, trial: FrozenTrial) -> tuple[str, ...] | None:
        """The W&B identity of `trial`'s combination (None while it has no params yet)."""
        if trial.number in self._known:
            return self._known[trial.number]
        key: tuple[str, ...] | None = None
        if _GRID_ID in trial.system_attrs:
            key = self._keys[trial.system_attrs[_GRID_ID]]
        else:
            params = trial.system_attrs.get("fixed_params") or trial.params
            if all(name in params for name in self._names):
                key = tuple(yaml_hash(_value(p, params[name]))
                            for p, name in zip(self._params, self._names, strict=True))
        if key is not None:
            self._known[trial.number] = key
        return key


def _value(param: Param, value: Any) -> Any:
    """The value a W&B program sees for optuna's `value` of `param`."""
    return param.value(value) if isinstance(param, WandbParam) else value

