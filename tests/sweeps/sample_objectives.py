"""Objectives for the engine tests: each misbehaves in one documented way.

Tests copy this file into a temporary project folder and run sweeps from there.
"""

from __future__ import annotations

import ctypes
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sweeps
import tracking


def quick(params: dict) -> dict:
    return {"loss": (params["x"] - 1.0) ** 2, "aux": params["x"]}


def stepwise(params: dict, trial: sweeps.Trial) -> float:
    """Ten steps; bad x values stay high, so the median pruner stops them."""
    loss = 10.0
    for step in range(10):
        loss = (params["x"] - 1.0) ** 2 + 1.0 / (step + 1)
        trial.report({"loss": loss}, step=step)
        if trial.should_prune():
            raise sweeps.TrialPruned()
    return loss


def crashes(params: dict) -> float:
    """Fails in the way `params["kind"]` names."""
    kind = params["kind"]
    if kind == "raise":
        raise ValueError("<b>bad</b> value for x")
    if kind == "exit":
        sys.exit(3)
    if kind == "os_exit":
        os._exit(7)
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "sigkill":  # what the OOM killer does
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "nan":
        return math.nan
    if kind == "wrong_type":
        return "high"  # type: ignore[return-value]
    return 1.0


def hangs(params: dict) -> float:
    if params["x"] > 0.5:
        time.sleep(120)
    return params["x"]


def flaky(params: dict, trial: sweeps.Trial) -> float:
    """Fails on the first attempt of every trial, succeeds on the retry."""
    if trial.attempt == 1:
        raise RuntimeError(f"transient failure of trial {trial.number}")
    return params["x"]


def always_fails(params: dict) -> float:
    raise RuntimeError("always")


def leaves_a_child_and_dies(params: dict) -> float:
    """Starts `sleep 300`, notes its pid in `params["pid_file"]`, and kills its worker."""
    child = subprocess.Popen(["sleep", "300"])
    with open(params["pid_file"], "a") as handle:
        handle.write(f"{child.pid}\n")
    os._exit(5)


def first_succeeds(params: dict, trial: sweeps.Trial) -> float:
    """Trial 0 completes; every later one fails."""
    if trial.number > 0:
        raise RuntimeError("always")
    return params["x"]


def fails_differently(params: dict, trial: sweeps.Trial) -> float:
    """Fails with another kind of error in each of four trials in a row."""
    raise (ValueError, TypeError, KeyError, OSError)[trial.number % 4]("no luck")


def slow(params: dict) -> float:
    time.sleep(float(os.environ.get("SAMPLE_SLEEP", "0.3")))
    return (params["x"] - 1.0) ** 2


def fluent(params: dict) -> None:
    """An ordinary training script: logs only through the fluent API, returns nothing."""
    with tracking.start_run():
        tracking.log_param("optimizer", "adam")
        for step in range(3):
            tracking.log_metric("loss", params["x"] + 1.0 / (step + 1), step=step)
        with tempfile.TemporaryDirectory() as folder:  # trials share the project folder
            model = Path(folder, "model.txt")
            model.write_text(f"weights for x={params['x']}")
            tracking.log_artifact(model, "models")
        tracking.log_dict({"x": params["x"]}, "config/params.json")
        tracking.set_tag("dataset", "v2.1")
        tracking.set_note("baseline; next: tune depth")


def gpu_info(params: dict) -> float:
    tracking.set_tag("cuda_visible_devices", os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    return 0.0


CURVE = (3.0, 1.0, 2.0, 5.0)  # what `curve` adds to x at each step: its best loss is at step 1


def curve(params: dict, trial: sweeps.Trial) -> None:
    """Reports loss x + CURVE[step] at four steps and acc 1 - x/10 once; returns nothing,
    so the last reported values are its final ones."""
    for step, bump in enumerate(CURVE):
        trial.report({"loss": params["x"] + bump}, step=step)
    trial.report({"acc": 1.0 - params["x"] / 10}, step=len(CURVE) - 1)
