"""MLflow's `mlflow.tracking` names: `from tracking.tracking import MlflowClient` works.

    from tracking.tracking import MlflowClient
    client = MlflowClient()
"""

from tracking.client import Client
from tracking.fluent import get_tracking_uri, set_tracking_uri

MlflowClient = Client

__all__ = ["MlflowClient", "get_tracking_uri", "set_tracking_uri"]
