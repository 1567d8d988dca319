"""A quick objective with no extra dependencies: a noisy quadratic "trained" over steps.

Each step reports the loss so far; the pruner stops hopeless trials early.
"""

from __future__ import annotations

import math

import sweeps


def train(params: dict, trial: sweeps.Trial) -> dict:
    x, y = params["x"], params["y"]
    target = (x - 2.0) ** 2 + (y + 1.0) ** 2 + (0.5 if params["shape"] == "bowl" else 0.0)
    loss = target + 5.0
    for step in range(10):
        loss = target + 5.0 * math.exp(-params["lr"] * (step + 1))
        trial.report({"loss": loss}, step=step)
        if trial.should_prune():
            raise sweeps.TrialPruned()
    return {"loss": loss, "distance": math.hypot(x - 2.0, y + 1.0)}
