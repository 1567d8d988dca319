"""Sweeps, reports and the UI on a PostgreSQL store, through the real CLI in real processes:
a fresh database per test, artifacts under one shared artifact root in tmp_path, and a
password in the URI that nothing may print."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sweeps import records
from sweeps.ui import create_app
from tracking import Client, StoreError

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

HERE = Path(__file__).parent
PASSWORD = "pw-not-for-printing"
STEPS = 10  # sample_objectives:stepwise and paced:paced report this many points of `loss`
PACED = """
import time

def paced(params, trial):
    for step in range(10):
        time.sleep(0.1)  # slow enough that two sweeps surely run side by side
        loss = params["x"] + step
        trial.report({"loss": loss}, step=step)
    return loss  # the last point: the final value adds none
"""


@pytest.fixture
def pg(postgres_uri: str) -> str:
    """The fresh database's URI, with a password (the test server trusts any)."""
    scheme, rest = postgres_uri.split("://", 1)
    user, at, host = rest.partition("@")
    if ":" in user:
        pytest.skip("the test server's URI has its own password")
    return f"{scheme}://{user}:{PASSWORD}@{host}"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of every process: one artifact root, as machines sharing a mount."""
    monkeypatch.setenv("SWEEPS_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.delenv("SWEEPS_TRACKING_URI", raising=False)
    return dict(os.environ)


def folder(tmp_path: Path, name: str, pg: str, experiment: str, **sections: Any) -> Path:
    """A working folder holding sample_objectives.py, paced.py and `sweep.yaml` (stepwise,
    on `pg`; `sections` replace its sections)."""
    work = tmp_path / name
    work.mkdir()
    shutil.copy(HERE / "sample_objectives.py", work / "sample_objectives.py")
    (work / "paced.py").write_text(PACED)
    config = {"experiment": experiment, "objective": "sample_objectives:stepwise",
              "metric": {"name": "loss", "goal": "minimize"},
              "space": {"x": {"type": "float", "low": 0.0, "high": 2.0}},
              "sampler": {"type": "random", "seed": 0}, "budget": {"trials": 4},
              "execution": {"workers": 2}, "tracking": {"uri": pg}, **sections}
    (work / "sweep.yaml").write_text(yaml.safe_dump(config))
    return work


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sweeps.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return finish(start(list(args), cwd, env))


def sweep_ids(client: Client, experiment: str) -> list[str]:
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return [r.info.run_id for r in runs if records.is_sweep(r)]


def assert_every_trial_recorded(client: Client, sweep_id: str, trials: int) -> None:
    """`trials` finished child runs under the sweep, each with all STEPS points of loss."""
    sweep = client.get_run(sweep_id)
    children = client.search_runs([sweep.info.experiment_id], records.trial_filter(sweep_id))
    assert sweep.info.status.value == "FINISHED"
    assert sorted(r.info.status.value for r in children) == ["FINISHED"] * trials
    for child in children:
        assert len(client.get_metric_history(child.info.run_id, "loss")) == STEPS


def test_a_sweep_on_postgres_and_the_commands_that_read_it(pg, env, tmp_path):
    work = folder(tmp_path, "a", pg, "pg-quad")
    done = cli("run", "sweep.yaml", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    client = Client(pg)
    [sweep_id] = sweep_ids(client, "pg-quad")
    assert_every_trial_recorded(client, sweep_id, 4)
    assert f"Store:  {client.store.root}" in done.stdout
    saved = records.read_config(client, client.get_run(sweep_id))
    assert saved["tracking"]["uri"] == client.store.root and ":***@" in client.store.root
    reports = list((work / "reports" / "pg-quad").glob("*.html"))
    assert len(reports) == 1 and reports[0].with_suffix(".json").exists()
    assert PASSWORD not in reports[0].read_text()
    ls, show, export, missing = [finish(p) for p in [start(args, tmp_path, env) for args in (
        ["ls", "--root", pg], ["show", sweep_id, "--root", pg],
        ["export", sweep_id, "-o", str(tmp_path / "x.csv"), "--root", pg],
        ["ls", "--root", pg.replace(pg.rsplit("/", 1)[1], "no_such_db")])]]  # all at once
    assert ls.returncode == 0 and "pg-quad" in ls.stdout
    assert f"Experiments in {client.store.root}" in " ".join(ls.stdout.split())
    assert show.returncode == 0 and sweep_id in show.stdout
    assert export.returncode == 0, export.stderr
    with open(tmp_path / "x.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 4
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    for output in (done, ls, show, export, missing):
        assert PASSWORD not in output.stdout + output.stderr


def test_two_coordinators_in_two_folders_share_one_store(pg, env, tmp_path):
    """Two machines, as two processes with their own folders, one experiment, at once."""
    works = [folder(tmp_path, name, pg, "pg-shared", objective="paced:paced",
                    budget={"trials": 5}, report=False)
             for name in ("machine-a", "machine-b")]
    running = [start(["run", "sweep.yaml", "--quiet"], work, env) for work in works]
    for done in [finish(process) for process in running]:
        assert done.returncode == 0, done.stderr
    client = Client(pg)
    ids = sweep_ids(client, "pg-shared")
    assert len(ids) == 2 and len(client.search_experiments()) == 1
    for sweep_id in ids:
        assert_every_trial_recorded(client, sweep_id, 5)
    a, b = (client.get_run(sweep_id).info for sweep_id in ids)
    assert a.start_time < b.end_time and b.start_time < a.end_time  # they did overlap


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_ui_serves_a_postgres_store_read_only(pg, env, tmp_path):
    work = folder(tmp_path, "a", pg, "pg-ui", report=False)
    assert cli("run", "sweep.yaml", cwd=work, env=env).returncode == 0
    [sweep_id] = sweep_ids(Client(pg), "pg-ui")
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "sweeps.cli", "ui", "--root", pg, "--port",
                           str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        line = ui.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line and PASSWORD not in line, line
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                experiments = httpx.get(f"{base}/api/experiments", timeout=30)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the UI did not start"
                time.sleep(0.1)
        assert [e["name"] for e in experiments.json()["experiments"]] == ["pg-ui"]
        assert experiments.json()["root"] == Client(pg).store.root  # no password
        run = httpx.get(f"{base}/api/runs/{sweep_id}", timeout=30)
        assert run.status_code == 200 and sweep_id in run.text
        assert httpx.get(f"{base}/runs/{sweep_id}", timeout=30).status_code == 200
        ui.send_signal(signal.SIGINT)
        assert ui.wait(timeout=30) == 0
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait()
        ui.stdout.close()
        ui.stderr.close()
    store = create_app(pg).state.ui.client().store  # the store the UI opens
    shown = store._call(lambda conn: conn.execute("SHOW default_transaction_read_only")
                        .fetchone()[0], write=False)
    assert store.read_only and shown == "on"
    with pytest.raises(StoreError, match="read-only transaction"):
        store._call(lambda conn: conn.execute("DELETE FROM tags"), write=False)


def test_the_ui_names_an_unreachable_database_without_its_password():
    state = create_app(f"postgresql://me:{PASSWORD}@127.0.0.1:1/nowhere").state.ui
    assert state.shown_root() == "a database not reachable yet"


@pytest.mark.ray
@pytest.mark.slow
def test_a_ray_sweep_records_into_postgres(pg, env, tmp_path):
    work = folder(tmp_path, "a", pg, "pg-ray", report=False,
                  execution={"backend": "ray", "workers": 2})
    done = cli("run", "sweep.yaml", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    client = Client(pg)
    [sweep_id] = sweep_ids(client, "pg-ray")
    assert_every_trial_recorded(client, sweep_id, 4)
