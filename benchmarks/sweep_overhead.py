"""Sweep engine overhead on this machine, against optuna alone (issue: sweep engine).

Prints (1) trials/s for 300 trials of a trivial objective reporting 10 steps each, 2 local
workers, random sampler, full tracking to SQLite; (2) the same workload with optuna alone,
in memory, n_jobs=2, nothing recorded; (3) wall time of 16 trials x sleep(0.5) on 2 workers
against the ideal 4.0 s.

    python benchmarks/sweep_overhead.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import optuna

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import sweeps  # noqa: E402
from bench_objectives import trivial  # noqa: E402

TRIALS = 300


def config(objective: str, trials: int) -> dict:
    return {"experiment": f"bench-{objective}", "objective": f"bench_objectives:{objective}",
            "metric": {"name": "loss", "goal": "minimize"},
            "space": {"x": {"type": "float", "low": -1.0, "high": 1.0}},
            "sampler": {"type": "random", "seed": 0}, "budget": {"trials": trials},
            "execution": {"workers": 2}, "report": False}


def sweep_rate(root: str) -> tuple[float, float]:
    """(trials/s from start to end, trials/s after the first trial started)."""
    marks: dict[str, float] = {}

    def on_progress(progress: sweeps.coordinator.Progress) -> None:
        if progress.running and "first" not in marks:
            marks["first"] = time.perf_counter()

    start = time.perf_counter()
    result = sweeps.run(config("trivial", TRIALS), tracking_uri=root, on_progress=on_progress)
    end = time.perf_counter()
    assert len(result.trials) == TRIALS and (result.trials["status"] == "FINISHED").all()
    return TRIALS / (end - start), TRIALS / (end - marks.get("first", start))


def optuna_rate() -> float:
    class Reporter:
        def __init__(self, trial: optuna.Trial) -> None:
            self.trial = trial

        def report(self, metrics: dict, step: int) -> None:
            self.trial.report(metrics["loss"], step)

    def objective(trial: optuna.Trial) -> float:
        return trivial({"x": trial.suggest_float("x", -1.0, 1.0)}, Reporter(trial))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS, n_jobs=2)
    return TRIALS / (time.perf_counter() - start)


def sleep_wall(root: str) -> float:
    start = time.perf_counter()
    sweeps.run(config("sleepy", 16), tracking_uri=root)
    return time.perf_counter() - start


def main() -> None:
    os.chdir(HERE)
    with tempfile.TemporaryDirectory() as folder:
        total, steady = sweep_rate(os.path.join(folder, "a"))
        alone = optuna_rate()
        wall = sleep_wall(os.path.join(folder, "b"))
    ratio = total / alone
    efficiency = 4.0 / wall
    rows = [
        ("(1) sweepbook, 300 trials x 10 steps, 2 workers, tracked", f"{total:,.0f} trials/s",
         ">= 300 trials/s", total >= 300),
        ("    the same, after worker start-up", f"{steady:,.0f} trials/s", "", None),
        ("(2) optuna alone, in memory, n_jobs=2", f"{alone:,.0f} trials/s", "", None),
        ("    (1) / (2)", f"{ratio:.0%}", ">= 40 %", ratio >= 0.40),
        ("    (1) after start-up / (2)", f"{steady / alone:.0%}", "", None),
        ("(3) 16 x sleep(0.5) on 2 workers", f"{wall:.2f} s (ideal 4.0 s)",
         "efficiency >= 95 %", efficiency >= 0.95),
        ("    parallel efficiency", f"{efficiency:.1%}", "", None),
    ]
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{name:<58} {value:>24}  {target:<20} {verdict}")


if __name__ == "__main__":
    main()
