"""MLflow's model format: the `MLmodel` file, signatures and model URIs.

    >>> from tracking.models import infer_signature
    >>> signature = infer_signature(X_train, model.predict(X_train))
"""

from tracking.models.model import Model, ModelInfo
from tracking.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    infer_signature,
)
from tracking.models.uri import download_artifacts

__all__ = ["ColSpec", "Model", "ModelInfo", "ModelSignature", "ParamSchema", "ParamSpec",
           "Schema", "TensorSpec", "download_artifacts", "infer_signature"]
