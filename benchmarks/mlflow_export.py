"""Export speed to MLflow: a 300-trial x 10-step sweep to a local MLflow server and to a
sqlite:/// MLflow store, then imported back; prints seconds.

    python benchmarks/mlflow_export.py               # starts its own `mlflow server`
    python benchmarks/mlflow_export.py --trials 50   # smaller

Everything is written under a temporary folder that is removed afterwards. For scale, the
issue measured about 20 s for logging the same sweep through MLflow's own client, per call.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sweeps.mlflow_bridge import connect, export_runs, import_runs
from tracking import Client, Metric, Param, RunStatus


def make_sweep(client: Client, trials: int, steps: int) -> list:
    """A sweep-shaped parent run with `trials` children of `steps` points of two metrics."""
    experiment_id = client.get_or_create_experiment("bench")
    sweep = client.create_run(experiment_id, run_name="sweep", tags={"sweep.role": "sweep"})
    runs = [sweep]
    for i in range(trials):
        trial = client.create_run(experiment_id, run_name=f"trial-{i}",
                                  tags={"sweep.role": "trial", "sweep.trial": str(i)},
                                  parent_run_id=sweep.info.run_id)
        now = int(time.time() * 1000)
        client.log_batch(trial.info.run_id,
                         metrics=[Metric(key, 1.0 / (s + 1 + i), now + s, s)
                                  for s in range(steps) for key in ("loss", "acc")],
                         params=[Param("lr", 0.001 * (i + 1)), Param("depth", i % 7)])
        client.set_terminated(trial.info.run_id,
                              RunStatus.PRUNED if i % 5 == 0 else RunStatus.FINISHED)
        runs.append(client.get_run(trial.info.run_id))
    client.set_terminated(sweep.info.run_id)
    return [client.get_run(sweep.info.run_id), *runs[1:]]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
         f"sqlite:///{folder / 'server.db'}", "--artifacts-destination",
         str(folder / "server-artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, cwd=folder,
        start_new_session=True)
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(uri + "/health", timeout=2):
                return server, uri
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("mlflow server did not start; see " + str(folder)) from None
            time.sleep(0.5)


def timed(what: str, action) -> None:
    began = time.perf_counter()
    result = action()
    print(f"{what:<34} {time.perf_counter() - began:7.1f} s   {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlflow-export-bench-") as name:
        folder = Path(name)
        os.chdir(folder)  # MLflow's sqlite:/// stores put artifacts under ./mlruns
        client = Client(folder / "runs")
        runs = make_sweep(client, args.trials, args.steps)
        print(f"{args.trials} trials x {args.steps} steps x 2 metrics")
        server, uri = start_server(folder)
        try:
            timed("export to a local MLflow server", lambda: export_runs(
                client, runs, connect(uri), "bench"))
            timed("export again (nothing new)", lambda: export_runs(
                client, runs, connect(uri), "bench"))
        finally:
            os.killpg(server.pid, signal.SIGKILL)  # its data is thrown away with the folder
            server.wait()
        store = f"sqlite:///{folder / 'mlflow.db'}"
        timed("export to a sqlite:/// MLflow store", lambda: export_runs(
            client, runs, connect(store), "bench"))
        back = Client(folder / "back")
        timed("import it back", lambda: import_runs(back, connect(store), ["bench"]))


if __name__ == "__main__":
    main()
