"""How long the HTML sweep report takes, and how big it gets, at 300, 2,000 and 10,000 trials.

    python benchmarks/report_scale.py            # all three sizes
    python benchmarks/report_scale.py 300 2000   # some sizes

Each stored sweep is written straight through `tracking.Client` and `Batch`, following the
convention of `sweeps/records.py` (a parent run tagged as a sweep, one child run per trial
attempt with its tags, typed params, a 10-step metric history and an end status), which is
much faster than running the trials. The sweep has 8 params (log-scaled floats, an int, a
log-scaled int, two categoricals and a conditional float) and two metrics.
Targets: 300 trials <= 2 s, 2,000 <= 4 s, 10,000 <= 10 s; every file <= 15 MB.
"""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

from sweeps import records
from sweeps.config import parse_config
from tracking import Client, RunStatus, environment, validation
from tracking.client import now_ms
from tracking.store.base import Batch

TARGETS = {300: 2.0, 2000: 4.0, 10_000: 10.0}
MAX_BYTES = 15 * 1024 * 1024
STEPS = 10
WORKERS = 8

SPACE = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "layers": {"type": "int", "low": 1, "high": 8},
    "batch_size": {"type": "int", "low": 16, "high": 512, "log": True},
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "rmsprop"]},
    "activation": ["relu", "gelu", "tanh"],
    "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"optimizer": "sgd"}},
    "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
}


def _params(rng: random.Random) -> dict:
    params = {
        "lr": 10 ** rng.uniform(-5, -1),
        "dropout": rng.uniform(0.0, 0.6),
        "layers": rng.randint(1, 8),
        "batch_size": int(round(2 ** rng.uniform(4, 9))),
        "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
        "activation": rng.choice(["relu", "gelu", "tanh"]),
    }
    if params["optimizer"] == "sgd":
        params["momentum"] = rng.uniform(0.5, 0.99)
    params["weight_decay"] = 10 ** rng.uniform(-6, -2)
    return params


def _final_loss(params: dict, rng: random.Random) -> float:
    loss = (math.log10(params["lr"]) + 3) ** 2 * 0.1 + (params["dropout"] - 0.2) ** 2
    loss += 0.02 * abs(params["layers"] - 4) + (0.1 if params["activation"] == "tanh" else 0.0)
    return loss + 0.05 + rng.gauss(0, 0.01) ** 2


def make_sweep(client: Client, n_trials: int, *, experiment: str = "scale",
               seed: int = 0) -> str:
    """Write a finished sweep of `n_trials` trials to `client`'s store; returns its run id."""
    rng = random.Random(seed)
    config = parse_config({
        "experiment": experiment, "objective": "bench:train",
        "metrics": [{"name": "val_loss", "goal": "minimize"}], "space": SPACE,
        "sampler": {"type": "tpe", "seed": seed}, "pruner": {"type": "median"},
        "budget": {"trials": n_trials}, "execution": {"workers": WORKERS}})
    experiment_id = client.get_or_create_experiment(experiment)
    t0 = now_ms() - n_trials * 2000 // WORKERS - 10_000
    sweep = client.create_run(experiment_id, start_time=t0, run_name=f"scale-{n_trials}", tags={
        **environment.capture(),
        **records.sweep_tags([{"name": "val_loss", "goal": "minimize"}], "bench:train", "tpe",
                             "median", "local", WORKERS, n_trials, str(Path.cwd()))})
    sweep_id = sweep.info.run_id
    client.log_dict(sweep_id, config.to_dict(), records.CONFIG_ARTIFACT)
    free_at = [t0] * WORKERS
    counts = {"complete": 0, "pruned": 0, "failed": 0}
    best: tuple[float, int] | None = None
    batch = Batch()
    for number in range(n_trials):
        params = _params(rng)
        worker = min(range(WORKERS), key=free_at.__getitem__)
        submitted = free_at[worker] + rng.randint(1, 30)
        started = submitted + rng.randint(5, 50)
        final = _final_loss(params, rng)
        roll = rng.random()
        status = (RunStatus.FAILED if roll < 0.03 else
                  RunStatus.PRUNED if roll < 0.35 else RunStatus.FINISHED)
        steps = STEPS if status is RunStatus.FINISHED else rng.randint(1, STEPS - 1)
        step_ms = rng.randint(80, 300)
        ended = started + steps * step_ms
        free_at[worker] = ended
        run = client.create_run(experiment_id, start_time=submitted, run_name=f"trial-{number}",
                                parent_run_id=sweep_id, buffered=True,
                                tags=records.trial_tags(number, 1, params, None))
        run_id = run.info.run_id
        batch.params += [(run_id, k, *validation.param_value(k, v)) for k, v in params.items()]
        loss = final
        for step in range(steps):
            loss = final + 2.0 * math.exp(-0.4 * (step + 1)) * (1 + rng.random() * 0.1)
            batch.metrics.append((run_id, "val_loss", loss, step, started + (step + 1) * step_ms))
            batch.metrics.append((run_id, "train_loss", loss * 0.9, step,
                                  started + (step + 1) * step_ms))
        batch.tags += [(run_id, records.WORKER, f"local-{worker}"),
                       (run_id, records.HOST, "bench"),
                       (run_id, records.QUEUE_WAIT, f"{(started - submitted) / 1000:.4f}"),
                       (run_id, records.RUN_SECONDS, f"{(ended - started) / 1000:.4f}")]
        if status is RunStatus.FAILED:
            batch.tags.append((run_id, records.ERROR, "RuntimeError: diverged (loss is nan)"))
            counts["failed"] += 1
        elif status is RunStatus.PRUNED:
            counts["pruned"] += 1
        else:
            counts["complete"] += 1
            if best is None or loss < best[0]:
                best = (loss, number)
        batch.ends[run_id] = (status, ended)
        if len(batch) > 50_000:
            client.write(batch)
            batch = Batch()
    client.write(batch)  # flushes the buffered new runs first
    end = max(free_at)
    tags = [(sweep_id, records.COUNTS, json.dumps(counts)),
            (sweep_id, records.WALL, f"{(end - t0) / 1000:.3f}")]
    if best is not None:
        tags += [(sweep_id, records.BEST_TRIAL, str(best[1])),
                 (sweep_id, records.BEST_VALUES, json.dumps([best[0]]))]
    client.write(Batch(tags=tags, ends={sweep_id: (RunStatus.FINISHED, end)}))
    return sweep_id


def main(sizes: list[int]) -> int:
    from sweeps.report import write_report

    failed = False
    with tempfile.TemporaryDirectory(prefix="report-scale-") as tmp:
        # The first report of a process also pays for lazy imports (plotly, sklearn for
        # fANOVA, scipy): timed apart, on a small sweep.
        t = time.perf_counter()
        client = Client(Path(tmp, "runs-warmup"))
        write_report(client, [make_sweep(client, 60, experiment="warmup")],
                     Path(tmp, "warmup.html"))
        print(f"first report in the process (imports + 60 trials): "
              f"{time.perf_counter() - t:.2f} s")
        print(f"{'trials':>7} {'generate_s':>10} {'report_s':>9} {'target_s':>8} {'MB':>6}  ok")
        for n in sizes:
            client = Client(Path(tmp, f"runs-{n}"))
            t = time.perf_counter()
            sweep_id = make_sweep(client, n, experiment=f"scale-{n}")
            generated = time.perf_counter() - t
            out = Path(tmp, f"scale-{n}.html")
            t = time.perf_counter()
            write_report(Client(Path(tmp, f"runs-{n}")), [sweep_id], out)
            seconds = time.perf_counter() - t
            size = out.stat().st_size
            target = TARGETS.get(n, math.inf)
            ok = seconds <= target and size <= MAX_BYTES
            failed |= not ok
            print(f"{n:>7} {generated:>10.2f} {seconds:>9.2f} {target:>8.0f} "
                  f"{size / 1e6:>6.2f}  {'yes' if ok else 'NO'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main([int(a) for a in sys.argv[1:]] or list(TARGETS)))
