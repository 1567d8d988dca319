"""tracking.Client: ids in, entities out, buffering, against a real store in tmp_path."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import yaml

import tracking
from tracking import Client, FileInfo, Metric, MlflowClient, Param, RunStatus, RunTag
from tracking.client import resolve_tracking_uri
from tracking.errors import (
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    StoreError,
)
from tracking.store.sqlite import SqliteStore


@pytest.fixture
def client(root: Path) -> Client:
    return Client(root)


@pytest.fixture
def run_id(client: Client) -> str:
    return client.create_run(client.get_or_create_experiment("exp")).info.run_id


def test_mlflow_client_is_the_client():
    assert MlflowClient is Client


def test_experiments(client):
    first = client.create_experiment("a", tags={"owner": "me"})
    assert client.get_or_create_experiment("a") == first
    second = client.get_or_create_experiment("b")
    assert [e.name for e in client.search_experiments()] == ["a", "b"]
    experiment = client.get_experiment(first)
    assert experiment.tags == {"owner": "me"}
    assert client.get_experiment_by_name("b").experiment_id == second
    assert client.get_experiment_by_name("c") is None
    client.set_experiment_tag(second, "stage", 2)
    assert client.get_experiment(second).tags == {"stage": "2"}
    with pytest.raises(InvalidInputError, match="'a' already exists"):
        client.create_experiment("a")
    with pytest.raises(NotFoundError, match="'99'"):
        client.get_experiment("99")
    with pytest.raises(NotFoundError):
        client.get_experiment("not-a-number")
    with pytest.raises(InvalidInputError, match="experiment name"):
        client.create_experiment("")


def test_create_run_and_get_run(client):
    experiment_id = client.create_experiment("e")
    run = client.create_run(experiment_id, start_time=1000, tags={"k": "v"}, run_name="r1")
    stored = client.get_run(run.info.run_id)
    assert stored.info == run.info
    assert stored.info.status is RunStatus.RUNNING and stored.info.start_time == 1000
    assert stored.info.run_uuid == run.info.run_id
    assert stored.data.tags == {"k": "v"}
    with pytest.raises(NotFoundError, match="'nope'"):
        client.get_run("nope")
    with pytest.raises(NotFoundError):
        client.create_run("12345")
    with pytest.raises(NotFoundError):
        client.create_run(experiment_id, parent_run_id="missing")


def test_logging_and_termination(client, run_id):
    client.log_metric(run_id, "loss", 0.5, step=1, timestamp=10)
    client.log_metric(run_id, "loss", 0.25, step=2)
    assert client.log_param(run_id, "lr", 0.01) == 0.01
    client.set_tag(run_id, "stage", "main")
    client.set_note(run_id, "note")
    client.set_terminated(run_id, "FAILED", end_time=5000)
    run = client.get_run(run_id)
    assert run.info.status is RunStatus.FAILED and run.info.end_time == 5000
    assert run.data.metrics == {"loss": 0.25}
    assert run.data.params == {"lr": "0.01"}
    assert run.data.tags == {"stage": "main"}
    assert run.data.note == "note"
    history = client.get_metric_history(run_id, "loss")
    assert all(isinstance(m, Metric) for m in history)
    assert history[0] == Metric("loss", 0.5, 10, 1)
    assert client.get_metric_history(run_id, "other") == []
    with pytest.raises(InvalidInputError, match="unknown run status"):
        client.set_terminated(run_id, "DONE")


def test_logging_to_a_missing_run_fails_at_the_call(client, run_id):
    client.log_metric(run_id, "kept", 1.0)  # buffered
    for call in (lambda: client.log_metric("missing", "m", 1.0),
                 lambda: client.set_tag("missing", "t", "v"),
                 lambda: client.set_note("missing", "n"),
                 lambda: client.log_batch("missing", metrics=[Metric("m", 1.0, 0, 0)]),
                 lambda: client.log_param("missing", "p", 1)):
        with pytest.raises(NotFoundError, match="'missing'"):
            call()
    client.flush()  # the good buffered point is not dropped with the bad one
    assert client.get_run(run_id).data.metrics == {"kept": 1.0}


def test_log_batch_is_one_transaction(client, run_id):
    client.log_batch(run_id, metrics=[Metric("m", float(i), 1000 + i, i) for i in range(5)],
                     params=[Param("p", 1), Param("q", "x")], tags=[RunTag("t", "v")])
    run = client.get_run(run_id)
    assert run.data.metrics == {"m": 4.0}
    assert run.data.params == {"p": "1", "q": "x"}
    assert run.data.tags == {"t": "v"}
    with pytest.raises(ParamConflictError, match="'p'.*'1'.*'2'"):
        client.log_batch(run_id, metrics=[Metric("other", 1.0, 0, 0)], params=[Param("p", 2)],
                         tags=[RunTag("other", "x")])
    run = client.get_run(run_id)  # nothing of the refused batch was written
    assert "other" not in run.data.metrics and "other" not in run.data.tags
    with pytest.raises(ParamConflictError, match="'z'"):  # a conflict inside one batch
        client.log_batch(run_id, params=[Param("z", 1), Param("z", 2)])
    with pytest.raises(InvalidInputError, match="metric 'bad'"):
        client.log_batch(run_id, metrics=[Metric("bad", "x", 0, 0)])  # type: ignore[arg-type]
    assert "z" not in client.get_run(run_id).data.params


def test_param_value_types_are_kept(client, run_id):
    client.log_batch(run_id, params=[Param("i", 3), Param("f", 0.1), Param("b", False),
                                     Param("s", "rf"), Param("n", None)])
    assert client.store.param_types([run_id]) == {
        (run_id, "i"): "int", (run_id, "f"): "float", (run_id, "b"): "bool",
        (run_id, "s"): "str", (run_id, "n"): "none"}
    client.log_param(run_id, "f", 0.1)  # same value again: no-op


def test_buffered_create_run_and_flush(client):
    experiment_id = client.create_experiment("e")
    run = client.create_run(experiment_id, buffered=True)
    client.log_metric(run.info.run_id, "m", 1.0)
    assert client.store.search_runs([experiment_id]) == []  # not written yet
    client.flush()
    assert [r.info.run_id for r in client.store.search_runs([experiment_id])] == [run.info.run_id]


def test_buffer_is_flushed_when_large(root, run_id):
    client = Client(root, flush_interval=3600, max_buffered=10)
    for step in range(10):
        client.log_metric(run_id, "m", float(step), step=step)
    assert len(client.store.get_metric_history(run_id, "m")) == 10  # read past the buffer


def test_buffer_is_flushed_on_a_timer(root, run_id):
    client = Client(root, flush_interval=0.05)
    client.log_metric(run_id, "m", 1.0)
    deadline = time.monotonic() + 10
    while not client.store.get_metric_history(run_id, "m"):
        assert time.monotonic() < deadline, "the flush timer never wrote the point"
        time.sleep(0.02)


def test_a_store_error_keeps_the_buffer(root, client, run_id):
    reader = Client(store=SqliteStore(root, read_only=True))
    reader.set_tag(run_id, "t", "v")
    for _ in range(2):  # still buffered after the failure, so it fails again
        with pytest.raises(StoreError, match="read-only"):
            reader.flush()
    reader._pending = type(reader._pending)()  # let the exit hook pass


def test_garbage_collected_client_loses_nothing(root, python):
    done = python(f"""
        import gc
        from tracking import Client
        def log():
            client = Client({str(root)!r}, flush_interval=3600)
            run = client.create_run(client.get_or_create_experiment("e"))
            client.log_metric(run.info.run_id, "m", 1.0, step=1)
            return run.info.run_id
        run_id = log()
        gc.collect()
        print(run_id)
    """)
    history = Client(root).get_metric_history(done.stdout.strip(), "m")
    assert [(m.step, m.value) for m in history] == [(1, 1.0)]


def test_search_runs_and_delete_restore(client):
    experiment_id = client.create_experiment("e")
    ids = []
    for i in range(3):
        run = client.create_run(experiment_id, run_name=f"r{i}")
        client.log_batch(run.info.run_id, metrics=[Metric("acc", i / 10, 0, 0)],
                         params=[Param("i", i)])
        ids.append(run.info.run_id)
    found = client.search_runs([experiment_id], "metrics.acc >= 0.1", order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in found] == ["r2", "r1"]
    assert [r.info.run_name for r in client.search_runs([experiment_id], max_results=1,
                                                        order_by=["params.i"])] == ["r0"]
    frame = client.search_runs_frame([experiment_id], order_by=["attributes.run_name"])
    assert frame["params.i"].tolist() == ["0", "1", "2"]
    client.delete_run(ids[0])
    assert ids[0] not in {r.info.run_id for r in client.search_runs([experiment_id])}
    assert client.get_run(ids[0]).info.lifecycle_stage == "deleted"
    client.restore_run(ids[0])
    assert len(client.search_runs([experiment_id])) == 3
    with pytest.raises(NotFoundError):
        client.delete_run("missing")
    assert client.search_runs([]) == []


def test_artifacts(client, run_id, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("abc")
    client.log_artifact(run_id, source, "dir")
    client.log_text(run_id, "hello", "t.txt")
    client.log_dict(run_id, {"x": 1}, "d.yaml")
    client.log_dict(run_id, {"x": 1}, "d.json")
    listing = client.list_artifacts(run_id)
    assert [f.path for f in listing] == ["d.json", "d.yaml", "dir", "t.txt"]
    assert FileInfo("dir", True, None) in listing
    assert FileInfo("t.txt", False, 5) in listing
    assert client.list_artifacts(run_id, "dir") == [FileInfo("dir/a.txt", False, 3)]
    local = Path(client.download_artifacts(run_id, "dir", tmp_path / "dl"))
    assert (local / "a.txt").read_text() == "abc"
    assert yaml.safe_load((client.artifact_dir(run_id) / "d.yaml").read_text()) == {"x": 1}


def test_tracking_uris(tmp_path):
    assert resolve_tracking_uri(f"file://{tmp_path}") == str(tmp_path)
    assert resolve_tracking_uri(f"file:{tmp_path}") == str(tmp_path)
    assert resolve_tracking_uri(None).endswith("runs")
    for bad in ("http://server:5000", "", "a\x00b"):
        with pytest.raises(InvalidInputError, match="tracking uri"):
            resolve_tracking_uri(bad)
    assert Client(f"file://{tmp_path}").tracking_uri == str(tmp_path)


def test_client_without_a_uri_follows_the_fluent_api(mlflow, root, tmp_path, monkeypatch):
    assert Client().tracking_uri == str(root.resolve())  # set_tracking_uri, as in MLflow
    mlflow.set_tracking_uri(tmp_path / "elsewhere")
    assert Client().tracking_uri == str((tmp_path / "elsewhere").resolve())


def test_nan_metric_through_the_client(client, run_id):
    client.log_metric(run_id, "m", math.nan, step=3)
    client.log_metric(run_id, "m", math.nan, step=3)
    history = client.get_metric_history(run_id, "m")
    assert len(history) == 2 and all(math.isnan(m.value) for m in history)
    assert tracking.Client is Client


def test_table_reads_see_buffered_writes(root):
    client = Client(root, flush_interval=3600)
    experiment_id = client.create_experiment("tables")
    parent = client.create_run(experiment_id, buffered=True).info.run_id
    child = client.create_run(experiment_id, parent_run_id=parent, buffered=True).info.run_id
    client.log_metric(child, "loss", 0.5, step=2)
    client.set_tag(child, "kind", "trial")
    client.log_param(child, "lr", 0.1)
    page = client.search_run_groups(experiment_id, "tags.kind = 'trial'")
    assert page.total == 1 and page.groups[0].children == (child,)
    assert client.search_run_ids([experiment_id], parent_run_id=parent).run_ids == (child,)
    (summary,) = client.run_summaries([child], params=[], metrics=["loss"], tags=None)
    assert dict(summary.data.metrics) == {"loss": 0.5} and dict(summary.data.params) == {}
    assert summary.data.tags["kind"] == "trial"
    assert client.experiment_stats("params.lr > 0")[experiment_id].matching_count == 1
    assert [k.key for k in client.search_run_keys(experiment_id).metrics] == ["loss"]
    assert client.metric_stats([child])[(child, "loss")].max_step == 2
    assert client.child_stats(parent).metric_points == 1
    assert client.param_types([child]) == {(child, "lr"): "float"}
    assert [(r, m.value) for r, m in client.get_metric_histories([child])] == [(child, 0.5)]


def test_a_batch_writes_many_runs_in_one_transaction_at_the_end(client, root):
    experiment_id = client.get_or_create_experiment("exp")
    with client.batch() as writes:
        run_id = writes.create_run(experiment_id, run_name="t0", status=RunStatus.QUEUED,
                                   tags={"k": 1})
        writes.log_params(run_id, {"lr": 0.1, "depth": 4, "on": True, "none": None})
        writes.log_metrics(run_id, [Metric("loss", 0.5, 10, 1)])
        writes.set_note(run_id, "first")
        assert client.store.search_runs([experiment_id]) == []  # not before the block ends
        writes.start(run_id, 20)
        writes.set_terminated(run_id, RunStatus.FINISHED, 30)
    run = Client(root).get_run(run_id)
    assert (run.info.status, run.info.start_time, run.info.end_time) == (
        RunStatus.FINISHED, 20, 30)
    assert run.data.tags["k"] == "1" and run.data.note == "first"
    assert client.typed_params([run])[run_id] == {"lr": 0.1, "depth": 4, "on": True,
                                                  "none": None}
    with client.batch() as writes:
        writes.reopen(run_id)
    assert client.get_run(run_id).info.status is RunStatus.RUNNING


def test_a_batch_that_raises_writes_nothing_and_bad_values_name_the_field(client):
    experiment_id = client.get_or_create_experiment("exp")
    with pytest.raises(InvalidInputError, match="metric 'loss': value must be a number"):
        with client.batch() as writes:
            writes.create_run(experiment_id)
            writes.log_metrics("any", [Metric("loss", "high", 0, 0)])
    assert client.search_runs([experiment_id]) == []
    with pytest.raises(InvalidInputError, match="param 'p': 'x' is not a int"):
        with client.batch() as writes:
            writes.log_params("any", {"p": ("x", "int")}, encoded=True)


def test_a_buffered_batch_waits_for_the_next_flush(root):
    client = Client(root, flush_interval=60)
    experiment_id = client.get_or_create_experiment("exp")
    with client.batch(buffered=True) as writes:
        run_id = writes.create_run(experiment_id)
    assert client.store.search_runs([experiment_id]) == []
    client.flush()
    assert client.store.get_run(run_id).info.run_id == run_id


def test_a_run_deleted_from_the_store_loses_only_its_own_buffered_writes(tmp_path):
    """Another process removes a run while this client holds writes for it and for others:
    the flush writes the others and raises the refusal once."""
    import sqlite3

    client = Client(str(tmp_path / "store"), flush_interval=3600)
    experiment = client.create_experiment("e")
    kept, gone = (client.create_run(experiment).info.run_id for _ in range(2))
    client.log_metric(kept, "loss", 1.0)
    client.log_metric(gone, "loss", 2.0)
    client.set_tag(kept, "k", "v")
    with sqlite3.connect(tmp_path / "store" / "tracking.db") as conn:
        conn.execute("DELETE FROM runs WHERE run_id = ?", (gone,))
    with pytest.raises(NotFoundError):
        client.flush()
    run = client.get_run(kept)
    assert run.data.metrics == {"loss": 1.0} and run.data.tags["k"] == "v"
    client.flush()  # nothing left over, nothing raised again
