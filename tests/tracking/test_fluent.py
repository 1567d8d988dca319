"""tracking.fluent: MLflow's module functions against a real store in tmp_path."""

from __future__ import annotations

import json
import math
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tracking import Client, RunStatus
from tracking.errors import InvalidInputError, NotFoundError, ParamConflictError


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


# -- run lifecycle -------------------------------------------------------------------------

def test_start_run_as_context_manager_ends_finished(mlflow):
    mlflow.set_experiment("demo")
    with mlflow.start_run(run_name="baseline", tags={"team": "a"},
                          description="first try") as run:
        assert mlflow.active_run() is run
        mlflow.log_param("depth", 3)
        mlflow.log_metric("loss", 0.5, step=1)
    assert mlflow.active_run() is None
    stored = mlflow.get_run(run.info.run_id)
    assert stored.info.status is RunStatus.FINISHED
    assert stored.info.run_name == "baseline"
    assert stored.info.end_time >= stored.info.start_time
    assert stored.info.experiment_id == mlflow.set_experiment("demo").experiment_id
    assert stored.data.params == {"depth": "3"}
    assert stored.data.metrics == {"loss": 0.5}
    assert stored.data.tags["team"] == "a"
    assert stored.data.note == "first try"
    assert any(key.startswith("sys.") for key in stored.data.tags)


def test_capture_environment_can_be_switched_off(mlflow):
    with mlflow.start_run(capture_environment=False) as run:
        pass
    assert mlflow.get_run(run.info.run_id).data.tags == {}


def test_default_run_name_and_default_experiment(mlflow):
    with mlflow.start_run() as run:
        pass
    assert run.info.run_name
    experiment = Client(mlflow.get_tracking_uri()).get_experiment(run.info.experiment_id)
    assert experiment.name == "Default"


def test_nested_runs_record_their_parent(mlflow):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            assert mlflow.active_run() is child
        assert mlflow.active_run() is parent
    assert mlflow.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id
    assert mlflow.get_run(parent.info.run_id).info.parent_run_id is None
    frame = mlflow.search_runs(filter_string=f"attributes.parent_run_id = '{parent.info.run_id}'")
    assert frame["run_id"].tolist() == [child.info.run_id]


def test_nested_without_an_active_run_starts_a_top_level_run(mlflow):
    with mlflow.start_run(nested=True) as run:  # as MLflow: no parent to attach to
        pass
    assert mlflow.get_run(run.info.run_id).info.parent_run_id is None


def test_explicit_parent_run_id(mlflow):
    with mlflow.start_run() as parent:
        pass
    with mlflow.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    assert mlflow.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id
    with pytest.raises(NotFoundError, match="nope"):
        mlflow.start_run(parent_run_id="nope")


def test_start_run_while_a_run_is_active_needs_nested(mlflow):
    with mlflow.start_run() as outer:
        with pytest.raises(InvalidInputError, match=f"{outer.info.run_id} is already active"):
            mlflow.start_run()
        with pytest.raises(InvalidInputError, match="nested=True"):
            mlflow.start_run(run_id=outer.info.run_id)
        assert mlflow.active_run() is outer
    assert mlflow.get_run(outer.info.run_id).info.status is RunStatus.FINISHED


def test_inner_runs_left_open_end_with_the_outer_run(mlflow):
    with mlflow.start_run() as outer:
        inner = mlflow.start_run(nested=True)
    assert mlflow.active_run() is None
    assert mlflow.get_run(inner.info.run_id).info.status is RunStatus.FINISHED
    assert mlflow.get_run(outer.info.run_id).info.status is RunStatus.FINISHED


def test_reopen_a_run_by_id_appends_to_it(mlflow):
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0, step=0)
        mlflow.log_param("lr", 0.1)
    run_id = run.info.run_id
    with mlflow.start_run(run_id=run_id) as again:
        assert again.info.run_id == run_id
        assert mlflow.get_run(run_id).info.status is RunStatus.RUNNING
        assert mlflow.get_run(run_id).info.end_time is None
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_param("lr", 0.1)  # same value again: a no-op
    stored = mlflow.get_run(run_id)
    assert stored.info.status is RunStatus.FINISHED
    history = Client(mlflow.get_tracking_uri()).get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5)]
    with pytest.raises(NotFoundError, match="missing"):
        mlflow.start_run(run_id="missing")


def test_an_exception_ends_the_run_failed(mlflow):
    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as run:
            mlflow.log_metric("loss", 0.25)
            1 / 0  # noqa: B018
    stored = mlflow.get_run(run.info.run_id)
    assert stored.info.status is RunStatus.FAILED
    assert stored.data.metrics == {"loss": 0.25}  # flushed on the way out


def test_keyboard_interrupt_ends_the_run_killed(mlflow):
    with pytest.raises(KeyboardInterrupt):
        with mlflow.start_run() as run:
            raise KeyboardInterrupt
    assert mlflow.get_run(run.info.run_id).info.status is RunStatus.KILLED


def test_logging_without_start_run_starts_one(mlflow):
    assert mlflow.active_run() is None
    mlflow.log_metric("loss", 0.1)
    run = mlflow.active_run()
    assert run is not None
    mlflow.end_run()
    assert mlflow.active_run() is None
    stored = mlflow.get_run(run.info.run_id)
    assert stored.info.status is RunStatus.FINISHED
    assert stored.data.metrics == {"loss": 0.1}


def test_end_run_with_a_status(mlflow):
    run = mlflow.start_run()
    mlflow.end_run("killed")
    assert mlflow.get_run(run.info.run_id).info.status is RunStatus.KILLED
    mlflow.end_run()  # nothing active: a no-op
    mlflow.start_run()
    with pytest.raises(InvalidInputError, match="unknown run status 'DONE'"):
        mlflow.end_run("DONE")


def test_set_experiment(mlflow, root):
    first = mlflow.set_experiment("a")
    assert mlflow.set_experiment("a").experiment_id == first.experiment_id
    assert mlflow.set_experiment(experiment_id=first.experiment_id).name == "a"
    with pytest.raises(InvalidInputError, match="exactly one"):
        mlflow.set_experiment()
    with pytest.raises(InvalidInputError, match="experiment name"):
        mlflow.set_experiment("x" * 1000)
    assert mlflow.get_tracking_uri() == str(root.resolve())


def test_a_new_tracking_uri_forgets_the_active_experiment(mlflow, tmp_path):
    mlflow.set_experiment("only-in-the-first-store")
    mlflow.set_tracking_uri(mlflow.get_tracking_uri())  # the same store: kept
    with mlflow.start_run() as run:
        pass
    assert Client(mlflow.get_tracking_uri()).get_experiment(
        run.info.experiment_id).name == "only-in-the-first-store"
    mlflow.set_tracking_uri(tmp_path / "second")
    with mlflow.start_run() as run:  # not experiment id 1 of the first store
        pass
    assert Client(tmp_path / "second").get_experiment(run.info.experiment_id).name == "Default"


# -- params, metrics, tags, notes ----------------------------------------------------------

def test_params_are_immutable(mlflow):
    with mlflow.start_run() as run:
        assert mlflow.log_param("lr", 0.1) == 0.1
        mlflow.log_params({"lr": 0.1, "depth": 4, "flag": True, "nothing": None})
        with pytest.raises(ParamConflictError) as caught:
            mlflow.log_param("lr", 0.2)
        message = str(caught.value)
        assert "'lr'" in message and "'0.1'" in message and "'0.2'" in message
        assert "\n" not in message
        mlflow.log_metric("after", 1.0)  # the run goes on
    stored = mlflow.get_run(run.info.run_id)
    assert stored.data.params == {"lr": "0.1", "depth": "4", "flag": "True", "nothing": "None"}
    assert stored.data.metrics == {"after": 1.0}


SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 5e-324, 2.0**-1074, 1 / 3]


def test_special_metric_values_round_trip_exactly(mlflow):
    with mlflow.start_run() as run:
        for step, value in enumerate(SPECIAL):
            mlflow.log_metric("x", value, step=step)
        mlflow.log_metric("x", math.nan, step=0)  # the same NaN point again is accepted
        mlflow.log_metrics({"a": -0.0, "b": math.nan}, step=7)
    client = Client(mlflow.get_tracking_uri())
    history = client.get_metric_history(run.info.run_id, "x")
    assert [m.step for m in history] == [0, 0, *range(1, len(SPECIAL))]
    got = [m.value for m in history]
    assert [bits(v) for v in got[1:]] == [bits(v) for v in SPECIAL]
    assert math.isnan(got[0])
    latest = mlflow.get_run(run.info.run_id).data.metrics
    assert bits(latest["x"]) == bits(SPECIAL[-1])
    assert bits(latest["a"]) == bits(-0.0) and math.isnan(latest["b"])


def test_metric_steps_and_timestamps(mlflow):
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0, step=5, timestamp=1234)
        mlflow.log_metric("m", 2.0)  # step 0, timestamp now
        mlflow.log_metric("m", 3.0, step=2**63 - 1)
        mlflow.log_metric("m", 4.0, step=-(2**63))
    history = Client(mlflow.get_tracking_uri()).get_metric_history(run.info.run_id, "m")
    assert [(m.step, m.value) for m in history] == [
        (-(2**63), 4.0), (0, 2.0), (5, 1.0), (2**63 - 1, 3.0)]
    assert history[2].timestamp == 1234
    assert mlflow.get_run(run.info.run_id).data.metrics == {"m": 3.0}


BAD_INPUTS = [
    ("metric bool", lambda m: m.log_metric("acc", True), "metric 'acc': value must be a number"),
    ("metric str", lambda m: m.log_metric("acc", "0.5"), "metric 'acc': value must be a number"),
    ("metric 1e999 str", lambda m: m.log_metric("acc", "1e999"), "metric 'acc'"),
    ("metric None", lambda m: m.log_metric("acc", None), "metric 'acc': value must be a number"),
    ("metric huge int", lambda m: m.log_metric("acc", 10**400), "does not fit a 64-bit float"),
    ("step too big", lambda m: m.log_metric("acc", 1.0, step=2**63), "step"),
    ("step float", lambda m: m.log_metric("acc", 1.0, step=1.5), "step must be an integer"),
    ("step bool", lambda m: m.log_metric("acc", 1.0, step=True), "step must be an integer"),
    ("timestamp inf", lambda m: m.log_metric("acc", 1.0, timestamp=math.inf), "timestamp"),
    ("timestamp huge", lambda m: m.log_metric("acc", 1.0, timestamp=1e300), "timestamp"),
    ("metrics bad value", lambda m: m.log_metrics({"a": 1.0, "b": "x"}), "metric 'b'"),
    ("empty metric key", lambda m: m.log_metric("", 1.0), "metric key"),
    ("NUL metric key", lambda m: m.log_metric("a\x00b", 1.0), "metric key"),
    ("newline metric key", lambda m: m.log_metric("a\nb", 1.0), "metric key"),
    ("non-str metric key", lambda m: m.log_metric(3, 1.0), "metric key"),
    ("long metric key", lambda m: m.log_metric("k" * 251, 1.0), "metric key"),
    ("empty param key", lambda m: m.log_param("", 1), "param key"),
    ("control param key", lambda m: m.log_param("a\x07", 1), "param key"),
    ("10 MB param", lambda m: m.log_param("blob", "x" * 10_000_000), "param 'blob'"),
    ("NUL param value", lambda m: m.log_param("p", "a\x00"), "param 'p'"),
    ("empty tag key", lambda m: m.set_tag("", "v"), "tag key"),
    ("NUL tag value", lambda m: m.set_tag("t", "a\x00"), "tag 't'"),
    ("huge tag value", lambda m: m.set_tag("t", "v" * 10_000), "tag 't'"),
    ("note not str", lambda m: m.set_note(42), "note"),
    ("NUL note", lambda m: m.set_note("a\x00"), "note"),
    ("1 MB run name", lambda m: m.start_run(run_name="n" * 1_000_000, nested=True), "run name"),
    ("control run name", lambda m: m.start_run(run_name="a\x1bb", nested=True), "run name"),
    ("NUL description", lambda m: m.start_run(description="a\x00", nested=True), "note"),
    ("bad tag in start_run", lambda m: m.start_run(tags={"": 1}, nested=True), "tag"),
    ("bad experiment id", lambda m: m.start_run(experiment_id="x", nested=True), "experiment"),
]


@pytest.mark.parametrize("call, field", [(c, f) for _, c, f in BAD_INPUTS],
                         ids=[n for n, _, _ in BAD_INPUTS])
def test_bad_inputs_raise_one_line_errors_naming_the_field(mlflow, call, field):
    with mlflow.start_run(capture_environment=False) as run:
        with pytest.raises((InvalidInputError, NotFoundError)) as caught:
            call(mlflow)
        assert mlflow.active_run() is run  # a refused call starts and ends nothing
        message = str(caught.value)
        assert field in message
        assert "\n" not in message and len(message) < 300
    stored = mlflow.get_run(run.info.run_id)
    assert stored.info.status is RunStatus.FINISHED
    assert stored.data.metrics == {} and stored.data.params == {}
    assert len(mlflow.search_runs()) == 1  # no stray run was created


def test_tags_and_note(mlflow):
    with mlflow.start_run(capture_environment=False) as run:
        mlflow.set_tag("stage", "warmup")
        mlflow.set_tags({"stage": "main", "n": 3})  # tags upsert
        mlflow.set_note("first")
        mlflow.set_note("# Result\nbetter")
    data = mlflow.get_run(run.info.run_id).data
    assert data.tags == {"stage": "main", "n": "3"}
    assert data.note == "# Result\nbetter"


# -- artifacts -----------------------------------------------------------------------------

def test_artifacts_text_dict_and_files(mlflow, tmp_path):
    source = tmp_path / "model.txt"
    source.write_text("weights")
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.csv").write_text("a,b\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(source)
        mlflow.log_artifact(source, artifact_path="models")
        mlflow.log_artifacts(folder, artifact_path="out")
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.yaml")
    base = mlflow.get_run(run.info.run_id).info.artifact_uri
    client = Client(mlflow.get_tracking_uri())
    assert client.artifact_dir(run.info.run_id) == Path(base)
    base = Path(base)
    assert (base / "model.txt").read_text() == "weights"
    assert (base / "models" / "model.txt").read_text() == "weights"
    assert (base / "out" / "sub" / "a.csv").read_text() == "a,b\n"
    assert (base / "notes" / "hello.txt").read_text() == "hello"
    assert json.loads((base / "config.json").read_text()) == {"a": 1, "b": [1, 2]}
    assert yaml.safe_load((base / "config.yaml").read_text()) == {"a": 1, "b": [1, 2]}
    paths = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"model.txt", "models", "out", "notes", "config.json", "config.yaml"} <= paths


def test_log_figure_plotly_html_and_json(mlflow):
    go = pytest.importorskip("plotly.graph_objects")
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    with mlflow.start_run() as run:
        mlflow.log_figure(figure, "plots/fig.html")
        mlflow.log_figure(figure, "plots/fig.json")
        with pytest.raises(InvalidInputError, match=r"\.html or \.json"):
            mlflow.log_figure(figure, "plots/fig.png")
        with pytest.raises(InvalidInputError, match="expected a plotly or matplotlib figure"):
            mlflow.log_figure({"data": []}, "fig.html")
    base = Path(mlflow.get_run(run.info.run_id).info.artifact_uri)
    html = (base / "plots" / "fig.html").read_text()
    assert "<html" in html and "plotly" in html.lower()
    assert json.loads((base / "plots" / "fig.json").read_text())["data"][0]["y"] == [3, 4]


# -- search_runs ---------------------------------------------------------------------------

@pytest.fixture
def three_runs(mlflow):
    mlflow.set_experiment("search")
    ids = {}
    for name, model, acc in [("a", "rf", 0.9), ("b", "svm", 0.7), ("c", "rf", 0.8)]:
        with mlflow.start_run(run_name=name, capture_environment=False) as run:
            mlflow.log_param("model", model)
            mlflow.log_metric("acc", acc - 0.5, step=0)
            mlflow.log_metric("acc", acc, step=1)
            mlflow.set_tag("kind", "test")
        ids[name] = run.info.run_id
    return ids


def test_search_runs_frame_columns_and_dtypes(mlflow, three_runs):
    frame = mlflow.search_runs(experiment_names=["search"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:8]) == ["run_id", "experiment_id", "parent_run_id", "run_name",
                                       "status", "start_time", "end_time", "artifact_uri"]
    assert {"params.model", "metrics.acc", "tags.kind"} <= set(frame.columns)
    assert frame["metrics.acc"].dtype == "float64"
    assert str(frame["start_time"].dtype) == "datetime64[ms, UTC]"
    assert str(frame["end_time"].dtype) == "datetime64[ms, UTC]"
    assert set(frame["status"]) == {"FINISHED"}
    assert frame["parent_run_id"].isna().all()
    accuracy = dict(zip(frame["run_name"], frame["metrics.acc"], strict=True))
    assert accuracy == {"a": 0.9, "b": 0.7, "c": 0.8}
    empty = mlflow.search_runs(experiment_names=["search"], filter_string="params.model = 'x'")
    assert len(empty) == 0 and list(empty.columns[:8]) == list(frame.columns[:8])
    assert str(empty["start_time"].dtype) == "datetime64[ms, UTC]"


def test_search_runs_filter_order_and_max_results(mlflow, three_runs):
    frame = mlflow.search_runs(experiment_names=["search"], filter_string="params.model = 'rf'",
                               order_by=["metrics.acc DESC"])
    assert frame["run_name"].tolist() == ["a", "c"]
    frame = mlflow.search_runs(filter_string="metrics.acc < 0.85", order_by=["metrics.acc ASC"])
    assert frame["run_name"].tolist() == ["b", "c"]
    frame = mlflow.search_runs(order_by=["metrics.acc DESC"], max_results=2)
    assert frame["run_name"].tolist() == ["a", "c"]
    runs = mlflow.search_runs(output_format="list", order_by=["attributes.run_name DESC"])
    assert [r.info.run_name for r in runs] == ["c", "b", "a"]
    with pytest.raises(InvalidInputError, match="max_results"):
        mlflow.search_runs(max_results=-1)
    with pytest.raises(InvalidInputError, match="output_format"):
        mlflow.search_runs(output_format="arrow")
    with pytest.raises(NotFoundError, match="no experiment named 'nope'"):
        mlflow.search_runs(experiment_names=["nope"])


def test_search_runs_hides_deleted_runs(mlflow, three_runs):
    client = Client(mlflow.get_tracking_uri())
    client.delete_run(three_runs["b"])
    assert sorted(mlflow.search_runs()["run_name"]) == ["a", "c"]
    assert mlflow.get_run(three_runs["b"]).info.lifecycle_stage == "deleted"
    client.restore_run(three_runs["b"])
    assert sorted(mlflow.search_runs()["run_name"]) == ["a", "b", "c"]


# -- durability, in real child processes ---------------------------------------------------

def test_finished_run_is_on_disk_before_end_run_returns(root, python):
    python(f"""
        import os, tracking
        tracking.set_tracking_uri({str(root)!r})
        tracking.set_experiment("d")
        with tracking.start_run(run_name="r"):
            tracking.log_params({{"a": 1}})
            for step in range(500):
                tracking.log_metric("loss", 1.0 / (step + 1), step=step)
        os._exit(0)  # no atexit, no flush thread
    """)
    [run] = Client(root).search_runs([Client(root).get_experiment_by_name("d").experiment_id])
    assert run.info.status is RunStatus.FINISHED
    assert run.data.params == {"a": "1"}
    assert len(Client(root).get_metric_history(run.info.run_id, "loss")) == 500


def test_buffered_metrics_are_written_at_normal_exit(root, python):
    done = python(f"""
        import tracking
        tracking.set_tracking_uri({str(root)!r})
        run = tracking.start_run()
        for step in range(100):
            tracking.log_metric("loss", float(step), step=step)
        print(run.info.run_id)
    """)  # exits without end_run: the exit hooks flush and end the run
    run_id = done.stdout.strip()
    assert len(Client(root).get_metric_history(run_id, "loss")) == 100
    assert Client(root).get_run(run_id).info.status is RunStatus.FINISHED


def test_auto_started_run_ends_finished_at_exit(root, python):
    done = python(f"""
        import tracking
        tracking.set_tracking_uri({str(root)!r})
        tracking.log_metric("loss", 0.5)
        print(tracking.active_run().info.run_id)
    """)
    run = Client(root).get_run(done.stdout.strip())
    assert run.info.status is RunStatus.FINISHED
    assert run.data.metrics == {"loss": 0.5}


def test_sigkill_after_end_run_keeps_the_data(root):
    code = textwrap.dedent(f"""
        import sys, time, tracking
        tracking.set_tracking_uri({str(root)!r})
        with tracking.start_run() as run:
            tracking.log_metrics({{"a": 1.0, "b": float("nan")}}, step=3)
            tracking.set_note("kept")
        print(run.info.run_id, flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        run_id = child.stdout.readline().strip()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.stdout.close()
    run = Client(root).get_run(run_id)
    assert run.info.status is RunStatus.FINISHED
    assert run.data.metrics["a"] == 1.0 and math.isnan(run.data.metrics["b"])
    assert run.data.note == "kept"


def test_forked_child_does_not_write_the_parents_buffer_again(root, python):
    done = python(f"""
        import os, sys, tracking
        tracking.set_tracking_uri({str(root)!r})
        with tracking.start_run(capture_environment=False) as run:
            tracking.log_metric("m", 1.0, step=0)  # still buffered at the fork
            pid = os.fork()
            if pid == 0:
                tracking.log_metric("m", 2.0, step=1)
                sys.exit(0)  # normal exit: the child's exit hooks run
            assert os.waitpid(pid, 0)[1] == 0
        print(run.info.run_id)
    """)
    history = Client(root).get_metric_history(done.stdout.strip(), "m")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 2.0)]
