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
    ViewType,
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
    create_experiment,
    delete_experiment,
    end_run,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_parent_run,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
    set_note,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
    unsupported,
)
from tracking.registry import AliasMove, ModelVersion, RegisteredModel, register_model
from tracking.system_metrics import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_sampling_interval,
)

__version__ = "0.1.0"

MlflowClient = Client

_SUBMODULES = ("data", "models", "pyfunc", "sklearn", "tracking")


def __getattr__(name: str) -> object:
    """`tracking.sklearn`, `tracking.pyfunc`, `tracking.models`, `tracking.data`: imported on
    first use, so that `import tracking` stays cheap. MLflow names tracking lacks raise a
    one-line NotImplementedError naming the nearest supported feature."""
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"tracking.{name}")
    error = unsupported("tracking", name)
    if error is not None:
        raise error
    raise AttributeError(f"module 'tracking' has no attribute {name!r}")

__all__ = [
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
