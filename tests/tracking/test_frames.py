"""tracking.frames: runs as a DataFrame with MLflow's search_runs columns."""

from __future__ import annotations

import math

import pandas as pd

from tracking.entities import Run, RunData, RunInfo, RunStatus
from tracking.frames import BASE_COLUMNS, runs_frame


def run(run_id: str, *, metrics=None, params=None, tags=None, end=None, parent=None) -> Run:
    info = RunInfo(run_id=run_id, run_name=f"n-{run_id}", experiment_id="1",
                   parent_run_id=parent, status=RunStatus.FINISHED, start_time=1_700_000_000_123,
                   end_time=end, artifact_uri=f"/a/{run_id}")
    return Run(info, RunData(params or {}, metrics or {}, tags or {}))


def test_columns_values_and_dtypes():
    frame = runs_frame([
        run("a", metrics={"acc": 0.5, "loss": math.nan}, params={"lr": "0.1"}, tags={"t": "x"},
            end=1_700_000_001_000),
        run("b", metrics={"acc": 1}, params={"depth": "3"}, parent="a"),
    ])
    assert list(frame.columns) == BASE_COLUMNS + [
        "metrics.acc", "metrics.loss", "params.depth", "params.lr", "tags.mlflow.parentRunId",
        "tags.mlflow.runName", "tags.mlflow.source.type", "tags.t"]
    assert frame["run_id"].tolist() == ["a", "b"]
    assert frame["metrics.acc"].dtype == "float64" and frame["metrics.acc"].tolist() == [0.5, 1.0]
    assert frame["metrics.loss"].isna().all()
    assert frame["params.lr"].iloc[0] == "0.1" and pd.isna(frame["params.lr"].iloc[1])
    assert frame["parent_run_id"].iloc[1] == "a" and pd.isna(frame["parent_run_id"].iloc[0])
    assert frame["status"].tolist() == ["FINISHED", "FINISHED"]
    assert str(frame["start_time"].dtype) == "datetime64[ms, UTC]"
    assert frame["start_time"].iloc[0] == pd.Timestamp(1_700_000_000_123, unit="ms", tz="UTC")
    assert frame["end_time"].iloc[0] == pd.Timestamp("2023-11-14 22:13:21", tz="UTC")
    assert pd.isna(frame["end_time"].iloc[1])


def test_empty_frame_has_the_base_columns_and_the_same_time_dtype():
    frame = runs_frame([])
    assert list(frame.columns) == BASE_COLUMNS and len(frame) == 0
    assert str(frame["start_time"].dtype) == "datetime64[ms, UTC]"
    assert str(frame["end_time"].dtype) == "datetime64[ms, UTC]"


def test_metrics_that_look_like_ints_stay_float():
    frame = runs_frame([run("a", metrics={"n": 3.0}), run("b")])
    assert frame["metrics.n"].dtype == "float64"
    assert frame["metrics.n"].iloc[0] == 3.0 and math.isnan(frame["metrics.n"].iloc[1])


def test_mlflow_system_tags_are_derived_from_the_runs_own_fields():
    child = run("b", tags={"sys.user": "ana", "sys.entry_point": "train.py",
                           "sys.git.commit": "abc"}, parent="a")
    child = Run(child.info, RunData({}, {}, child.data.tags, "a note"))
    frame = runs_frame([run("a"), child])
    row = frame.iloc[1]
    assert row["tags.mlflow.parentRunId"] == "a" and row["tags.mlflow.runName"] == "n-b"
    assert row["tags.mlflow.user"] == "ana" and row["tags.mlflow.source.name"] == "train.py"
    assert row["tags.mlflow.source.git.commit"] == "abc"
    assert row["tags.mlflow.note.content"] == "a note"
    assert row["tags.mlflow.source.type"] == "LOCAL"
    assert pd.isna(frame.iloc[0]["tags.mlflow.parentRunId"])
