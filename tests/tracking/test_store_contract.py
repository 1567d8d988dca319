"""The Store contract (tracking/store/base.py), run against every store implementation."""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tracking.entities import Experiment, Metric, Run, RunInfo, RunStatus
from tracking.errors import InvalidInputError, NotFoundError, ParamConflictError
from tracking.store.base import Batch, Store
from tracking.store.sqlite import SqliteStore

STORES: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda root: SqliteStore(root),
}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path: Path) -> Store:
    return STORES[request.param](tmp_path / "store")


def new_run(store: Store, experiment_id: str, run_id: str, *, parent: str | None = None,
            start: int = 1000) -> RunInfo:
    info = RunInfo(run_id=run_id, run_name=f"name-{run_id}", experiment_id=experiment_id,
                   parent_run_id=parent, status=RunStatus.RUNNING, start_time=start,
                   end_time=None, artifact_uri="")
    store.apply(Batch(new_runs=[info]))
    return info


@pytest.fixture
def experiment_id(store: Store) -> str:
    return store.create_experiment("exp")


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_experiments(store):
    first = store.create_experiment("a", {"owner": "me"})
    second = store.create_experiment("b")
    assert first != second
    experiment = store.get_experiment(first)
    assert isinstance(experiment, Experiment)
    assert experiment.name == "a" and experiment.tags == {"owner": "me"}
    assert experiment.artifact_location.startswith(store.root)
    assert store.get_experiment_by_name("b").experiment_id == second
    assert store.get_experiment_by_name("missing") is None
    assert [e.name for e in store.search_experiments()] == ["a", "b"]
    store.set_experiment_tag(second, "k", "v1")
    store.set_experiment_tag(second, "k", "v2")
    assert store.get_experiment(second).tags == {"k": "v2"}
    with pytest.raises(InvalidInputError, match="'a' already exists"):
        store.create_experiment("a")
    with pytest.raises(NotFoundError):
        store.get_experiment("424242")
    with pytest.raises(NotFoundError):
        store.set_experiment_tag("424242", "k", "v")


def test_apply_writes_everything_and_ends_last(store, experiment_id):
    info = RunInfo(run_id="r1", run_name="one", experiment_id=experiment_id,
                   parent_run_id=None, status=RunStatus.RUNNING, start_time=5,
                   end_time=None, artifact_uri="")
    store.apply(Batch(new_runs=[info], metrics=[("r1", "loss", 0.5, 1, 100)],
                      params=[("r1", "lr", "0.1", "float")], tags=[("r1", "t", "v")],
                      notes={"r1": "hello"}, ends={"r1": (RunStatus.FINISHED, 99)}))
    run = store.get_run("r1")
    assert isinstance(run, Run)
    assert run.info.status is RunStatus.FINISHED and run.info.end_time == 99
    assert (run.info.run_name, run.info.start_time, run.info.experiment_id) == ("one", 5,
                                                                                 experiment_id)
    assert dict(run.data.metrics) == {"loss": 0.5}
    assert dict(run.data.params) == {"lr": "0.1"}
    assert dict(run.data.tags) == {"t": "v"}
    assert run.data.note == "hello"
    assert run.info.lifecycle_stage == "active"
    store.apply(Batch())  # empty: a no-op


def test_apply_is_atomic_on_a_param_conflict(store, experiment_id):
    new_run(store, experiment_id, "r1")
    store.apply(Batch(params=[("r1", "p", "1", "int")]))
    fresh = RunInfo(run_id="r2", run_name="two", experiment_id=experiment_id,
                    parent_run_id=None, status=RunStatus.RUNNING, start_time=1, end_time=None,
                    artifact_uri="")
    with pytest.raises(ParamConflictError, match="'p'.*'1'.*'2'"):
        store.apply(Batch(new_runs=[fresh], metrics=[("r1", "m", 1.0, 0, 0)],
                          params=[("r1", "q", "x", "str"), ("r1", "p", "2", "int")],
                          tags=[("r1", "t", "v")], ends={"r1": (RunStatus.FINISHED, 1)}))
    run = store.get_run("r1")
    assert dict(run.data.params) == {"p": "1"}
    assert dict(run.data.metrics) == {} and dict(run.data.tags) == {}
    assert run.info.status is RunStatus.RUNNING
    with pytest.raises(NotFoundError):
        store.get_run("r2")
    store.apply(Batch(params=[("r1", "p", "1", "int")]))  # the same value: a no-op


def test_apply_to_a_missing_run_writes_nothing(store, experiment_id):
    new_run(store, experiment_id, "r1")
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.apply(Batch(metrics=[("r1", "m", 1.0, 0, 0), ("ghost", "m", 1.0, 0, 0)]))
    assert store.get_metric_history("r1", "m") == []


SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, 5e-324, -5e-324, 0.1]


def test_metric_values_are_exact(store, experiment_id):
    new_run(store, experiment_id, "r1")
    store.apply(Batch(metrics=[("r1", "x", v, i, 10) for i, v in enumerate(SPECIAL)]))
    store.apply(Batch(metrics=[("r1", "x", math.nan, 0, 10)]))  # the same point twice
    history = store.get_metric_history("r1", "x")
    assert [bits(m.value) for m in history[2:]] == [bits(v) for v in SPECIAL[1:]]
    assert math.isnan(history[0].value) and math.isnan(history[1].value)
    assert [m.step for m in history] == [0, 0, *range(1, len(SPECIAL))]
    assert all(isinstance(m, Metric) and m.key == "x" and m.timestamp == 10 for m in history)
    for value in SPECIAL:
        store.apply(Batch(metrics=[("r1", "latest", value, 0, 0)]))
        got = store.get_run("r1").data.metrics["latest"]
        assert bits(got) == bits(value) or (math.isnan(got) and math.isnan(value))


def test_history_order_and_latest_value(store, experiment_id):
    new_run(store, experiment_id, "r1")
    store.apply(Batch(metrics=[("r1", "m", 3.0, 3, 300), ("r1", "m", 1.0, 1, 100)]))
    store.apply(Batch(metrics=[("r1", "m", 2.0, 2, 900)]))  # an older step, logged later
    store.apply(Batch(metrics=[("r1", "m", 4.0, 3, 50)]))  # same step, older timestamp
    history = store.get_metric_history("r1", "m")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (1, 100, 1.0), (2, 900, 2.0), (3, 50, 4.0), (3, 300, 3.0)]
    assert store.get_run("r1").data.metrics["m"] == 3.0
    store.apply(Batch(metrics=[("r1", "m", 5.0, 3, 300)]))  # a tie: the later write wins
    assert store.get_run("r1").data.metrics["m"] == 5.0
    with pytest.raises(NotFoundError):
        store.get_metric_history("missing", "m")


def test_metric_histories_of_many_runs(store, experiment_id):
    for run_id in ("a", "b"):
        new_run(store, experiment_id, run_id)
        store.apply(Batch(metrics=[(run_id, "m", float(s), s, 0) for s in range(3)]))
    rows = store.get_metric_histories(["a", "b", "missing"])
    assert [(rid, m.step) for rid, m in rows] == [("a", 0), ("a", 1), ("a", 2),
                                                   ("b", 0), ("b", 1), ("b", 2)]
    assert store.get_metric_histories([]) == []


def test_search_runs_and_lifecycle(store, experiment_id):
    other = store.create_experiment("other")
    for i in range(4):
        new_run(store, experiment_id, f"r{i}", start=i)
        store.apply(Batch(metrics=[(f"r{i}", "acc", i / 10, 0, 0)],
                          params=[(f"r{i}", "model", "rf" if i % 2 else "svm", "str")]))
    new_run(store, other, "x0", parent="r0")
    runs = store.search_runs([experiment_id], "params.model = 'rf'", ["metrics.acc DESC"])
    assert [r.info.run_id for r in runs] == ["r3", "r1"]
    assert [r.info.run_id for r in store.search_runs([experiment_id], max_results=2,
                                                     order_by=["attributes.start_time"])] == [
        "r0", "r1"]
    assert len(store.search_runs([experiment_id, other])) == 5
    assert store.search_runs([]) == []
    assert store.search_runs([experiment_id], "metrics.acc > 5") == []
    store.set_lifecycle("r1", "deleted")
    assert "r1" not in {r.info.run_id for r in store.search_runs([experiment_id])}
    deleted = {r.info.run_id: r for r in store.search_runs([experiment_id],
                                                           include_deleted=True)}
    assert deleted["r1"].info.lifecycle_stage == "deleted"
    store.set_lifecycle("r1", "active")
    assert len(store.search_runs([experiment_id])) == 4
    assert store.get_run("x0").info.parent_run_id == "r0"
    with pytest.raises(NotFoundError):
        store.set_lifecycle("missing", "deleted")


def test_param_types(store, experiment_id):
    new_run(store, experiment_id, "r1")
    store.apply(Batch(params=[("r1", "a", "1", "int"), ("r1", "b", "x", "str")]))
    assert store.param_types(["r1", "missing"]) == {("r1", "a"): "int", ("r1", "b"): "str"}


def test_threads_share_a_store_and_lose_nothing(store, experiment_id):
    new_run(store, experiment_id, "r1")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for batch in range(20):
                store.apply(Batch(metrics=[("r1", f"w{worker}", float(batch * 10 + i),
                                            batch * 10 + i, 0) for i in range(10)]))
                store.get_run("r1")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for worker in range(6):
        history = store.get_metric_history("r1", f"w{worker}")
        assert [m.value for m in history] == [float(i) for i in range(200)]
