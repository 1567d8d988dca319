"""Tracking URI from $MLFLOW_TRACKING_URI, system metrics, experiments listed."""
import os
import time

import mlflow
from mlflow.tracking import MlflowClient

print("tracking uri:", mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI"))
mlflow.set_system_metrics_sampling_interval(0.1)
mlflow.enable_system_metrics_logging()
mlflow.set_experiment("system-metrics")
with mlflow.start_run(run_name="sleepy") as run:
    for step in range(3):
        mlflow.log_metric("value", step * 2.0, step=step)
        time.sleep(0.2)
mlflow.disable_system_metrics_logging()

client = MlflowClient()
metrics = client.get_run(run.info.run_id).data.metrics
assert "system/cpu_utilization_percentage" in metrics, metrics
assert "system-metrics" in [e.name for e in mlflow.search_experiments()]
active = mlflow.search_runs(filter_string="tags.mlflow.runName = 'sleepy'")
assert len(active) == 1
print("ok", run.info.run_id)
