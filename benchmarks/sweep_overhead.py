"""Sweep engine overhead on this machine, against optuna alone (issue: sweep engine).

Prints (1) trials/s for 300 trials of a trivial objective reporting 10 steps each, 2 local
workers, random sampler, full tracking to SQLite, as the first sweep of this process (its
worker template starts cold) and as a later one (the template the last sweep left, see
`sweeps.backends.forkserver`); (2) the same workload with optuna alone, in memory, n_jobs=2,
nothing recorded; (3) wall time of 16 trials x sleep(0.5) on 2 workers against the ideal
4.0 s, as a later sweep here and as the first sweep of a fresh process; (4) the time from
`sweeps.run` to the first trial's start, next to what starting the worker template alone
takes, and from the last trial's end to the return; (5) the coordinator's CPU time per
trial at 300 and 3,000 trials, next to optuna's own ask/report/tell for the same trials;
(1) is also run written define-by-run
(`sweeps.create_study`), whose suggest round trips must cost at most 20 %. Every ratio is
of figures measured in this run; the load average is printed with them.

    python benchmarks/sweep_overhead.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_objectives import trivial  # noqa: E402

import sweeps  # noqa: E402
import tracking  # noqa: E402

TRIALS = 300
MANY = 3000


def config(objective: str, trials: int) -> dict:
    return {"experiment": f"bench-{objective}", "objective": f"bench_objectives:{objective}",
            "metric": {"name": "loss", "goal": "minimize"},
            "space": {"x": {"type": "float", "low": -1.0, "high": 1.0}},
            "sampler": {"type": "random", "seed": 0}, "budget": {"trials": trials},
            "execution": {"workers": 2}, "report": False}


def sweep_rate(root: str, trials: int = TRIALS) -> dict[str, float]:
    """trials/s from start to end and after the first trial started; seconds from
    `sweeps.run` to the first trial's start; the coordinator's CPU seconds per trial."""
    start, cpu = time.time(), time.process_time()
    result = sweeps.run(config("trivial", trials), tracking_uri=root)
    end, cpu = time.time(), time.process_time() - cpu
    frame = result.trials
    assert len(frame) == trials and (frame["status"] == "FINISHED").all()
    first = frame["start_time"].min().timestamp()
    return {"rate": trials / (end - start), "steady": trials / (end - first),
            "first": first - start, "cpu": cpu / trials,
            "tail": end - frame["end_time"].max().timestamp(),
            "settled": settled_rate([t.timestamp() for t in frame["end_time"]])}


def settled_rate(ends: list[float], skip: int = 10) -> float:
    """trials/s once the first `skip` trials ended (each fresh worker's first trial, which
    imports the objective's modules, left out); NaN for a sweep that short."""
    ends = sorted(ends)
    if len(ends) <= skip or ends[-1] <= ends[skip - 1]:
        return float("nan")
    return (len(ends) - skip) / (ends[-1] - ends[skip - 1])


def first_start(root: str, repeats: int = 3) -> float:
    """Median seconds from `sweeps.run` to the first trial's start, in a process that ran
    a sweep before (the coordinator's own first-use imports left out, its template warm)."""
    times = sorted(sweep_rate(os.path.join(root, str(i)), 2)["first"] for i in range(repeats))
    return times[len(times) // 2]


def template_start() -> float:
    """Seconds from starting a worker template to its first forked worker (Linux)."""
    from sweeps.backends.forkserver import ForkServer, server_env
    start = time.perf_counter()
    server = ForkServer(server_env())
    ours, theirs = socket.socketpair()
    with ours, theirs:
        server.fork("probe", {}, theirs.fileno()).pid  # noqa: B018 - waits for the fork
        took = time.perf_counter() - start
    server.close()
    return took


def optuna_cpu(trials: int) -> float:
    """CPU seconds per trial of optuna's own ask, 10 reports and tell, in memory."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.NopPruner())  # the config's: none
    cpu = time.process_time()
    for _ in range(trials):
        trial = study.ask()
        value = trial.suggest_float("x", -1.0, 1.0) ** 2
        for step in range(10):
            trial.report(value + 1.0 / (step + 1), step)
        study.tell(trial, value)
    return (time.process_time() - cpu) / trials


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


def define_by_run(trial: optuna.Trial) -> float:
    """The trivial workload written define-by-run: its param is a suggest round trip."""
    value = trial.suggest_float("x", -1.0, 1.0) ** 2
    for step in range(10):
        trial.report(value + 1.0 / (step + 1), step)
    return value


def define_by_run_rate(root: str) -> dict[str, float]:
    """trials/s of (1)'s workload through `sweeps.create_study(...).optimize`, from start to
    end and once the first 10 trials ended (a later one of these sweeps is compared with
    (1)'s later sweep: both without the first-use imports of their kind)."""
    study = sweeps.create_study(sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.NopPruner(),  # the config's: none
                                study_name="bench-define-by-run", tracking_uri=root)
    start = time.perf_counter()
    study.optimize(define_by_run, n_trials=TRIALS, n_jobs=2)
    took = time.perf_counter() - start
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == TRIALS
    client = tracking.Client(root)
    sweep = client.get_run(study.sweep_run_id)
    ends = [r.info.end_time / 1000 for r in client.search_runs(
        [sweep.info.experiment_id], f"attributes.parent_run_id = '{study.sweep_run_id}'")]
    return {"rate": TRIALS / took, "settled": settled_rate(ends)}


def sleep_wall(root: str) -> float:
    start = time.perf_counter()
    sweeps.run(config("sleepy", 16), tracking_uri=root)
    return time.perf_counter() - start


def cold_sleep_wall(root: str) -> float:
    """(3) as the first sweep of a fresh process whose engine is imported (`sweeps.api`,
    optuna): its worker template starts cold."""
    code = (f"import sys; sys.path[:0] = {[str(HERE.parent), str(HERE)]!r}; "
            "import sweeps.api, sweep_overhead; "
            f"print(sweep_overhead.sleep_wall({root!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True,
                         text=True, check=True).stdout
    return float(out.split()[-1])


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    os.chdir(HERE)
    print(f"{os.cpu_count()} cores, {load()} (at the start)")
    if sys.dont_write_bytecode:
        print("PYTHONDONTWRITEBYTECODE is set: no bytecode is cached, so every process (the "
              "worker template too) compiles what it imports; for a user's figures unset it "
              "(PYTHONPYCACHEPREFIX=/tmp/pyc keeps the cache out of the checkout)")
    with tempfile.TemporaryDirectory() as folder:
        few = sweep_rate(os.path.join(folder, "a"))
        warm = sweep_rate(os.path.join(folder, "a2"))
        alone = optuna_rate()
        define_by_run_rate(os.path.join(folder, "e0"))  # its first-use imports, as (1)'s
        by_run = define_by_run_rate(os.path.join(folder, "e"))  # a later sweep, like warm
        wall = sleep_wall(os.path.join(folder, "b"))
        cold_wall = cold_sleep_wall(os.path.join(folder, "b2"))
        template = template_start() if sys.platform == "linux" else float("nan")
        warm_first = first_start(os.path.join(folder, "d"))
        many = sweep_rate(os.path.join(folder, "c"), MANY)
    own_few, own_many = optuna_cpu(TRIALS), optuna_cpu(MANY)
    total, steady = few["rate"], few["steady"]
    ratio = total / alone
    efficiency, cold_efficiency = 4.0 / wall, 4.0 / cold_wall
    marginal = (many["cpu"] * MANY - few["cpu"] * TRIALS) / (MANY - TRIALS)
    rows = [
        ("(1) sweepbook, 300 trials x 10 steps, 2 workers, tracked", f"{total:,.0f} trials/s",
         ">= 300 trials/s", total >= 300),
        ("    the same, after worker start-up", f"{steady:,.0f} trials/s", "", None),
        ("    the same, a later sweep (warm template)", f"{warm['rate']:,.0f} trials/s",
         ">= 300 trials/s", warm["rate"] >= 300),
        ("    the same define-by-run (sweeps.create_study), a later sweep",
         f"{by_run['rate']:,.0f} trials/s", ">= 80 % of the later sweep",
         by_run["rate"] >= 0.8 * warm["rate"]),
        ("    define-by-run / declared, both later sweeps", f"{by_run['rate'] / warm['rate']:.0%}",
         "", None),
        ("    the same once 10 trials ended (first-trial imports left out)",
         f"{by_run['settled'] / warm['settled']:.0%}", ">= 80 %",
         by_run["settled"] >= 0.8 * warm["settled"]),
        ("(2) optuna alone, in memory, n_jobs=2", f"{alone:,.0f} trials/s", "", None),
        ("    (1) / (2)", f"{ratio:.0%}", ">= 50 %", ratio >= 0.50),
        ("    (1) after start-up / (2)", f"{steady / alone:.0%}", "", None),
        ("    (1) a later sweep / (2)", f"{warm['rate'] / alone:.0%}", ">= 50 %",
         warm["rate"] / alone >= 0.50),
        ("(3) 16 x sleep(0.5) on 2 workers, a later sweep", f"{wall:.2f} s (ideal 4.0 s)",
         "efficiency >= 97 %", efficiency >= 0.97),
        ("    parallel efficiency", f"{efficiency:.1%}", "", None),
        ("    the same, a fresh process's first sweep", f"{cold_wall:.2f} s (ideal 4.0 s)",
         "efficiency >= 97 %", cold_efficiency >= 0.97),
        ("    parallel efficiency", f"{cold_efficiency:.1%}", "", None),
        ("(4) sweeps.run to the first trial's start, first sweep", f"{few['first'] * 1e3:.0f} ms",
         "", None),
        ("    the same, a later sweep in the process (median)", f"{warm_first * 1e3:.0f} ms",
         "<= 50 ms", warm_first <= 0.05),
        ("    worker template start to its first fork, alone", f"{template * 1e3:.0f} ms", "",
         None),
        ("    the last trial's end to sweeps.run's return", f"{few['tail'] * 1e3:.0f} ms", "",
         None),
        ("(5) coordinator CPU per trial, 300 trials", f"{few['cpu'] * 1e3:.2f} ms", "", None),
        ("    the same, a later sweep (no first-use imports)", f"{warm['cpu'] * 1e3:.2f} ms",
         "", None),
        ("    the same, 3,000 trials", f"{many['cpu'] * 1e3:.2f} ms", "", None),
        ("    3,000 / 300 (1.0: linear)", f"{many['cpu'] / few['cpu']:.2f}", "", None),
        ("    each trial past the 300th (set-up left out)", f"{marginal * 1e3:.2f} ms", "",
         None),
        ("    optuna's own ask/report/tell per trial, 300", f"{own_few * 1e3:.2f} ms", "",
         None),
        ("    optuna's own, 3,000", f"{own_many * 1e3:.2f} ms", "", None),
        ("    coordinator / optuna's own, 300", f"{few['cpu'] / own_few:.1f}x", "", None),
        ("    the same, a later sweep", f"{warm['cpu'] / own_few:.1f}x", "", None),
        ("    coordinator / optuna's own, 3,000", f"{many['cpu'] / own_many:.1f}x", "", None),
        ("    3,000 trials, wall", f"{many['rate']:,.0f} trials/s", "", None),
    ]
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{name:<58} {value:>24}  {target:<20} {verdict}")
    print(f"{load()} (at the end)")


if __name__ == "__main__":
    main()
