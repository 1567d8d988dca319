"""The Ray backend's overhead, against Ray Tune on the same local Ray runtime.

    python benchmarks/ray_overhead.py [--trials 300] [--tune-defaults]

Prints (a 2-core machine is the reference):
  - the start-up time of the local Ray runtime (loopback only), separately;
  (1) sweepbook: trials/s for trivial trials x 10 reported steps, 2 at a time, full tracking
      (on the actors a 4-trial warm-up sweep left);
  (2) Ray Tune (`tune.Tuner`, same objective, trial count and concurrency, default logging)
      with reuse_actors=True (its best setting), and with its defaults if --tune-defaults;
  (3) sweepbook: 16 trials sleeping 0.5 s on 2 slots, efficiency against the ideal 4.0 s,
      with new actors (cold) and with the actors the previous sweep left (warm pool);
  (4) the time from `sweeps.run` to its first trial's start: a first call (new actors) and
      the next call of the same process (the warm pool), medians of 3.
Targets: (1) >= 5x (2) and >= 75 trials/s; (3) >= 93 %; (4) the warm call well under the cold.
Every sweep runs on the script's own `ray.init` runtime, so a sweep's idle actors stay
pooled for the next one (see sweeps.backends.ray); `release_pool()` makes a sweep cold.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = 10


def trivial(params: dict, trial) -> float:
    """The trivial objective: ten reported steps, no work."""
    loss = 0.0
    for step in range(STEPS):
        loss = (params["x"] - 1.0) ** 2 + 1.0 / (step + 1)
        trial.report({"loss": loss}, step=step)
    return loss


def sleeper(params: dict) -> float:
    time.sleep(0.5)
    return params["x"]


def tune_trivial(config: dict) -> None:
    from ray import tune
    for step in range(STEPS):
        tune.report({"loss": (config["x"] - 1.0) ** 2 + 1.0 / (step + 1), "step": step})


def sweep_config(objective: str, trials: int) -> dict:
    return {"experiment": f"bench-{objective}", "objective": f"ray_overhead:{objective}",
            "metric": {"name": "loss" if objective == "trivial" else "x", "goal": "minimize"},
            "space": {"x": {"type": "float", "low": -3.0, "high": 3.0}},
            "sampler": {"type": "random", "seed": 0}, "budget": {"trials": trials},
            "execution": {"backend": "ray", "workers": 2}, "report": False}


def run_sweepbook(objective: str, trials: int, root: str, *, cold: bool = False
                  ) -> tuple[float, float]:
    """(wall seconds, seconds from the call to the first trial's start) of one sweep;
    `cold`: the warm pool is released first, so the sweep starts new actors."""
    import sweeps
    from sweeps.backends.ray import release_pool
    if cold:
        release_pool()
        time.sleep(0.5)  # ray.kill is asynchronous: let the actors' CPUs come back
    called = time.time()
    started = time.perf_counter()
    result = sweeps.run(sweep_config(objective, trials), tracking_uri=root, report=False)
    wall = time.perf_counter() - started
    trials_frame = result.trials
    done = int((trials_frame["status"] == "FINISHED").sum())
    assert done == trials, f"only {done} of {trials} trials finished"
    return wall, trials_frame["start_time"].min().timestamp() - called


def run_tune(trials: int, root: str, reuse_actors: bool | None) -> float:
    from ray import tune
    options = {} if reuse_actors is None else {"reuse_actors": reuse_actors}
    tuner = tune.Tuner(
        tune_trivial, param_space={"x": tune.uniform(-3.0, 3.0)},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=2,
                                    metric="loss", mode="min", **options),
        run_config=tune.RunConfig(storage_path=root, name=f"tune-{reuse_actors}", verbose=0))
    started = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - started
    assert len(results) == trials and not results.errors
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--tune-defaults", action="store_true",
                        help="also run Ray Tune with its default settings (slow)")
    args = parser.parse_args()
    os.chdir(HERE)  # objectives import as ray_overhead:... from here
    sys.path.insert(0, str(HERE.parent))
    warnings.filterwarnings("ignore")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    from sweeps.backends.ray import loopback_only, release_pool

    print(f"machine: {os.cpu_count()} CPUs; ray {ray.__version__}")
    started = time.perf_counter()
    with loopback_only():
        ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                 num_cpus=2, logging_level=logging.WARNING, log_to_driver=False)
    print(f"local Ray runtime start-up: {time.perf_counter() - started:.2f} s (not counted)")
    with tempfile.TemporaryDirectory(prefix="sweeps-bench-") as tmp:
        run_sweepbook("trivial", 4, f"{tmp}/warm")  # warm the workers' imports
        wall, _ = run_sweepbook("trivial", args.trials, f"{tmp}/runs")
        ours = args.trials / wall
        print(f"(1) sweepbook ray backend: {args.trials} trivial trials x {STEPS} steps, "
              f"2 at a time, full tracking: {wall:.2f} s = {ours:.1f} trials/s "
              f"(target >= 75)")
        settings = [True] + ([None] if args.tune_defaults else [])
        release_pool()  # the pooled actors hold the runtime's CPUs that Ray Tune needs
        for reuse in settings:
            label = "reuse_actors=True" if reuse else "defaults"
            tune_wall = run_tune(args.trials, f"{tmp}/tune", reuse)
            theirs = args.trials / tune_wall
            print(f"(2) Ray Tune tune.Tuner ({label}): {tune_wall:.2f} s = {theirs:.2f} "
                  f"trials/s; sweepbook is {ours / theirs:.1f}x (target >= 5x)")
        for label, cold in (("cold", True), ("warm pool", False)):
            wall, _ = run_sweepbook("sleeper", 16, f"{tmp}/sleep-{label}", cold=cold)
            print(f"(3) 16 x 0.5 s sleep trials on 2 slots, {label}: {wall:.2f} s against the "
                  f"ideal 4.0 s = {400 / wall:.0f} % efficiency (target >= 93 %)")
        firsts: dict[str, list[float]] = {"first call": [], "next call": []}
        for attempt in range(3):
            for label, cold in (("first call", True), ("next call", False)):
                _, first = run_sweepbook("trivial", 2, f"{tmp}/first-{label}-{attempt}",
                                         cold=cold)
                firsts[label].append(first)
        cold_s, warm_s = (statistics.median(firsts[k]) for k in ("first call", "next call"))
        print(f"(4) sweeps.run to the first trial's start: first call (new actors) "
              f"{cold_s * 1e3:.0f} ms, next call (warm pool) {warm_s * 1e3:.0f} ms = "
              f"{warm_s / cold_s:.2f}x")
    release_pool()
    ray.shutdown()


if __name__ == "__main__":
    main()
