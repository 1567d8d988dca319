"""Helpers for the W&B compatibility tests."""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from sweeps.compat.wandb_config import WandbFormatWarning, translate
from sweeps.space import Space


def wandb_file(parameters: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A small W&B sweep file (random search, run_cap set, so no notes are due)."""
    return {"method": "random", "metric": {"name": "loss"}, "run_cap": 5,
            "program": "train.py", "parameters": parameters, **top}


def draws(spec: dict[str, Any], n: int = 3000, *, expect_warning: bool = False) -> list[Any]:
    """`n` values of the W&B parameter `spec`, sampled through the translated space."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if expect_warning else "error", WandbFormatWarning)
        config = translate(wandb_file({"x": spec}))
    space = Space.from_mapping(config["space"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    return [space.suggest(study.ask())["x"] for _ in range(n)]
