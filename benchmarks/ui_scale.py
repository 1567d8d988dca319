"""How fast `sweeps ui` opens an experiment with 10,000 runs (20 params, 5 metrics each).

    python benchmarks/ui_scale.py                 # both layouts, 10,000 runs
    python benchmarks/ui_scale.py --runs 2000     # smaller

Two layouts of the same size: "flat" (10,000 top-level runs) and "sweeps" (10 sweeps of
1,000 trials each, nested in the table). Runs are written straight through `Batch` (each with
20 params, 5 metrics of 10 steps, and the environment tags a real run carries). Timed:
- the runs-table API, first page (50 groups, every param and metric column): the first call
  (cold caches) and the median of 5 more; also sorted by a metric, filtered, the last page,
  and the column list (a scan of every run, which the page fetches after drawing the table);
- the experiment page in headless Chromium (/usr/bin/chromium), from the start of navigation
  until the table is in the DOM (the page's own clock): first load and the median of 3 more.
Target: <= 1 s each.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

from sweeps import records
from sweeps.ui import create_app
from tracking import Client, RunStatus, environment
from tracking.client import now_ms
from tracking.entities import RunInfo
from tracking.store.base import Batch

TARGET = 1.0
PARAMS = 20
METRICS = ("loss", "accuracy", "f1", "val_loss", "lr_final")
STEPS = 10
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _run(client: Client, experiment_id: str, name: str, parent: str | None,
         start: int) -> RunInfo:
    run_id = uuid.uuid4().hex
    return RunInfo(run_id, name, experiment_id, parent, RunStatus.FINISHED, start, start + 5000,
                   str(Path(client.tracking_uri, "artifacts", experiment_id, run_id)))


def _fill(batch: Batch, info: RunInfo, rng: random.Random, env: dict[str, str]) -> None:
    rid = info.run_id
    for i in range(PARAMS):
        if i % 4 == 0:
            batch.params.append((rid, f"cat_{i}", rng.choice(["a", "b", "c", "d"]), "str"))
        elif i % 4 == 1:
            batch.params.append((rid, f"int_{i}", str(rng.randint(1, 512)), "int"))
        else:
            batch.params.append((rid, f"float_{i}", repr(rng.random()), "float"))
    for key in METRICS:
        base = rng.random()
        for step in range(STEPS):
            batch.metrics.append((rid, key, base / (step + 1), step, info.start_time + step))
    batch.tags += [(rid, k, v) for k, v in env.items()]


def build(root: Path, runs: int, layout: str) -> str:
    """An experiment of `runs` runs; returns its id."""
    client = Client(root)
    experiment_id = client.create_experiment(f"scale-{layout}")
    env = environment.capture()
    rng = random.Random(0)
    start = now_ms() - runs * 1000
    parents: list[str | None] = [None]
    if layout == "sweeps":
        sweeps = max(1, runs // 1000)
        batch = Batch()
        parents = []
        for s in range(sweeps):
            info = _run(client, experiment_id, f"sweep-{s}", None, start + s)
            batch.new_runs.append(info)
            batch.tags += [(info.run_id, records.ROLE, records.SWEEP)]
            parents.append(info.run_id)
        client.store.apply(batch)
        runs -= sweeps
    batch = Batch()
    for i in range(runs):
        parent = parents[i % len(parents)]
        info = _run(client, experiment_id, f"run-{i}", parent, start + i * 1000)
        batch.new_runs.append(info)
        _fill(batch, info, rng, env)
        if parent is not None:
            batch.tags += [(info.run_id, records.ROLE, records.TRIAL),
                           (info.run_id, records.NUMBER, str(i // len(parents)))]
        if len(batch.new_runs) >= 1000:
            client.store.apply(batch)
            batch = Batch()
    client.store.apply(batch)
    return experiment_id


def start_server(root: Path) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(root), log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def timed_get(http: httpx.Client, path: str, **params: str) -> float:
    began = time.perf_counter()
    response = http.get(path, params=params)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    return elapsed


def bench_api(url: str, experiment_id: str) -> dict[str, float]:
    path = f"/api/experiments/{experiment_id}/runs"
    with httpx.Client(base_url=url, timeout=60) as http:
        out = {"api first page (cold)": timed_get(http, path)}
        out["api first page (warm, median of 5)"] = statistics.median(
            timed_get(http, path) for _ in range(5))
        out["api sorted by metrics.loss"] = timed_get(http, path, order_by="metrics.loss DESC")
        out["api filtered (params + metrics)"] = timed_get(
            http, path, filter="params.cat_0 = 'a' and metrics.accuracy > 0.5")
        out["api last page"] = timed_get(http, path, page="200", page_size="50")
        columns = f"/api/experiments/{experiment_id}/columns"
        out["columns API (fetched after the table, cold)"] = timed_get(http, columns)
    return out


def bench_page(url: str, experiment_id: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            times = []
            for _ in range(4):
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{url}/experiments/{experiment_id}", wait_until="commit")
                # the browser's own clock: from the start of navigation to the table in the DOM
                times.append(page.evaluate("""() => new Promise((done) => {
                    const check = () => document.querySelector('#runs-table tbody tr')
                        ? done(performance.now() / 1000) : requestAnimationFrame(check);
                    check();
                })"""))
                context.close()
        finally:
            browser.close()
    return {"page until table rendered (first)": times[0],
            "page until table rendered (median of 3)": statistics.median(times[1:])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--layout", choices=["flat", "sweeps", "both"], default="both")
    args = parser.parse_args()
    layouts = ["flat", "sweeps"] if args.layout == "both" else [args.layout]
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="ui-scale-") as tmp:
        root = Path(tmp, "store")
        experiments = {}
        for layout in layouts:
            began = time.perf_counter()
            experiments[layout] = build(root, args.runs, layout)
            print(f"built {layout}: {args.runs:,} runs x {PARAMS} params x {len(METRICS)} "
                  f"metrics ({STEPS} steps) in {time.perf_counter() - began:.1f} s")
        server, thread, url = start_server(root)
        try:
            for layout, experiment_id in experiments.items():
                figures = {**bench_api(url, experiment_id), **bench_page(url, experiment_id)}
                print(f"\n{layout} ({args.runs:,} runs)")
                for name, seconds in figures.items():
                    if name.startswith("columns"):  # not on the table's path: informative
                        print(f"  {name:<46} {seconds:6.3f} s")
                        continue
                    mark = "ok" if seconds <= TARGET else "OVER TARGET"
                    print(f"  {name:<46} {seconds:6.3f} s   (target <= {TARGET:.0f} s: {mark})")
                    worst = max(worst, seconds)
        finally:
            server.should_exit = True
            thread.join()
    print(f"\nworst: {worst:.3f} s (target <= {TARGET:.0f} s)")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
