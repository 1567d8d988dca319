"""Runs as a pandas DataFrame with MLflow's `search_runs` columns."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tracking.entities import Run
from tracking.query import SYSTEM_TAGS

BASE_COLUMNS = ["run_id", "experiment_id", "parent_run_id", "run_name", "status",
                "start_time", "end_time", "artifact_uri"]


def mlflow_tags(run: Run) -> dict[str, str]:
    """MLflow's system tags of `run`, derived from its own fields (see query.SYSTEM_TAGS);
    keys whose field is empty are left out."""
    tags: dict[str, str] = {"mlflow.source.type": "LOCAL"}
    for name, (kind, key) in SYSTEM_TAGS.items():
        value = getattr(run.info, key) if kind == "attributes" else run.data.tags.get(key)
        if value:
            tags[name] = value
    if run.data.note:
        tags["mlflow.note.content"] = run.data.note
    return tags


def runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: the base columns, then `metrics.*` (latest values), `params.*`
    (as text), `tags.*` (MLflow's system tags `tags.mlflow.*` among them, derived from the
    run's own fields). Times are UTC timestamps; absent keys are missing values."""
    rows = []
    metric_keys: set[str] = set()
    param_keys: set[str] = set()
    tag_keys: set[str] = set()
    for run in runs:
        info, data = run.info, run.data
        row = {
            "run_id": info.run_id, "experiment_id": info.experiment_id,
            "parent_run_id": info.parent_run_id, "run_name": info.run_name,
            "status": info.status.value, "start_time": info.start_time,
            "end_time": info.end_time, "artifact_uri": info.artifact_uri,
        }
        row.update({f"metrics.{k}": v for k, v in data.metrics.items()})
        row.update({f"params.{k}": v for k, v in data.params.items()})
        tags = {**mlflow_tags(run), **data.tags}
        row.update({f"tags.{k}": v for k, v in tags.items()})
        metric_keys.update(data.metrics)
        param_keys.update(data.params)
        tag_keys.update(tags)
        rows.append(row)
    columns = (BASE_COLUMNS + [f"metrics.{k}" for k in sorted(metric_keys)]
               + [f"params.{k}" for k in sorted(param_keys)]
               + [f"tags.{k}" for k in sorted(tag_keys)])
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True).dt.as_unit("ms")
    for key in metric_keys:
        frame[f"metrics.{key}"] = frame[f"metrics.{key}"].astype("float64")
    return frame
