"""MLflow's names beyond the fluent basics: experiments, modules, system tags, URIs,
datasets, system metrics, and a one-line NotImplementedError for what is not supported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tracking
from tracking import Client, RunStatus
from tracking.entities import ViewType
from tracking.errors import InvalidInputError, NotFoundError, TrackingError
from tracking.exceptions import MlflowException


def test_mlflow_exception_is_the_base_with_error_codes(mlflow):
    assert issubclass(TrackingError, MlflowException)
    with pytest.raises(MlflowException) as caught:
        mlflow.get_run("0" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as caught:
        mlflow.log_param("", 1)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert MlflowException("x", error_code="CUSTOM").error_code == "CUSTOM"


def test_modules_scripts_import():
    from tracking.entities import Experiment, Metric, Param, Run, RunStatus, RunTag  # noqa: F401
    from tracking.tracking import MlflowClient

    assert MlflowClient is Client is tracking.MlflowClient is tracking.tracking.MlflowClient
    assert isinstance(tracking.__version__, str)
    assert tracking.data.from_pandas is not None


def test_experiments_with_mlflow_signatures(mlflow):
    experiment_id = mlflow.create_experiment("churn", tags={"team": "ml"})
    assert mlflow.get_experiment(experiment_id).tags["team"] == "ml"
    assert mlflow.get_experiment_by_name("churn").experiment_id == experiment_id
    assert mlflow.get_experiment_by_name("absent") is None
    assert mlflow.set_experiment(experiment_id=experiment_id).name == "churn"
    with mlflow.start_run() as run:
        pass
    with pytest.raises(InvalidInputError, match="artifact_location is not supported"):
        mlflow.create_experiment("elsewhere", artifact_location="/tmp/x")
    mlflow.delete_experiment(experiment_id)
    assert mlflow.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert "churn" not in {e.name for e in mlflow.search_experiments()}
    assert {e.name for e in mlflow.search_experiments(ViewType.DELETED_ONLY)} == {"churn"}
    client = Client(mlflow.get_tracking_uri())
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run.info.run_id]
    assert len(client.search_runs([experiment_id], run_view_type="ALL")) == 1
    with pytest.raises(NotImplementedError, match="filter_string"):
        mlflow.search_experiments(filter_string="name = 'churn'")


def test_active_run_last_active_run_artifact_uri_and_parent(mlflow):
    assert mlflow.last_active_run() is None
    with mlflow.start_run(run_name="parent") as parent:
        assert parent._info.run_id == parent.info.run_id
        assert mlflow.get_artifact_uri() == parent.info.artifact_uri
        assert mlflow.get_artifact_uri("plots/a.png").endswith("plots/a.png")
        mlflow.log_metric("acc", 0.5)
    last = mlflow.last_active_run()
    assert last.info.run_id == parent.info.run_id and last.data.metrics["acc"] == 0.5
    assert last.info.status is RunStatus.FINISHED
    with mlflow.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    assert mlflow.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert mlflow.get_parent_run(parent.info.run_id) is None


def test_mlflow_system_tags_set_the_runs_own_fields(mlflow):
    with mlflow.start_run(run_name="p") as parent:
        pass
    with mlflow.start_run(tags={"mlflow.runName": "named", "mlflow.parentRunId":
                                parent.info.run_id, "mlflow.note.content": "hi"}) as run:
        mlflow.set_tag("mlflow.note.content", "a note as a tag")
    stored = mlflow.get_run(run.info.run_id)
    assert stored.info.run_name == "named" and stored.info.parent_run_id == parent.info.run_id
    assert stored.data.note == "a note as a tag"
    assert not any(k.startswith("mlflow.") for k in stored.data.tags)


def test_filters_on_mlflow_system_tags(mlflow):
    mlflow.set_experiment("search")
    with mlflow.start_run(run_name="parent") as parent:
        for name in ("b", "a"):
            with mlflow.start_run(run_name=name, nested=True):
                pass
    children = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["tags.mlflow.runName ASC"])
    assert children["run_name"].tolist() == ["a", "b"]
    assert children["tags.mlflow.parentRunId"].tolist() == [parent.info.run_id] * 2
    assert children["tags.mlflow.runName"].tolist() == ["a", "b"]
    assert children["tags.mlflow.source.type"].tolist() == ["LOCAL", "LOCAL"]
    assert children["tags.mlflow.user"].notna().all()
    runs = mlflow.search_runs(filter_string="attributes.run_name = 'parent'",
                              output_format="list")
    assert [r.info.run_id for r in runs] == [parent.info.run_id]
    by_tag = mlflow.search_runs(filter_string="tags.`mlflow.runName` = 'parent'")
    assert by_tag["run_id"].tolist() == [parent.info.run_id]
    top = mlflow.search_runs(filter_string="tags.mlflow.parentRunId IS NULL")
    assert top["run_id"].tolist() == [parent.info.run_id]


def test_mlflow_tracking_uri_is_honoured_when_sweeps_uri_is_unset(python, root, tmp_path):
    code = "import tracking; print(tracking.get_tracking_uri())"
    done = python(code, env={"MLFLOW_TRACKING_URI": f"file:{root}"})
    assert done.stdout.strip() == str(root.resolve())
    other = tmp_path / "other"
    done = python(code, env={"MLFLOW_TRACKING_URI": str(root), "SWEEPS_TRACKING_URI": str(other)})
    assert done.stdout.strip() == str(other.resolve())


@pytest.mark.parametrize("uri", ["http://127.0.0.1:5000", "https://mlflow.example.com",
                                 "databricks", "databricks://profile"])
def test_a_server_uri_is_a_one_line_error_pointing_to_export(mlflow, uri, tmp_path):
    with pytest.raises(InvalidInputError, match="sweeps export --to") as caught:
        mlflow.set_tracking_uri(uri)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "databricks").exists()


def test_unsupported_mlflow_names_raise_one_line_not_implemented():
    for name in ("autolog", "log_image", "log_table", "evaluate", "set_registry_uri"):
        with pytest.raises(NotImplementedError, match=f"tracking.{name} .*nearest: ") as e:
            getattr(tracking, name)
        assert "\n" not in str(e.value)
    with pytest.raises(AttributeError):
        tracking.no_such_name  # noqa: B018
    with pytest.raises(NotImplementedError, match="from_spark.*from_pandas"):
        tracking.data.from_spark  # noqa: B018


def test_log_input_records_the_dataset_as_tags(mlflow):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = tracking.data.from_pandas(frame, source="data/churn.csv", name="churn",
                                        targets="y")
    assert dataset.profile == {"num_rows": 3, "num_elements": 6}
    assert dataset.schema == {"x": "float64", "y": "int64"}
    changed = tracking.data.from_pandas(frame.assign(x=[1.0, 2.0, 4.0]), name="churn")
    assert changed.digest != dataset.digest
    assert tracking.data.from_pandas(frame.copy(), name="churn").digest == dataset.digest
    arrays = tracking.data.from_numpy(np.zeros((4, 2)), targets=np.ones(4), name="z")
    assert arrays.profile == {"num_rows": 4, "num_elements": 12}
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(arrays)
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["dataset.churn.digest"] == dataset.digest
    assert tags["dataset.churn.source"] == "data/churn.csv"
    assert tags["dataset.churn.context"] == "training"
    assert tags["dataset.churn.targets"] == "y"
    assert tags["dataset.z.schema"] == '{"features": "float64 (-1, 2)", "targets": "float64 (-1,)"}'
    found = mlflow.search_runs(filter_string=f"tags.`dataset.churn.digest` = '{dataset.digest}'")
    assert found["run_id"].tolist() == [run.info.run_id]
    with pytest.raises(InvalidInputError, match="no column 'label'"):
        tracking.data.from_pandas(frame, targets="label")
    with pytest.raises(InvalidInputError, match="expected a pandas DataFrame"):
        tracking.data.from_pandas([1, 2])


def test_system_metrics_are_sampled_while_a_run_is_active(mlflow):
    import time

    mlflow.set_system_metrics_sampling_interval(0.05)
    mlflow.enable_system_metrics_logging()
    try:
        with mlflow.start_run() as run:
            time.sleep(0.5)
        with mlflow.start_run(log_system_metrics=False) as quiet:
            pass
    finally:
        mlflow.disable_system_metrics_logging()
        mlflow.set_system_metrics_sampling_interval(None)
    client = Client(mlflow.get_tracking_uri())
    metrics = client.get_run(run.info.run_id).data.metrics
    for key in ("cpu_utilization_percentage", "system_memory_usage_megabytes",
                "disk_usage_percentage", "network_receive_megabytes"):
        assert f"system/{key}" in metrics
    steps = [m.step for m in client.get_metric_history(run.info.run_id,
                                                         "system/cpu_utilization_percentage")]
    assert len(steps) >= 2 and steps == list(range(len(steps)))
    assert client.get_run(quiet.info.run_id).data.metrics == {}
    with pytest.raises(InvalidInputError, match="system metrics interval"):
        mlflow.set_system_metrics_sampling_interval(0)


def test_get_experiment_of_a_missing_id_raises(mlflow):
    with pytest.raises(NotFoundError):
        mlflow.get_experiment("12345")
