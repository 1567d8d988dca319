"""sweeps export --to / sweeps import mlflow, against a real MLflow tracking server (one per
test session) and a sqlite:/// MLflow store, read back with mlflow's own client."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import sweeps
from sweeps.cli import main
from sweeps.mlflow_bridge import MAX_ENTRIES, _batches, connect, export_runs
from tracking import Client, RunStatus

mlflow = pytest.importorskip("mlflow")
# mlflow's own store code (sqlite:/// URIs are opened in this process) warns about its use
# of SQLAlchemy; that is not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning")

OBJECTIVE = '''
import math, sweeps

def train(params, trial):
    """Four steps (the first +inf for x > 1.5); x > 1.8 is pruned after two."""
    trial.set_note(f"x = {params['x']:.3f}")
    trial.set_tag("kind", "bridge")
    with open("weights.txt", "w") as handle:
        handle.write(str(params["x"]))
    trial.log_artifact("weights.txt", "model")
    for step in range(4):
        value = math.inf if step == 0 and params["x"] > 1.5 else (params["x"] - 1) ** 2 + step
        trial.report({"loss": value}, step=step)
        if step == 1 and params["x"] > 1.8:
            raise sweeps.TrialPruned()
    return (params["x"] - 1) ** 2
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on a free port (sqlite backend, served artifacts), started
    once per session and stopped (its process group, by pid) at the end."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
             f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination",
             str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, cwd=folder,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("mlflow server did not start:\n"
                                + (folder / "server.log").read_text()[-3000:])
                time.sleep(0.5)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def sweep(project: Path, make_config) -> sweeps.SweepResult:
    """A real sweep of six trials: finished and pruned, +inf points, notes, artifacts."""
    (project / "bridge_objective.py").write_text(OBJECTIVE)
    config = make_config("bridge_objective:train", experiment="bridge",
                         space={"x": {"type": "categorical",
                                      "choices": [0.2, 0.9, 1.2, 1.6, 1.9, 1.95]}},
                         sampler={"type": "grid"}, budget={"trials": 6})
    result = sweeps.run(config)
    assert result.status == "FINISHED", result.error
    return result


def _copies(uri: str, experiment: str) -> tuple[object, list[object]]:
    client = mlflow.MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return client, client.search_runs([found.experiment_id], max_results=1000)


def _check_export(uri: str, result: sweeps.SweepResult) -> None:
    """Everything of the sweep is in MLflow: nesting, histories, times, tags, statuses."""
    ours = Client("runs")
    sweep_run = ours.get_run(result.sweep_run_id)
    trials = ours.search_runs([sweep_run.info.experiment_id],
                              f"attributes.parent_run_id = '{result.sweep_run_id}'")
    client, copies = _copies(uri, "bridge")
    by_source = {c.data.tags["sweepbook.run_id"]: c for c in copies}
    assert set(by_source) == {result.sweep_run_id, *(t.info.run_id for t in trials)}
    parent = by_source[result.sweep_run_id]
    assert "mlflow.parentRunId" not in parent.data.tags
    assert parent.info.run_name == sweep_run.info.run_name
    statuses = set()
    for trial in trials:
        copy = by_source[trial.info.run_id]
        info = trial.info
        assert copy.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert (copy.info.start_time, copy.info.end_time) == (info.start_time, info.end_time)
        assert copy.info.run_name == info.run_name
        assert copy.data.params == dict(trial.data.params)
        assert copy.data.tags["kind"] == "bridge"
        assert copy.data.tags["mlflow.note.content"] == trial.data.note
        expected = "KILLED" if info.status is RunStatus.PRUNED else info.status.value
        assert copy.info.status == expected
        statuses.add(info.status)
        if info.status is RunStatus.PRUNED:
            assert copy.data.tags["sweepbook.status"] == "PRUNED"
        def order(m):
            return m.step, m.timestamp, m.value

        history = sorted(ours.get_metric_history(info.run_id, "loss"), key=order)
        theirs = sorted(client.get_metric_history(copy.info.run_id, "loss"), key=order)
        assert [(m.step, m.timestamp) for m in theirs] == [(m.step, m.timestamp)
                                                             for m in history]
        for mine, copied in zip(history, theirs, strict=True):
            if math.isinf(mine.value):
                assert copied.value == math.copysign(sys.float_info.max, mine.value)
                assert '"loss": [[0, "+inf"]]' in copy.data.tags["sweepbook.infinite"]
            else:
                assert copied.value == mine.value
        assert [a.path for a in client.list_artifacts(copy.info.run_id, "model")] == [
            "model/weights.txt"]
    assert statuses == {RunStatus.FINISHED, RunStatus.PRUNED}


def test_export_to_a_server_and_again_duplicates_nothing(sweep, mlflow_server, capsys):
    assert main(["export", "bridge", "--to", mlflow_server]) == 0
    assert "7 runs created" in capsys.readouterr().out
    _check_export(mlflow_server, sweep)
    assert main(["export", "bridge", "--to", mlflow_server]) == 0
    out = capsys.readouterr().out
    assert "0 runs created, 7 updated, 0 metric points added" in " ".join(out.split())
    _, copies = _copies(mlflow_server, "bridge")
    assert len(copies) == 7
    _check_export(mlflow_server, sweep)


def test_export_to_a_sqlite_store_then_import_it_back(sweep, project, capsys):
    uri = f"sqlite:///{project / 'mlflow.db'}"
    assert main(["export", "bridge", "--to", uri]) == 0
    _check_export(uri, sweep)
    assert main(["import", "mlflow", uri, "--root", "back"]) == 0
    assert main(["import", "mlflow", uri, "--root", "back", "--experiment", "bridge"]) == 0
    assert "0 runs created, 7 updated, 0 metric points added" in " ".join(
        capsys.readouterr().out.split())
    ours, back = Client("runs"), Client("back")
    experiment = back.get_experiment_by_name("bridge")
    imported = {r.data.tags["sweepbook.run_id"]: r
                for r in back.search_runs([experiment.experiment_id])}
    original = ours.search_runs([ours.get_experiment_by_name("bridge").experiment_id])
    assert len(imported) == len(original) == 7
    for run in original:
        copy = imported[run.info.run_id]
        assert copy.info.status is run.info.status  # PRUNED comes back PRUNED
        assert (copy.info.start_time, copy.info.end_time) == (run.info.start_time,
                                                              run.info.end_time)
        assert copy.data.params == run.data.params and copy.data.note == run.data.note
        assert run.data.tags.items() <= copy.data.tags.items()
        assert not {"sweepbook.metric_points", "sweepbook.status"} & set(copy.data.tags)
        parent = run.info.parent_run_id
        assert (copy.info.parent_run_id is None) == (parent is None)
        if parent:
            assert back.get_run(copy.info.parent_run_id).data.tags["sweepbook.run_id"] == parent
            mine = ours.get_metric_history(run.info.run_id, "loss")
            theirs = back.get_metric_history(copy.info.run_id, "loss")
            assert sorted(theirs, key=repr) == sorted(mine, key=repr)  # +inf restored
            assert [f.path for f in back.list_artifacts(copy.info.run_id, "model")] == [
                "model/weights.txt"]


def test_import_an_mlflow_written_store_field_by_field(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("native", artifact_location=str(tmp_path / "a"))
    parent = client.create_run(experiment_id, run_name="parent", start_time=1_000)
    child = client.create_run(experiment_id, run_name="child", start_time=2_000,
                              tags={"mlflow.parentRunId": parent.info.run_id,
                                    "mlflow.note.content": "a child", "team": "ml",
                                    "mlflow.user": "ana"})
    client.log_param(child.info.run_id, "lr", "0.1")
    for step in range(3):
        client.log_metric(child.info.run_id, "loss", 1.0 / (step + 1), timestamp=3_000 + step,
                          step=step)
    client.log_text(child.info.run_id, "weights", "model/w.txt")
    client.set_terminated(child.info.run_id, "FAILED", end_time=5_000)
    client.set_terminated(parent.info.run_id, "FINISHED", end_time=6_000)
    root = tmp_path / "store"
    assert main(["import", "mlflow", uri, "--root", str(root), "--experiment", "native"]) == 0
    ours = Client(root)
    runs = {r.info.run_name: r for r in ours.search_runs(
        [ours.get_experiment_by_name("native").experiment_id])}
    assert set(runs) == {"parent", "child"}
    copy = runs["child"]
    assert copy.info.parent_run_id == runs["parent"].info.run_id
    assert copy.info.status is RunStatus.FAILED
    assert (copy.info.start_time, copy.info.end_time) == (2_000, 5_000)
    assert runs["parent"].info.end_time == 6_000
    assert copy.data.params == {"lr": "0.1"} and copy.data.note == "a child"
    assert copy.data.tags["team"] == "ml" and copy.data.tags["sys.user"] == "ana"
    assert copy.data.tags["sweepbook.mlflow_run_id"] == child.info.run_id
    assert not any(k.startswith("mlflow.") for k in copy.data.tags)
    assert [(m.step, m.timestamp, m.value) for m in ours.get_metric_history(
        copy.info.run_id, "loss")] == [(0, 3_000, 1.0), (1, 3_001, 0.5), (2, 3_002, 1 / 3)]
    assert (ours.artifact_dir(copy.info.run_id) / "model" / "w.txt").read_text() == "weights"
    client.log_metric(child.info.run_id, "loss", 0.1, timestamp=3_003, step=3)
    assert main(["import", "mlflow", uri, "--root", str(root)]) == 0
    assert "0 runs created, 2 updated, 1 metric points added" in " ".join(
        capsys.readouterr().out.split())
    assert len(ours.get_metric_history(copy.info.run_id, "loss")) == 4
    assert main(["import", "mlflow", uri, "--root", str(root), "--experiment", "nope"]) == 2
    assert "no MLflow experiment named 'nope'" in capsys.readouterr().err


def test_an_unreachable_server_is_a_one_line_error(sweep, capsys):
    port = _free_port()
    assert main(["export", "bridge", "--to", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the MLflow server" in err[0]
    assert main(["import", "mlflow", f"http://127.0.0.1:{port}"]) == 2
    assert main(["export", "bridge", "--to", "ftp://x"]) == 2
    assert "not an MLflow tracking URI" in capsys.readouterr().err


def test_long_and_parquet_exports(sweep, capsys):
    assert main(["export", "bridge", "-o", "trials.parquet"]) == 0
    wide = pd.read_parquet("trials.parquet")
    assert len(wide) == 6 and "metrics.loss" in wide.columns
    assert main(["export", "bridge", "--format", "long", "-o", "points.csv"]) == 0
    long = pd.read_csv("points.csv")
    assert list(long.columns) == ["run", "key", "step", "timestamp", "value"]
    assert set(long["run"]) == set(wide["run_id"]) and set(long["key"]) == {"loss"}
    assert math.inf in set(long["value"])
    assert main(["export", "bridge", "--format", "long", "-o", "points.parquet"]) == 0
    assert len(pd.read_parquet("points.parquet")) == len(long)


def test_batches_keep_to_mlflows_limits():
    batches = list(_batches(list(range(2500)), list(range(150)), list(range(120))))
    assert all(len(p) <= 100 and len(t) <= 100 and len(m) + len(p) + len(t) <= MAX_ENTRIES
               for m, p, t in batches)
    assert [sum(len(b[i]) for b in batches) for i in range(3)] == [2500, 150, 120]
    assert len(batches) == 3


def test_export_runs_reports_progress(sweep, project):
    client = Client("runs")
    runs = [client.get_run(sweep.sweep_run_id)]
    seen: list[tuple[int, int]] = []
    export_runs(client, runs, connect(f"sqlite:///{project / 'p.db'}"), "progress",
                progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 1)]
