"""W&B's hyperband early termination (wandb/sweeps ``hyperband_stopping.py``) as a pruner.

    pruner = WandbHyperbandPruner(min_iter=3, eta=3)     # bands 3, 9, 27, ...
    pruner = WandbHyperbandPruner(max_iter=27, s=2)      # bands 3, 9

A trial's iteration is the number of values it has reported (not the step). At the highest
band ``b`` a trial has reached, the threshold is, over every trial of the study (running or
ended) with at least ``b`` values, the value at index ``b - 1`` (negated when maximizing),
sorted, at position ``int(n / eta)``. The trial stops when its value at band ``b``
(``strict``, the default) or the best of its values (``strict: false``) is above it.
"""

from __future__ import annotations

import math

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection


def hyperband_bands(*, min_iter: int | None = None, max_iter: int | None = None,
                    s: int | None = None, eta: float = 3) -> list[int]:
    """The bands, computed exactly as W&B does (max_iter itself is never a band).

        hyperband_bands(max_iter=27, s=2, eta=3)   # [3, 9]
    """
    if eta <= 1:
        raise ValueError(f"eta must be > 1, got {eta}")
    if min_iter is not None:
        if max_iter is not None or s is not None:
            raise ValueError("give min_iter, or max_iter and s, not both")
        if min_iter < 1:
            raise ValueError(f"min_iter must be >= 1, got {min_iter}")
        bands, band = [], float(min_iter)
        for _ in range(100):
            bands.append(int(band))
            band *= eta
        return bands
    if max_iter is None or s is None:
        raise ValueError("needs min_iter, or both max_iter and s")
    bands, band = [], float(max_iter)
    for _ in range(s):
        band /= eta
        if band < 1:
            break
        bands.append(int(band))
    if not bands:
        raise ValueError("no bands: increase s or max_iter, or decrease eta")
    return sorted(bands)


class WandbHyperbandPruner(BasePruner):
    """Stops trials below W&B's hyperband thresholds (see the module docstring)."""

    def __init__(self, min_iter: int | None = None, max_iter: int | None = None,
                 s: int | None = None, eta: float = 3, strict: bool = True) -> None:
        self.bands = hyperband_bands(min_iter=min_iter, max_iter=max_iter, s=s, eta=eta)
        self.eta = eta
        self.strict = strict

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        """Whether `trial` stops now."""
        sign = -1.0 if study.direction is StudyDirection.MAXIMIZE else 1.0
        history = _history(trial, sign)
        reached = [band for band in self.bands if band <= len(history)]
        if not reached:
            return False
        band = reached[-1]
        values = sorted(h[band - 1] for h in (_history(t, sign) for t in
                                              study.get_trials(deepcopy=False))
                        if len(h) >= band)
        threshold = values[int(1.0 / self.eta * len(values))]
        condition = history[band - 1] if self.strict else min(history)
        return condition > threshold


def _history(trial: optuna.trial.FrozenTrial, sign: float) -> list[float]:
    """The trial's reported values in step order, finite ones only, times `sign`."""
    return [sign * value for _step, value in sorted(trial.intermediate_values.items())
            if math.isfinite(value)]
