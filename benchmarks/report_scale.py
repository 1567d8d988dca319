"""How long the HTML sweep report takes, and how big it gets, at 300, 2,000 and 10,000 trials.

    python benchmarks/report_scale.py            # all three sizes
    python benchmarks/report_scale.py 300 2000   # some sizes

Each stored sweep is written straight through `Client.batch`, following the
convention of `sweeps/records.py` (a parent run tagged as a sweep, one child run per trial
attempt with its tags, typed params, a 10-step metric history and an end status), which is
much faster than running the trials. The sweep has 8 params (log-scaled floats, an int, a
log-scaled int, two categoricals and a conditional float) and two metrics.
Targets: 300 trials <= 2 s, 2,000 <= 4 s, 10,000 <= 10 s; every file <= 15 MB.
`sweeps report` is also run end to end (a new process: imports, the report, its JSON
summary) on each stored sweep (target: 1.5 s at 300 trials).

Each report is then opened in headless Chromium (Debian's /usr/bin/chromium through
Playwright, as the browser tests do): the time from navigation to the animation frame that
shows the first drawn figure (recorded by the page itself)
(targets: 0.7 s at 300 trials, 1.0 s at 10,000) and to every figure drawn, medians of
BROWSER_REPEATS loads. The load average is printed with the figures.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweeps import records
from sweeps.config import parse_config
from tracking import Client, Metric, RunStatus, environment
from tracking.client import now_ms

TARGETS = {300: 2.0, 2000: 4.0, 10_000: 10.0}
FIRST_FIGURE_TARGETS = {300: 0.7, 10_000: 1.0}
CLI_TARGETS = {300: 1.5}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
MAX_BYTES = 15 * 1024 * 1024
BROWSER_REPEATS = 3
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
        loss, points = final, []
        for step in range(steps):
            loss = final + 2.0 * math.exp(-0.4 * (step + 1)) * (1 + rng.random() * 0.1)
            at = started + (step + 1) * step_ms
            points += [Metric("val_loss", loss, at, step),
                       Metric("train_loss", loss * 0.9, at, step)]
        tags = {records.WORKER: f"local-{worker}", records.HOST: "bench",
                records.QUEUE_WAIT: f"{(started - submitted) / 1000:.4f}",
                records.RUN_SECONDS: f"{(ended - started) / 1000:.4f}"}
        if status is RunStatus.FAILED:
            tags[records.ERROR] = "RuntimeError: diverged (loss is nan)"
            counts["failed"] += 1
        elif status is RunStatus.PRUNED:
            counts["pruned"] += 1
        else:
            counts["complete"] += 1
            if best is None or loss < best[0]:
                best = (loss, number)
        with client.batch(buffered=True) as writes:  # as the coordinator writes a trial
            run_id = writes.create_run(experiment_id, start_time=submitted,
                                       run_name=f"trial-{number}", parent_run_id=sweep_id,
                                       tags=records.trial_tags(number, 1, None))
            writes.log_params(run_id, params)
            writes.log_metrics(run_id, points)
            writes.set_tags(run_id, tags)
            writes.set_terminated(run_id, status, ended)
    end = max(free_at)
    tags = {records.COUNTS: json.dumps(counts), records.WALL: f"{(end - t0) / 1000:.3f}"}
    if best is not None:
        tags |= {records.BEST_TRIAL: str(best[1]), records.BEST_VALUES: json.dumps([best[0]])}
    with client.batch() as writes:  # flushes the buffered trials first
        writes.set_tags(sweep_id, tags)
        writes.set_terminated(sweep_id, RunStatus.FINISHED, end)
    return sweep_id


# The first animation frame after a figure is drawn (the frame that shows it), as the page
# saw it: reading the clock from here instead would wait behind the page's next long task
# (drawing the WebGL parallel coordinates takes about 1 s of one task in headless Chromium).
FIRST_FRAME = """
new MutationObserver(function (changes, observer) {
  if (!document.querySelector('div.plot[data-drawn=yes]')) { return; }
  observer.disconnect();
  requestAnimationFrame(function () { window.__firstFigure = performance.now(); });
}).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-drawn']});
"""


def browser_times(browser, path: Path) -> tuple[float, float]:
    """Seconds from navigation to the frame that shows the first drawn figure, and to all
    figures drawn."""
    page = browser.new_page()
    try:
        page.add_init_script(FIRST_FRAME)
        page.goto(path.as_uri(), wait_until="commit")
        page.wait_for_function("window.__firstFigure", polling="raf", timeout=60_000)
        first = page.evaluate("window.__firstFigure") / 1e3
        page.wait_for_function("""Array.from(document.querySelectorAll('div.plot'))
            .every(d => d.getAttribute('data-drawn') === 'yes')""", polling="raf",
                               timeout=120_000)
        return first, page.evaluate("performance.now()") / 1e3
    finally:
        page.close()


def cli_seconds(store: Path, sweep_id: str, out: Path) -> float:
    """Seconds that `sweeps report` takes end to end, in a new process, as installed: with
    bytecode caches (written under the store's folder, even where PYTHONDONTWRITEBYTECODE is
    set), so the second of two runs is timed."""
    command = shutil.which("sweeps")
    if command is None:
        return math.nan
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(store.parent / "pycache")
    for _ in range(2):
        t = time.perf_counter()
        subprocess.run([command, "report", sweep_id, "--root", str(store), "-o", str(out)],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main(sizes: list[int]) -> int:
    from contextlib import ExitStack

    from sweeps.report import write_report

    failed = False
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="report-scale-") as tmp, ExitStack() as stack:
        browser = None
        if os.path.exists(CHROMIUM):
            from playwright.sync_api import sync_playwright
            browser = stack.enter_context(sync_playwright()).chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            stack.callback(browser.close)
        else:
            print(f"no {CHROMIUM}: browser times left out")
        # The first report of a process also pays for lazy imports (plotly, sklearn for
        # fANOVA, scipy): timed apart, on a small sweep.
        t = time.perf_counter()
        client = Client(Path(tmp, "runs-warmup"))
        write_report(client, [make_sweep(client, 60, experiment="warmup")],
                     Path(tmp, "warmup.html"))
        print(f"first report in the process (imports + 60 trials): "
              f"{time.perf_counter() - t:.2f} s")
        if browser:  # the browser's first page pays for starting its renderer: not timed
            browser_times(browser, Path(tmp, "warmup.html"))
        print(f"{'trials':>7} {'generate_s':>10} {'report_s':>9} {'target_s':>8} {'MB':>6}  ok"
              f"  {'first_fig_s':>11} {'target_s':>8} {'all_figs_s':>10} {'cli_s':>6} "
              f"{'target_s':>8}")
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
            first, drawn = math.nan, math.nan
            if browser:
                loads = [browser_times(browser, out) for _ in range(BROWSER_REPEATS)]
                first = statistics.median(t[0] for t in loads)
                drawn = statistics.median(t[1] for t in loads)
            first_target = FIRST_FIGURE_TARGETS.get(n, math.inf)
            cli = cli_seconds(Path(tmp, f"runs-{n}"), sweep_id, Path(tmp, f"cli-{n}.html"))
            cli_target = CLI_TARGETS.get(n, math.inf)
            ok = (seconds <= target and size <= MAX_BYTES and not first > first_target
                  and not cli > cli_target)
            failed |= not ok
            print(f"{n:>7} {generated:>10.2f} {seconds:>9.2f} {target:>8.0f} "
                  f"{size / 1e6:>6.2f}  {'yes' if ok else 'NO':<3} {first:>11.2f} "
                  f"{first_target:>8.1f} {drawn:>10.2f} {cli:>6.2f} {cli_target:>8.1f}",
                  flush=True)
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main([int(a) for a in sys.argv[1:]] or list(TARGETS)))
