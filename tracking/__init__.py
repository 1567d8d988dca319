"""tracking: experiments, runs, params, metrics, artifacts, tags and notes, on SQLite.

The fluent API has MLflow's names, so `import tracking as mlflow` works for them:

    import tracking
    with tracking.start_run(run_name="baseline"):
        tracking.log_param("max_depth", 10)
        tracking.log_metric("train_loss", 0.41, step=3)
        tracking.set_note("baseline; next: tune depth")
"""

from tracking.client import Client
from tracking.entities import (
    Experiment,
    FileInfo,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from tracking.errors import (
    ArtifactPathError,
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    StoreError,
    TrackingError,
)
from tracking.fluent import (
    ActiveRun,
    active_run,
    end_run,
    get_run,
    get_tracking_uri,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    search_runs,
    set_experiment,
    set_note,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

MlflowClient = Client

__all__ = [
    "ActiveRun", "ArtifactPathError", "Client", "Experiment", "FileInfo", "FilterSyntaxError",
    "InvalidInputError", "Metric", "MlflowClient", "NotFoundError", "Param",
    "ParamConflictError", "Run", "RunData", "RunInfo", "RunStatus", "RunTag", "StoreError",
    "TrackingError", "active_run", "end_run", "get_run", "get_tracking_uri", "log_artifact",
    "log_artifacts", "log_dict", "log_figure", "log_metric", "log_metrics", "log_param",
    "log_params", "log_text", "search_runs", "set_experiment", "set_note", "set_tag",
    "set_tags", "set_tracking_uri", "start_run",
]
