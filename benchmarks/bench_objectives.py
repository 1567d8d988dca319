"""Objectives for the benchmarks (imported by worker processes from this folder)."""

from __future__ import annotations

import time


def trivial(params: dict, trial) -> float:
    value = params["x"] ** 2
    for step in range(10):
        trial.report({"loss": value + 1.0 / (step + 1)}, step=step)
    return value


def sleepy(params: dict) -> float:
    time.sleep(0.5)
    return params["x"]
