"""scikit-learn models in MLflow's format, and MLflow's `autolog` for them.

    >>> import tracking.sklearn
    >>> info = tracking.sklearn.log_model(model, name="model", input_example=X[:5])
    >>> tracking.sklearn.load_model(info.model_uri).predict(X[:5])
"""

from tracking.sklearn.autolog import autolog
from tracking.sklearn.flavor import SERIALIZATION_FORMATS, load_model, log_model, save_model

__all__ = ["SERIALIZATION_FORMATS", "autolog", "load_model", "log_model", "save_model"]
