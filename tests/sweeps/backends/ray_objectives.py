"""Objectives for the Ray backend tests; imported on the Ray workers as `ray_objectives`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import sweeps
import tracking


def train(params: dict, trial: sweeps.Trial) -> dict:
    """Reports 5 steps, logs a param, a tag, a note and an artifact; prunes when asked."""
    x = params["x"]
    tracking.log_param("extra", "yes")
    trial.set_tag("where", os.environ.get("SWEEPS_TEST_NODE", "head"))
    trial.set_note(f"x was {x:.3f}")
    for step in range(5):
        trial.report({"loss": (x - 1.0) ** 2 + 1.0 / (step + 1)}, step=step)
        if trial.should_prune():
            raise sweeps.TrialPruned()
    out = Path(f"/tmp/sweeps-ray-artifact-{os.getpid()}.txt")
    out.write_text(f"x={x}\n")
    trial.log_artifact(out, "outputs")
    out.unlink()
    return {"loss": (x - 1.0) ** 2}


def flaky(params: dict, trial: sweeps.Trial) -> float:
    """Trial 1's first attempt kills its own worker process; trial 2 always raises."""
    if trial.number == 1 and trial.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    if trial.number == 2:
        raise ValueError("bad trial")
    return params["x"]


def _node_ip() -> str:
    import ray
    return ray.util.get_node_ip_address()


def sleepy(params: dict, trial: sweeps.Trial) -> float:
    """Sleeps params["sleep"] seconds (default 0.5) and tags where and when it ran; with
    params["marks"] (a folder), leaves a file there named after its node as it starts."""
    start = time.time()
    node = os.environ.get("SWEEPS_TEST_NODE", "head")
    marks = params.get("marks")
    if marks:
        Path(marks, f"{node}-{trial.number}-{trial.attempt}").touch()
    trial.set_tag("node", node)
    trial.set_tag("node_ip", _node_ip())
    time.sleep(float(params.get("sleep", 0.5)))
    trial.set_tag("span", f"{start:.4f},{time.time():.4f}")
    trial.set_tag("cuda", os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    return params["x"]


def big_artifact(params: dict, trial: sweeps.Trial) -> float:
    path = Path(f"/tmp/sweeps-ray-big-{os.getpid()}.bin")
    path.write_bytes(b"x" * 2000)
    try:
        trial.log_artifact(path)
    finally:
        path.unlink()
    return params["x"]
