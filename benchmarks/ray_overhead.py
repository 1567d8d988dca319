"""The Ray backend's overhead, against Ray Tune on the same local Ray runtime.

    python benchmarks/ray_overhead.py [--trials 300] [--tune-defaults]

Prints (a 2-core machine is the reference):
  - the start-up time of the local Ray runtime (loopback only), separately;
  (1) sweepbook: trials/s for trivial trials x 10 reported steps, 2 at a time, full tracking
      (on the actors a 4-trial warm-up sweep left);
  (2) Ray Tune (`tune.Tuner`, same objective, trial count and concurrency, default logging)
      with reuse_actors=True (its best setting), and with its defaults if --tune-defaults;
  (3) sweepbook: 16 trials sleeping 0.5 s on 2 slots, efficiency against the ideal 4.0 s,
      with new actors (cold) and with the actors the previous sweep left (warm pool),
      beside Ray itself: the same 16 sleeps as calls on 2 new bare actors (`Bare`, the
      backend's actor options, no runtime_env), counted from their creation; medians of 3,
      Ray's runs and sweepbook's in turn;
  (4) the time from `sweeps.run` to its first trials' start (the first, then both slots): a
      first call (new actors) and the next call of the same process (the warm pool), beside
      Ray itself: from creating 2 bare actors to both first calls returning; medians of 3.
Targets: (1) >= 5x (2) and >= 75 trials/s; (3) >= 93 %, or Ray's own figure where that is
lower; (4) the warm call well under the cold, the cold one within a few ms of Ray's.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STEPS = 10
SLEEP = 0.5  # seconds each trial of (3) sleeps


def trivial(params: dict, trial) -> float:
    """The trivial objective: ten reported steps, no work."""
    loss = 0.0
    for step in range(STEPS):
        loss = (params["x"] - 1.0) ** 2 + 1.0 / (step + 1)
        trial.report({"loss": loss}, step=step)
    return loss


def sleeper(params: dict) -> float:
    time.sleep(SLEEP)
    return params["x"]


class Bare:
    """Ray's own floor: a bare actor, one method."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


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
                  ) -> tuple[float, float, float]:
    """(wall seconds, seconds from the call to the first trial's start, to the second's) of
    one sweep; `cold`: the warm pool is released first, so the sweep starts new actors."""
    import sweeps
    if cold:
        make_cold()
    called = time.time()
    started = time.perf_counter()
    result = sweeps.run(sweep_config(objective, trials), tracking_uri=root, report=False)
    wall = time.perf_counter() - started
    trials_frame = result.trials
    done = int((trials_frame["status"] == "FINISHED").sum())
    assert done == trials, f"only {done} of {trials} trials finished"
    first, second = sorted(trials_frame["start_time"])[:2]
    return wall, first.timestamp() - called, second.timestamp() - called


def make_cold() -> None:
    """No actor left: the warm pool released, and its CPUs back."""
    from sweeps.backends.ray import release_pool
    release_pool()
    time.sleep(0.5)  # ray.kill is asynchronous: let the actors' CPUs come back


def run_bare(bare: Any, calls: int, seconds: float) -> float:
    """Ray itself: seconds from creating 2 new actors of `bare` (`Bare` as a Ray actor class)
    to the last of `calls` calls sleeping `seconds` returning; a call is sent to an actor as
    soon as its last one returned, as the backend sends trials."""
    import ray
    make_cold()
    started = time.perf_counter()
    actors = [bare.remote() for _ in range(2)]
    running = {actor.sleep.remote(seconds): actor for actor in actors[:calls]}
    sent = len(running)
    while running:
        [done], _ = ray.wait(list(running))
        actor = running.pop(done)
        ray.get(done)
        if sent < calls:
            running[actor.sleep.remote(seconds)] = actor
            sent += 1
    wall = time.perf_counter() - started
    for actor in actors:
        ray.kill(actor, no_restart=True)
    return wall


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


def alternating(attempts: int, first: Callable[[], Any], second: Callable[[], Any]) -> None:
    """`first` then `second`, the other way round the next time, `attempts` times: what ran
    just before a run slows it (the workers of its actors still exiting)."""
    for attempt in range(attempts):
        for run in (first, second) if attempt % 2 == 0 else (second, first):
            run()


def efficiency(wall: float) -> str:
    """`wall` seconds of (3) against the ideal (16 sleeps, 2 at a time)."""
    return f"{wall:.2f} s = {800 * SLEEP / wall:.0f} %"


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

    from sweeps.backends.ray import actor_options, loopback_only, ray_request, release_pool

    print(f"machine: {os.cpu_count()} CPUs; ray {ray.__version__}; load average "
          f"{os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    with loopback_only():
        ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                 num_cpus=2, logging_level=logging.WARNING, log_to_driver=False)
    print(f"local Ray runtime start-up: {time.perf_counter() - started:.2f} s (not counted)")
    with tempfile.TemporaryDirectory(prefix="sweeps-bench-") as tmp:
        run_sweepbook("trivial", 4, f"{tmp}/warm")  # warm the workers' imports
        wall, _, _ = run_sweepbook("trivial", args.trials, f"{tmp}/runs")
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
        # the backend's actor options; the class made once, as the backend makes its own
        bare = ray.remote(Bare).options(**actor_options(ray_request({})))
        walls: dict[str, list[float]] = {"ray": [], "cold": [], "warm": []}

        def sleeps() -> None:
            for label, cold in (("cold", True), ("warm", False)):
                root = f"{tmp}/sleep-{label}-{len(walls[label])}"
                walls[label].append(run_sweepbook("sleeper", 16, root, cold=cold)[0])

        alternating(3, lambda: walls["ray"].append(run_bare(bare, 16, SLEEP)), sleeps)
        ray_s, cold_s, warm_s = (statistics.median(walls[k]) for k in ("ray", "cold", "warm"))
        print(f"(3) 16 x {SLEEP:g} s sleep trials on 2 slots against the ideal "
              f"{8 * SLEEP:.1f} s (target >= 93 %): cold {efficiency(cold_s)}, warm pool "
              f"{efficiency(warm_s)}; Ray itself, 2 new bare actors: {efficiency(ray_s)}")
        firsts: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
        bare_up: list[float] = []

        def first_trials() -> None:
            for label, cold in (("cold", True), ("warm", False)):
                root = f"{tmp}/first-{label}-{len(firsts[label])}"
                firsts[label].append(run_sweepbook("trivial", 2, root, cold=cold)[1:])

        alternating(3, lambda: bare_up.append(run_bare(bare, 2, 0.0)), first_trials)
        (cold_1, cold_2), (warm_1, warm_2) = (
            [statistics.median(starts[i] for starts in firsts[k]) for i in (0, 1)]
            for k in ("cold", "warm"))
        print(f"(4) sweeps.run to its first trials' start (first, both slots): first call (new "
              f"actors) {cold_1 * 1e3:.0f}, {cold_2 * 1e3:.0f} ms; next call (warm pool) "
              f"{warm_1 * 1e3:.0f}, {warm_2 * 1e3:.0f} ms = {warm_2 / cold_2:.2f}x; Ray "
              f"itself, 2 new bare actors to both first calls back: "
              f"{statistics.median(bare_up) * 1e3:.0f} ms")
    release_pool()
    ray.shutdown()


if __name__ == "__main__":
    main()
