"""The Store contract suite, shipped with the package so every store proves the same things
(as optuna ships `optuna/testing/pytest_storages.py`).

To run it against a store, give a test module a fixture `store_uri` that returns the URI of
a fresh, empty store (anything `tracking.store.open_store` takes), and import the suite::

    @pytest.fixture(params=["sqlite"])
    def store_uri(tmp_path):
        return str(tmp_path / "store")

    from tracking.testing import *  # noqa: F403  (the tests and their fixtures)

The suite checks every Store method, exact value round trips (NaN, +/-inf, -0.0, subnormals),
atomic batches, param immutability under races between threads and between processes, the
filter grammar (OR, parentheses, IN, LIKE, ILIKE, IS NULL, injection payloads), paging and
nesting, read-only stores, and 16 processes writing 160,000 points while another searches
(marked slow). It needs pytest.
"""

from __future__ import annotations

import math
import random
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tracking.entities import (
    Experiment,
    KeyStats,
    Metric,
    MetricStats,
    Run,
    RunGroups,
    RunIds,
    RunInfo,
    RunStatus,
)
from tracking.errors import (
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    StoreError,
)
from tracking.store import open_store
from tracking.store.base import Batch, Store


@pytest.fixture
def artifact_root(tmp_path: Path) -> str:
    """The artifact root the suite's stores use (SQLite stores keep their own)."""
    return str(tmp_path / "artifacts")


@pytest.fixture
def store(store_uri: str, artifact_root: str) -> Store:
    """A fresh, empty store, from the `store_uri` fixture the running module provides."""
    return open_store(store_uri, artifact_root=artifact_root)


@pytest.fixture
def experiment_id(store: Store) -> str:
    return store.create_experiment("exp")


def run_child(code: str, store_uri: str, artifact_root: str, *, timeout: float = 120,
              wait: bool = True) -> subprocess.Popen[str]:
    """Start `code` in a fresh interpreter with `store` opened on the same store."""
    prelude = ("from tracking.store import open_store\n"
               "from tracking.store.base import Batch\n"
               f"store = open_store({store_uri!r}, artifact_root={artifact_root!r})\n")
    child = subprocess.Popen([sys.executable, "-c", prelude + textwrap.dedent(code)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        child.wait(timeout)
    return child


def finish(child: subprocess.Popen[str], timeout: float = 300) -> str:
    """Wait for a child from `run_child`; its stdout, or the test fails with its stderr."""
    out, err = child.communicate(timeout=timeout)
    if child.returncode != 0:
        pytest.fail(f"child failed ({child.returncode}):\n{out}\n{err}")
    return out


def new_run(store: Store, experiment_id: str, run_id: str, *, parent: str | None = None,
            start: int = 1000) -> RunInfo:
    info = RunInfo(run_id=run_id, run_name=f"name-{run_id}", experiment_id=experiment_id,
                   parent_run_id=parent, status=RunStatus.RUNNING, start_time=start,
                   end_time=None, artifact_uri="")
    store.apply(Batch(new_runs=[info]))
    return info


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_experiments(store):
    first = store.create_experiment("a", {"owner": "me"})
    second = store.create_experiment("b")
    assert first != second
    experiment = store.get_experiment(first)
    assert isinstance(experiment, Experiment)
    assert experiment.name == "a" and experiment.tags == {"owner": "me"}
    assert experiment.artifact_location.startswith(store.artifact_root)
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


def test_a_queued_run_starts_running_at_its_start_time(store, experiment_id):
    info = RunInfo(run_id="q1", run_name="queued", experiment_id=experiment_id,
                   parent_run_id=None, status=RunStatus.QUEUED, start_time=5,
                   end_time=None, artifact_uri="")
    store.apply(Batch(new_runs=[info]))
    assert store.get_run("q1").info.status is RunStatus.QUEUED
    store.apply(Batch(starts={"q1": 40}))
    run = store.get_run("q1")
    assert (run.info.status, run.info.start_time) == (RunStatus.RUNNING, 40)
    store.apply(Batch(starts={"q1": 50}, ends={"q1": (RunStatus.FINISHED, 60)}))  # ends last
    run = store.get_run("q1")
    assert (run.info.status, run.info.start_time, run.info.end_time) == (
        RunStatus.FINISHED, 50, 60)
    with pytest.raises(NotFoundError):
        store.apply(Batch(starts={"missing": 1}))


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


# -- reads for tables (pages, counts, keys) --------------------------------------------------


def family(store: Store, experiment_id: str) -> None:
    """s (a sweep) with children s0..s2; flat runs f0, f1; o: child of a deleted run; d: deleted.
    Latest start first is the default order, so groups go f1, f0, o, s."""
    new_run(store, experiment_id, "s", start=10)
    for i in range(3):
        new_run(store, experiment_id, f"s{i}", parent="s", start=20 + i)
        store.apply(Batch(metrics=[(f"s{i}", "loss", [0.3, math.nan, 0.1][i], 0, 5)],
                          params=[(f"s{i}", "lr", str(i), "int")],
                          tags=[(f"s{i}", "trial", str(i))]))
    new_run(store, experiment_id, "d", start=30)
    new_run(store, experiment_id, "o", parent="d", start=31)
    store.set_lifecycle("d", "deleted")
    for i in range(2):
        new_run(store, experiment_id, f"f{i}", start=40 + i)
        store.apply(Batch(metrics=[(f"f{i}", "loss", 0.5 + i, 0, 5)],
                          tags=[(f"f{i}", "flat", "yes")]))
    store.apply(Batch(ends={"s0": (RunStatus.FINISHED, 50), "f0": (RunStatus.FAILED, 60)}))


def test_experiment_stats(store, experiment_id):
    family(store, experiment_id)
    empty = store.create_experiment("empty")
    stats = store.experiment_stats("tags.flat = 'yes'")
    assert set(stats) == {experiment_id, empty}
    mine = stats[experiment_id]
    assert (mine.run_count, mine.top_level_count, mine.matching_count) == (7, 4, 2)
    assert dict(mine.status_counts) == {"RUNNING": 5, "FINISHED": 1, "FAILED": 1}
    assert mine.last_activity == 60
    assert (stats[empty].run_count, stats[empty].last_activity) == (0, None)
    assert store.experiment_stats()[experiment_id].matching_count == 7


def test_search_run_groups_never_split_a_group(store, experiment_id):
    family(store, experiment_id)
    page = store.search_run_groups(experiment_id)
    assert page.total == 4
    assert [g.run_id for g in page.groups] == ["f1", "f0", "o", "s"]
    sweep = page.groups[-1]
    assert (sweep.matched, sweep.child_count, sweep.child_matching) == (True, 3, 3)
    assert sweep.children == ("s2", "s1", "s0")
    second = store.search_run_groups(experiment_id, offset=3, max_results=1, children=2)
    assert (second.total, [g.run_id for g in second.groups]) == (4, ["s"])
    assert second.groups[0].children == ("s2", "s1")
    assert store.search_run_groups(experiment_id, children=0).groups[-1].children == ()


def test_search_run_groups_filter_and_order(store, experiment_id):
    family(store, experiment_id)
    page = store.search_run_groups(experiment_id, "metrics.loss < 0.4", ["metrics.loss"])
    assert [g.run_id for g in page.groups] == ["s"]  # listed for its children only
    group = page.groups[0]
    assert (group.matched, group.child_count, group.child_matching) == (False, 3, 2)
    assert group.children == ("s2", "s0")
    page = store.search_run_groups(experiment_id, "", ["metrics.loss DESC"])
    assert [g.run_id for g in page.groups] == ["f1", "f0", "o", "s"]  # missing values last
    assert page.groups[3].children == ("s0", "s2", "s1")  # NaN last
    assert store.search_run_groups(experiment_id, "tags.none = 'x'") == RunGroups(0, ())
    with pytest.raises(FilterSyntaxError):
        store.search_run_groups(experiment_id, "metrics.loss <")
    with pytest.raises(InvalidInputError, match="offset"):
        store.search_run_groups(experiment_id, offset=-1)


def test_search_run_ids(store, experiment_id):
    family(store, experiment_id)
    children = store.search_run_ids([experiment_id], parent_run_id="s",
                                    order_by=["params.lr"])
    assert children == RunIds(3, ("s0", "s1", "s2"))
    assert store.search_run_ids([experiment_id], "metrics.loss >= 0.1", ["metrics.loss"],
                                offset=1, max_results=2) == RunIds(4, ("s0", "f0"))
    assert store.search_run_ids([experiment_id], max_results=0).total == 7
    assert store.search_run_ids([]) == RunIds(0, ())
    with pytest.raises(InvalidInputError, match="max_results"):
        store.search_run_ids([experiment_id], max_results=-1)


def test_run_summaries_hold_only_the_keys_asked(store, experiment_id):
    family(store, experiment_id)
    store.apply(Batch(metrics=[("f0", "neg", -0.0, 0, 0)], params=[("f0", "p", "x", "str")]))
    runs = store.run_summaries(["f0", "missing", "s1", "f0"], params=["p"],
                               metrics=["neg", "loss"], tags=[])
    assert [r.info.run_id for r in runs] == ["f0", "s1"]
    f0, s1 = runs
    assert f0.info.status is RunStatus.FAILED and f0.info.end_time == 60
    assert dict(f0.data.params) == {"p": "x"} and dict(f0.data.tags) == {}
    assert bits(f0.data.metrics["neg"]) == bits(-0.0) and f0.data.metrics["loss"] == 0.5
    assert math.isnan(s1.data.metrics["loss"]) and dict(s1.data.params) == {}
    full = store.run_summaries(["s1"])[0]
    assert dict(full.data.params) == {"lr": "1"} and dict(full.data.tags) == {"trial": "1"}
    assert store.run_summaries(["d"])[0].info.lifecycle_stage == "deleted"
    assert store.run_summaries([]) == []


def test_search_run_keys(store, experiment_id):
    family(store, experiment_id)
    keys = store.search_run_keys(experiment_id)
    assert keys.matching_runs == 7
    assert keys.params == (KeyStats("lr", 3, True),)
    assert keys.metrics == (KeyStats("loss", 5, True),)
    assert keys.tags == (KeyStats("flat", 2, False), KeyStats("trial", 3, True))
    sweep = store.search_run_keys(experiment_id, "attributes.parent_run_id = 's'")
    assert (sweep.matching_runs, [k.key for k in sweep.tags]) == (3, ["trial"])
    nan_only = store.search_run_keys(experiment_id, "attributes.run_id IN ('s0', 's1')")
    assert nan_only.metrics == (KeyStats("loss", 2, True),)  # NaN differs from 0.3


def test_metric_and_child_stats(store, experiment_id):
    family(store, experiment_id)
    store.apply(Batch(metrics=[("s0", "loss", 0.2, 4, 90), ("s0", "loss", 0.25, 2, 7),
                               ("s0", "loss", math.nan, 5, 8)]))
    stats = store.metric_stats(["s0", "s1", "missing"])
    assert stats[("s0", "loss")] == MetricStats(4, 0, 5, 90, 0.2, 0.3)  # NaN left out
    s1 = stats[("s1", "loss")]  # its one value is NaN
    assert (s1.points, s1.min_step, s1.max_step, s1.last_timestamp) == (1, 0, 0, 5)
    assert math.isnan(s1.min_value) and math.isnan(s1.max_value)
    assert set(stats) == {("s0", "loss"), ("s1", "loss")}
    progress = store.child_stats("s")
    assert dict(progress.status_counts) == {"FINISHED": 1, "RUNNING": 2}
    assert (progress.last_start, progress.last_end) == (22, 50)
    assert (progress.metric_points, progress.last_metric_timestamp) == (6, 90)
    assert progress.tag_count == 3
    empty = store.child_stats("f1")
    assert (dict(empty.status_counts), empty.metric_points, empty.tag_count) == ({}, 1, 1)


# -- more of the contract: opening, ids, reopening, read-only -------------------------------


def test_ids_that_name_nothing_are_not_found(store, experiment_id):
    for bad in ("abc", "", "1.5", str(2**70), "-1"):
        with pytest.raises(NotFoundError):
            store.get_experiment(bad)
    assert store.search_runs(["99999"]) == []
    with pytest.raises(NotFoundError):
        store.get_run("missing")


def test_another_process_sees_every_write(store, store_uri, artifact_root, experiment_id):
    new_run(store, experiment_id, "r1")
    store.apply(Batch(params=[("r1", "p", "v", "str")], metrics=[("r1", "m", -0.0, 0, 1)],
                      notes={"r1": "note"}))
    out = finish(run_child(f"""
        run = store.get_run("r1")
        print(run.data.params["p"], repr(run.data.metrics["m"]), run.data.note)
        store.apply(Batch(tags=[("r1", "from", "child")]))
        print(store.get_experiment({experiment_id!r}).artifact_location)
    """, store_uri, artifact_root, wait=False))
    assert out.splitlines()[0] == "v -0.0 note"
    assert out.splitlines()[1] == store.get_experiment(experiment_id).artifact_location
    assert store.get_run("r1").data.tags == {"from": "child"}


def test_a_read_only_store_reads_and_refuses_writes(store, store_uri, artifact_root,
                                                    experiment_id):
    new_run(store, experiment_id, "r1")
    reader = open_store(store_uri, artifact_root=artifact_root, read_only=True)
    assert reader.read_only and not store.read_only
    assert reader.get_run("r1").info.run_id == "r1"
    assert [r.info.run_id for r in reader.search_runs([experiment_id])] == ["r1"]
    with pytest.raises(StoreError, match="read-only"):
        reader.apply(Batch(tags=[("r1", "k", "v")]))
    with pytest.raises(StoreError, match="read-only"):
        reader.create_experiment("other")
    with pytest.raises(StoreError, match="read-only"):
        reader.set_lifecycle("r1", "deleted")
    assert store.get_run("r1").data.tags == {}


# -- values ------------------------------------------------------------------------------


def test_text_round_trips_exactly(store, experiment_id):
    noise = "".join(random.Random(0).choice("abcdefghé日😀\\'\"%_ ") for _ in range(8000))
    texts = ["", " ", "é", "日本語", "a\nb", "tab\tx", "'quote'", '"dq"', "back\\slash",
             "%_*?[", "😀", "\u200b", "NULL", "\\N", "\\."]
    new_run(store, experiment_id, "r1")
    store.apply(Batch(params=[("r1", f"p{i}", t, "str") for i, t in enumerate([*texts, noise])],
                      tags=[("r1", t or "empty", t) for t in [*texts[1:], noise]],
                      metrics=[("r1", t, float(i), i, 0) for i, t in enumerate(texts[1:])],
                      notes={"r1": "".join(texts) + noise}))
    run = store.get_run("r1")
    assert [run.data.params[f"p{i}"] for i in range(len(texts) + 1)] == [*texts, noise]
    assert all(run.data.tags[t] == t for t in [*texts[1:], noise])
    assert run.data.metrics == {t: float(i) for i, t in enumerate(texts[1:])}
    assert [store.get_metric_history("r1", t)[0].step for t in texts[1:]] == list(
        range(len(texts) - 1))
    assert run.data.note == "".join(texts) + noise


def test_large_steps_and_timestamps_round_trip(store, experiment_id):
    new_run(store, experiment_id, "r1", start=2**62)
    store.apply(Batch(metrics=[("r1", "m", 1.0, -(2**63), 2**63 - 1), ("r1", "m", 2.0, 0, -5)]))
    history = store.get_metric_history("r1", "m")
    assert [(m.step, m.timestamp) for m in history] == [(-(2**63), 2**63 - 1), (0, -5)]
    assert store.get_run("r1").info.start_time == 2**62


# -- params under races --------------------------------------------------------------------


def test_param_race_between_threads_has_one_winner(store, experiment_id):
    new_run(store, experiment_id, "r1")
    barrier = threading.Barrier(8)
    won: list[str] = []
    lost: list[str] = []

    def work(value: str) -> None:
        barrier.wait()
        try:
            store.apply(Batch(params=[("r1", "p", value, "str")]))
            won.append(value)
        except ParamConflictError:
            lost.append(value)

    threads = [threading.Thread(target=work, args=(str(i),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7
    assert store.get_run("r1").data.params == {"p": won[0]}


def test_param_race_between_processes_has_one_winner(store, store_uri, artifact_root,
                                                     experiment_id):
    new_run(store, experiment_id, "r1")
    go = time.time() + 3
    children = [run_child(f"""
        import time
        from tracking.errors import ParamConflictError
        time.sleep(max(0.0, {go} - time.time()))
        try:
            store.apply(Batch(params=[("r1", "p", "{i}", "int"), ("r1", "q{i}", "x", "str")]))
            print("won")
        except ParamConflictError:
            print("lost")
    """, store_uri, artifact_root, wait=False) for i in range(6)]
    outs = [finish(child).strip() for child in children]
    assert sorted(outs) == ["lost"] * 5 + ["won"]
    winner = str(outs.index("won"))
    params = store.get_run("r1").data.params
    assert params == {"p": winner, f"q{winner}": "x"}  # a loser wrote nothing


# -- the filter grammar --------------------------------------------------------------------


def grammar_runs(store: Store, experiment_id: str) -> None:
    """Five runs with params, metrics and tags the filter tests below select among."""
    rows = [
        ("a", {"model": "rf", "depth": ("10", "int"), "lr": ("0.1", "float")},
         {"acc": 0.9, "loss": math.nan}, {"team": "Blue", "v": "v2.1"}),
        ("b", {"model": "RF", "depth": ("9", "int"), "lr": ("inf", "float")},
         {"acc": 0.5, "loss": 0.2}, {"team": "blue", "v": "v2%"}),
        ("c", {"model": "svm", "depth": ("x", "str")}, {"acc": -math.inf},
         {"team": "red", "word": "Éa"}),
        ("d", {"model": "rf_2", "lr": ("nan", "float")}, {"acc": math.inf, "loss": -0.0},
         {"v": "v1"}),
        ("e", {}, {}, {}),
    ]
    for i, (run_id, params, metrics, tags) in enumerate(rows):
        new_run(store, experiment_id, run_id, start=100 + i)
        store.apply(Batch(
            params=[(run_id, k, *(v if isinstance(v, tuple) else (v, "str")))
                    for k, v in params.items()],
            metrics=[(run_id, k, v, 0, 0) for k, v in metrics.items()],
            tags=[(run_id, k, v) for k, v in tags.items()]))
    store.set_lifecycle("e", "deleted")
    new_run(store, experiment_id, "child", parent="a", start=200)


FILTERS = [
    ("params.model = 'rf'", {"a"}),
    ("params.model != 'rf'", {"b", "c", "d"}),
    ("params.model LIKE 'rf%'", {"a", "d"}),
    ("params.model LIKE 'rf\\_%'", {"d"}),
    ("params.model ILIKE 'rf'", {"a", "b"}),
    ("params.model IN ('rf', 'svm')", {"a", "c"}),
    ("params.model NOT IN ('rf', 'svm')", {"b", "d"}),
    ("params.model < 'a'", {"b"}),  # byte order: 'R' < 'a'
    ("params.depth > 9", {"a"}),  # numeric, and only params logged as numbers
    ("params.depth >= 9", {"a", "b"}),
    ("params.depth > '9'", {"c"}),  # as text: '10' < '9' < 'x'
    ("params.lr > 1000", {"b"}),  # 'inf' is infinite, 'nan' never matches
    ("params.lr != 0.1", {"b"}),
    ("params.depth IS NULL", {"d", "child"}),
    ("params.depth IS NOT NULL", {"a", "b", "c"}),
    ("metrics.acc > 0.6", {"a", "d"}),
    ("metrics.acc < 0", {"c"}),
    ("metrics.loss != 1", {"b", "d"}),  # NaN satisfies nothing
    ("metrics.loss = 0", {"d"}),  # -0.0 = 0
    ("metrics.loss IS NOT NULL", {"a", "b", "d"}),  # NaN is present
    ("metrics.loss IS NULL", {"c", "child"}),
    ("tags.team = 'blue' OR tags.team = 'red'", {"b", "c"}),
    ("tags.team ILIKE 'BLUE'", {"a", "b"}),
    ("tags.team LIKE 'b%'", {"b"}),
    ("tags.word ILIKE 'ÉA'", {"c"}),  # ILIKE folds ASCII letters only
    ("tags.word ILIKE 'éa'", set()),
    ("tags.word = 'éa'", set()),
    ("tags.v LIKE 'v2\\%'", {"b"}),
    ("tags.v LIKE 'v_._'", {"a"}),
    ("(params.model = 'rf' OR params.model = 'svm') AND metrics.acc > 0", {"a"}),
    ("params.model = 'rf' OR (params.model = 'svm' AND metrics.acc > 0)", {"a"}),
    ("NOT params.model = 'rf'", {"b", "c", "d", "child"}),
    ("NOT (tags.team = 'blue' OR params.model LIKE 'rf%')", {"c", "child"}),
    ("attributes.run_id IN ('a', 'c')", {"a", "c"}),
    ("attributes.parent_run_id = 'a'", {"child"}),
    ("attributes.parent_run_id IS NULL", {"a", "b", "c", "d"}),
    ("attributes.start_time >= 102", {"c", "d", "child"}),
    ("attributes.status = 'RUNNING' AND attributes.run_name LIKE 'name-%'",
     {"a", "b", "c", "d", "child"}),
    ("attributes.end_time IS NULL", {"a", "b", "c", "d", "child"}),
    ("params.`model` = \"rf\"", {"a"}),
]


@pytest.mark.parametrize(("text", "expected"), FILTERS, ids=[f for f, _ in FILTERS])
def test_filter_grammar(store, experiment_id, text, expected):
    grammar_runs(store, experiment_id)
    assert {r.info.run_id for r in store.search_runs([experiment_id], text)} == expected


ORDERS = [
    (["metrics.acc DESC"], ["d", "a", "b", "c", "child"]),
    (["metrics.acc"], ["c", "b", "a", "d", "child"]),
    (["metrics.loss"], ["d", "b", "child", "c", "a"]),  # NaN and missing last, latest first
    (["params.depth DESC"], ["a", "b", "c", "child", "d"]),  # numbers, then text, then none
    (["tags.team"], ["a", "b", "c", "child", "d"]),  # byte order: 'Blue' < 'blue'
    (["attributes.run_id DESC"], ["d", "child", "c", "b", "a"]),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS, ids=[o[0] for o, _ in ORDERS])
def test_order_by(store, experiment_id, order_by, expected):
    grammar_runs(store, experiment_id)
    assert [r.info.run_id for r in store.search_runs([experiment_id], "",
                                                     order_by)] == expected


INJECTIONS = [
    "x'; DROP TABLE runs; --",
    "' OR '1'='1",
    "'); DELETE FROM params; --",
    "\\'; DROP TABLE metrics; --",
    "%' OR 1=1 --",
    "x\" OR \"1\"=\"1",
    "1; SELECT pg_sleep(5)",
    "$1",
    "%s",
    "?",
    "') UNION SELECT * FROM runs --",
    "\u0000",
]


@pytest.mark.parametrize("payload", INJECTIONS, ids=range(len(INJECTIONS)))
def test_injection_payloads_are_only_values(store, experiment_id, payload):
    grammar_runs(store, experiment_id)
    escaped = payload.replace("\\", "\\\\").replace("'", "\\'")
    back = payload.replace("\\", "\\\\").replace("`", "\\`")
    for text in (f"params.model = '{escaped}'", f"tags.team LIKE '{escaped}'",
                 f"tags.team ILIKE '%{escaped}%'", f"params.`{back}` = 'x'",
                 f"tags.`{back}` IS NULL", f"params.model IN ('{escaped}', 'rf')"):
        try:
            found = {r.info.run_id for r in store.search_runs([experiment_id], text)}
        except FilterSyntaxError:
            continue  # refused as text: fine, nothing ran
        assert found <= {"a", "b", "c", "d", "child"}
        assert found in (set(), {"a"}, {"a", "b", "c", "d", "child"})
    for order in ([f"params.`{back}`"], [f"tags.`{back}` DESC"]):
        try:
            assert len(store.search_runs([experiment_id], "", order)) == 5
        except FilterSyntaxError:
            pass
    assert len(store.search_runs([experiment_id])) == 5
    assert store.get_run("a").data.params["model"] == "rf"


# -- many writers at once ------------------------------------------------------------------


@pytest.mark.slow
def test_sixteen_processes_land_every_point_while_searching(store, store_uri, artifact_root,
                                                             experiment_id):
    runs = [f"w{i:02d}" for i in range(16)]
    store.apply(Batch(new_runs=[RunInfo(
        run_id=rid, run_name=rid, experiment_id=experiment_id, parent_run_id=None,
        status=RunStatus.RUNNING, start_time=1, end_time=None, artifact_uri="")
        for rid in runs]))
    children = [run_child(f"""
        for part in range(10):
            store.apply(Batch(metrics=[({rid!r}, "m", float(part * 1000 + i), part * 1000 + i,
                                        0) for i in range(1000)]))
    """, store_uri, artifact_root, wait=False) for rid in runs]
    searches = 0
    while any(child.poll() is None for child in children):
        found = store.search_runs([experiment_id], "metrics.m >= 0", ["metrics.m DESC"])
        assert {r.info.run_id for r in found} <= set(runs)
        searches += 1
    for child in children:
        finish(child)
    assert searches > 0
    points = store.get_metric_histories(runs)
    assert len(points) == 160_000
    for rid in runs:
        mine = [m.step for r, m in points if r == rid]
        assert mine == list(range(10_000))
        assert store.get_run(rid).data.metrics["m"] == 9999.0


# -- the model registry --------------------------------------------------------------------


def test_registered_models(store):
    created = store.create_registered_model("iris", "first", {"team": "ml"})
    assert (created.name, created.description, created.tags) == ("iris", "first", {"team": "ml"})
    assert created.aliases == {} and created.latest_version is None
    with pytest.raises(InvalidInputError, match="already exists"):
        store.create_registered_model("iris")
    store.create_registered_model("alpha")
    assert [m.name for m in store.search_registered_models()] == ["alpha", "iris"]
    updated = store.update_registered_model("iris", "second")
    assert updated.description == "second"
    assert updated.last_updated_timestamp >= created.last_updated_timestamp
    store.set_registered_model_tag("iris", "team", "cv")
    store.set_registered_model_tag("iris", "stage", "dev")
    assert store.get_registered_model("iris").tags == {"team": "cv", "stage": "dev"}
    store.delete_registered_model("iris")
    with pytest.raises(NotFoundError, match="'iris'"):
        store.get_registered_model("iris")
    for call in (lambda: store.update_registered_model("nope", ""),
                 lambda: store.delete_registered_model("nope"),
                 lambda: store.set_registered_model_tag("nope", "k", "v")):
        with pytest.raises(NotFoundError, match="'nope'"):
            call()


def test_model_versions(store):
    first = store.create_model_version("m", "runs:/r1/model", "r1", {"k": "v"}, "d", "ann")
    assert (first.name, first.version, first.source, first.run_id, first.tags,
            first.description, first.user_id, first.status) == (
        "m", 1, "runs:/r1/model", "r1", {"k": "v"}, "d", "ann", "READY")
    store.create_model_version("m", "runs:/r2/model", "r2", {}, "", "bob")
    store.create_model_version("other", "runs:/r2/model", "r2", {}, "", "bob")
    assert store.get_registered_model("m").latest_version == 2
    assert [(v.name, v.version) for v in store.search_model_versions()] == [
        ("m", 1), ("m", 2), ("other", 1)]
    assert [(v.name, v.version) for v in store.search_model_versions(run_id="r2")] == [
        ("m", 2), ("other", 1)]
    assert [v.version for v in store.search_model_versions(name="m", run_id="r1")] == [1]
    assert store.update_model_version("m", 1, "new").description == "new"
    store.set_model_version_tag("m", 1, "k", "w")
    assert store.get_model_version("m", 1).tags == {"k": "w"}
    with pytest.raises(NotFoundError, match="no version 9"):
        store.get_model_version("m", 9)
    with pytest.raises(NotFoundError, match="'nope'"):
        store.get_model_version("nope", 1)


def test_version_numbers_are_never_reused(store):
    for _ in range(3):
        store.create_model_version("m", "runs:/r/model", "r", {}, "", "u")
    store.delete_model_version("m", 3, "u")
    store.delete_model_version("m", 2, "u")
    assert store.create_model_version("m", "runs:/r/model", "r", {}, "", "u").version == 4
    assert [v.version for v in store.search_model_versions(name="m")] == [1, 4]
    with pytest.raises(NotFoundError):
        store.delete_model_version("m", 2, "u")


def test_alias_moves_and_history(store):
    for _ in range(3):
        store.create_model_version("m", "runs:/r/model", "r", {}, "", "u")
    store.set_registered_model_alias("m", "champion", 1, "ann", "first")
    store.set_registered_model_alias("m", "champion", 1, "ann", "again")  # no move: no entry
    store.set_registered_model_alias("m", "champion", 2, "bob", "better")
    store.set_registered_model_alias("m", "staging", 3, "bob")
    assert store.get_model_version_by_alias("m", "champion").version == 2
    assert store.get_model_version("m", 2).aliases == ("champion",)
    assert store.get_model_version("m", 1).aliases == ()
    assert store.get_registered_model("m").aliases == {"champion": 2, "staging": 3}
    store.delete_model_version("m", 3, "cy")  # takes its alias with it
    store.delete_registered_model_alias("m", "champion", "dee", "rollback")
    with pytest.raises(NotFoundError, match="'champion'"):
        store.get_model_version_by_alias("m", "champion")
    with pytest.raises(NotFoundError, match="'champion'"):
        store.delete_registered_model_alias("m", "champion", "dee")
    with pytest.raises(NotFoundError, match="no version 7"):
        store.set_registered_model_alias("m", "champion", 7, "dee")
    moves = [(h.alias, h.from_version, h.to_version, h.user, h.reason)
             for h in store.get_alias_history("m")]
    assert moves == [("champion", None, 1, "ann", "first"), ("champion", 1, 2, "bob", "better"),
                     ("staging", None, 3, "bob", ""), ("staging", 3, None, "cy",
                                                       "version 3 deleted"),
                     ("champion", 2, None, "dee", "rollback")]
    assert [h.to_version for h in store.get_alias_history("m", "champion")] == [1, 2, None]
    times = [h.timestamp for h in store.get_alias_history("m")]
    assert times == sorted(times) and times[0] > 0
    store.delete_registered_model("m")
    assert store.get_alias_history("m") == []


def test_registration_races_between_processes_take_distinct_numbers(store, store_uri,
                                                                    artifact_root):
    go = time.time() + 3
    children = [run_child(f"""
        import time
        time.sleep(max(0.0, {go} - time.time()))
        for _ in range(15):
            print(store.create_model_version("m", "runs:/r/model", "r", {{}}, "", "u").version)
    """, store_uri, artifact_root, wait=False) for _ in range(2)]
    numbers = [int(n) for child in children for n in finish(child).split()]
    assert sorted(numbers) == list(range(1, 31))
    assert [v.version for v in store.search_model_versions(name="m")] == list(range(1, 31))


__all__ = sorted(name for name in dir() if name.startswith("test_")) + [
    "artifact_root", "experiment_id", "store"]
