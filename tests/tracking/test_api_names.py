"""The public names of `tracking`, pinned, and an MLflow-style script run unchanged."""

from __future__ import annotations

import tracking
from tracking import Client, RunStatus

EXPECTED = [
    "ActiveRun", "AliasMove", "ArtifactPathError", "Client", "Experiment", "FileInfo",
    "FilterSyntaxError", "InvalidInputError", "Metric", "MlflowClient", "ModelVersion",
    "NotFoundError", "Param", "ParamConflictError", "RegisteredModel", "Run", "RunData",
    "RunInfo", "RunStatus", "RunTag", "StoreError",
    "TrackingError", "ViewType", "__version__", "active_run", "create_experiment",
    "delete_experiment", "disable_system_metrics_logging", "enable_system_metrics_logging",
    "end_run", "get_artifact_uri", "get_experiment", "get_experiment_by_name",
    "get_parent_run", "get_run", "get_tracking_uri", "last_active_run", "log_artifact",
    "log_artifacts", "log_dict", "log_figure", "log_input", "log_metric", "log_metrics",
    "log_param", "log_params", "log_text", "register_model", "search_experiments", "search_runs",
    "set_experiment", "set_experiment_tag", "set_experiment_tags", "set_note",
    "set_system_metrics_sampling_interval", "set_tag", "set_tags", "set_tracking_uri",
    "start_run",
]


def test_all_is_pinned():
    assert sorted(tracking.__all__) == sorted(EXPECTED)
    assert len(set(tracking.__all__)) == len(tracking.__all__)
    for name in tracking.__all__:
        assert getattr(tracking, name) is not None


def test_import_tracking_is_cheap(python):
    done = python("""
        import sys, tracking
        heavy = ("plotly", "ray", "matplotlib", "yaml", "pandas", "psutil")
        heavy = [m for m in heavy if m in sys.modules]
        print(",".join(heavy))
    """)
    assert done.stdout.strip() == ""


MLFLOW_SCRIPT = """
import os
import tempfile

import tracking as mlflow
from tracking import MlflowClient

mlflow.set_tracking_uri(os.environ["STORE"])
assert mlflow.get_tracking_uri() == os.environ["STORE"]
mlflow.set_experiment("mlflow-style")

with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params({"model": "rf", "n_estimators": 100})
    mlflow.set_tags({"team": "ml"})
    for epoch in range(3):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=3)
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_param("fold", 1)
        mlflow.log_metric("acc", 0.85)
    mlflow.log_dict({"features": ["a", "b"]}, "features.json")
    mlflow.log_text("notes", "notes.txt")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("artifact")
    mlflow.log_artifact(handle.name, artifact_path="files")
    os.unlink(handle.name)
    mlflow.set_tag("mlflow.note.content", "a note as a tag")
    run_id = mlflow.active_run().info.run_id

run = mlflow.get_run(run_id)
assert run.info.status == "FINISHED", run.info.status
assert run.data.params["n_estimators"] == "100"
assert run.data.metrics["acc"] == 0.9

runs = mlflow.search_runs(experiment_names=["mlflow-style"],
                          filter_string="metrics.acc > 0.8", order_by=["metrics.acc DESC"])
assert runs["run_name"].tolist() == ["parent", "child"]
assert runs.loc[runs.run_name == "child", "parent_run_id"].item() == run_id

client = MlflowClient()
history = client.get_metric_history(run_id, "loss")
assert [m.step for m in history] == [0, 1, 2]
assert {f.path for f in client.list_artifacts(run_id)} >= {"features.json", "files"}
client.set_terminated(child.info.run_id, "KILLED")
print("ok", run_id)
"""


def test_an_mlflow_style_script_runs_unchanged(python, root):
    done = python(MLFLOW_SCRIPT, env={"STORE": str(root.resolve())})
    status, run_id = done.stdout.split()
    assert status == "ok"
    run = Client(root).get_run(run_id)
    assert run.info.status is RunStatus.FINISHED and run.data.tags["team"] == "ml"
