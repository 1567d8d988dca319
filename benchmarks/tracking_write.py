"""Write and search speed of the tracking store, against the targets in the issue.

    python benchmarks/tracking_write.py            # the table, on a SQLite store
    python benchmarks/tracking_write.py --profile  # and a cProfile of each case
    python benchmarks/tracking_write.py --uri postgresql://me@localhost/bench  # any store

Without --uri everything is written to a temporary folder that is removed afterwards; with
it, experiments with fresh names are added to that store (and left there).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import tracking
from tracking import Client, Metric, Param

INDIVIDUAL_POINTS = 2_000
BATCH_POINTS = 10_000
PARAMS = 100
SEARCH_RUNS, SEARCH_PARAMS, SEARCH_METRICS = 1_000, 20, 5


def individual_log_metric(uri: str, name: str) -> float:
    """points/s: 2,000 tracking.log_metric calls with steps, end_run's flush included."""
    tracking.set_tracking_uri(uri)
    tracking.set_experiment(f"{name}-individual")
    run = tracking.start_run(capture_environment=False)
    began = time.perf_counter()
    for step in range(INDIVIDUAL_POINTS):
        tracking.log_metric("loss", 1.0 / (step + 1), step=step)
    tracking.end_run()
    elapsed = time.perf_counter() - began
    history = Client(uri).get_metric_history(run.info.run_id, "loss")
    assert len(history) == INDIVIDUAL_POINTS
    return INDIVIDUAL_POINTS / elapsed


def batched_log_batch(uri: str, name: str) -> float:
    """points/s: one Client.log_batch of 10,000 points."""
    client = Client(uri)
    run_id = client.create_run(client.create_experiment(f"{name}-batch")).info.run_id
    now = int(time.time() * 1000)
    points = [Metric(f"m{i % 10}", random.random(), now, i // 10) for i in range(BATCH_POINTS)]
    began = time.perf_counter()
    client.log_batch(run_id, metrics=points)
    elapsed = time.perf_counter() - began
    assert len(client.get_metric_history(run_id, "m0")) == BATCH_POINTS // 10
    return BATCH_POINTS / elapsed


def log_params(uri: str, name: str) -> float:
    """seconds: tracking.log_params of 100 params."""
    tracking.set_tracking_uri(uri)
    tracking.set_experiment(f"{name}-params")
    with tracking.start_run(capture_environment=False) as run:
        params = {f"param_{i}": i * 0.5 for i in range(PARAMS)}
        began = time.perf_counter()
        tracking.log_params(params)
        elapsed = time.perf_counter() - began
    assert len(tracking.get_run(run.info.run_id).data.params) == PARAMS
    return elapsed


def build_search_store(uri: str, name: str) -> None:
    client = Client(uri)
    experiment_id = client.create_experiment(f"{name}-search")
    rng = random.Random(0)
    for i in range(SEARCH_RUNS):
        run_id = client.create_run(experiment_id, run_name=f"run-{i}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(f"metric_{k}", rng.random(), 0, 0) for k in range(SEARCH_METRICS)],
            params=[Param("model", rng.choice(["rf", "svm", "mlp"]))]
            + [Param(f"param_{k}", rng.randint(0, 100)) for k in range(SEARCH_PARAMS - 1)],
        )
        client.set_terminated(run_id)


def search(uri: str, name: str) -> float:
    """seconds: fluent search_runs over 1,000 runs x 20 params x 5 metrics, to a DataFrame."""
    tracking.set_tracking_uri(uri)
    began = time.perf_counter()
    frame = tracking.search_runs(experiment_names=[f"{name}-search"],
                                 filter_string="params.model = 'rf' and metrics.metric_0 > 0.1",
                                 order_by=["metrics.metric_1 DESC"])
    elapsed = time.perf_counter() - began
    assert 200 < len(frame) < 400, len(frame)
    return elapsed


FIRST_CALL_CHILD = """
import time
began = time.process_time()
import tracking
tracking.log_metric("loss", 0.5)
print(time.process_time() - began)
"""


def first_call(uri: str, _name: str) -> float:
    """CPU seconds of `import tracking` plus a first log_metric (which starts a run and
    captures the environment) in a fresh process: the median of 5, after a run that
    compiles the bytecode (into a temporary folder, so PYTHONDONTWRITEBYTECODE=1 in the
    environment, which would make every run compile from source, does not count)."""
    with tempfile.TemporaryDirectory(prefix="first-call-") as tmp:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp, "pycache")),
               "SWEEPS_TRACKING_URI": uri}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        seconds = [float(subprocess.run([sys.executable, "-c", FIRST_CALL_CHILD], cwd=tmp,
                                        env=env, check=True, capture_output=True,
                                        text=True).stdout) for _ in range(6)]
    return statistics.median(seconds[1:])


POSTGRES_LOG_BATCH_TARGET = 100_000  # the target for a server store

CASES: list[tuple[str, Callable[[str, str], float], str, float, bool]] = [
    # name, function, unit, target, higher is better
    ("log_metric x 2,000 (fluent, with end_run)", individual_log_metric, "points/s", 50_000, True),
    ("log_batch of 10,000 points", batched_log_batch, "points/s", 300_000, True),
    ("log_params of 100 params", log_params, "s", 0.05, False),
    ("search_runs over 1,000 runs (DataFrame)", search, "s", 0.3, False),
    ("import tracking + first log_metric (CPU)", first_call, "s", 0.05, False),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each case")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--uri", help="the store to measure (default: a temporary SQLite "
                        "folder); anything tracking.set_tracking_uri takes")
    args = parser.parse_args()
    failed = False
    rows = []
    with tempfile.TemporaryDirectory(prefix="tracking-bench-") as tmp:
        uri = args.uri or str(Path(tmp, "store"))
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        build_search_store(uri, prefix)
        for name, function, unit, target, higher in CASES:
            results = []
            for attempt in range(args.repeat):
                run_name = prefix if function is search else f"{prefix}-{attempt}"
                if args.profile and attempt == 0:
                    profile = cProfile.Profile()
                    profile.enable()
                    function(uri, prefix if function is search else f"{prefix}-profiled")
                    profile.disable()
                    print(f"--- {name}")
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(15)
                results.append(function(uri, run_name))
            best = max(results) if higher else min(results)
            if function is batched_log_batch and uri.startswith("postgres"):
                target = POSTGRES_LOG_BATCH_TARGET
            ok = best >= target if higher else best <= target
            failed |= not ok
            rows.append((name, best, unit, target, higher, ok))
    print(f"store: {uri if args.uri else 'SQLite, in a temporary folder'}")
    print(f"{'case':45} {'result':>14} {'target':>14}  verdict")
    for name, best, unit, target, higher, ok in rows:
        shown = f"{best:,.0f} {unit}" if unit != "s" else f"{best:.4f} s"
        wanted = (f">= {target:,.0f}" if higher else f"<= {target:g} s")
        print(f"{name:45} {shown:>14} {wanted:>14}  {'PASS' if ok else 'FAIL'}")
    print("(best of", args.repeat, "runs; the 100-params target is this script's own, not the"
          " issue's)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
