"""scikit-learn models in MLflow's `sklearn` flavour: skops by default, pickle when asked.

skops runs no code on load: only types it trusts, plus the types recorded at save time in
`skops_trusted_types` (a RandomForest's `sklearn.tree._tree.Tree`), are rebuilt. `pickle`
and `cloudpickle` run code on load; loading one prints a one-line warning. The folder's
`python_function` flavour names `mlflow.sklearn` as its loader, so real MLflow loads it too.

    >>> info = log_model(model, name="model", input_example=X[:5])
    >>> load_model(info.model_uri).predict(X[:5])
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tracking.errors import InvalidInputError
from tracking.models.model import (
    Model,
    ModelInfo,
    finish_folder,
    log_model_folder,
    model_file,
    new_model_folder,
    python_function_conf,
    save_input_example,
    warn_code_runs,
    write_environment,
)
from tracking.models.signature import ModelSignature, infer_signature
from tracking.models.uri import local_model_dir

__all__ = ["SERIALIZATION_FORMATS", "load_model", "log_model", "save_model"]

FLAVOR_NAME = "sklearn"
SERIALIZATION_FORMATS = ("skops", "cloudpickle", "pickle")
_DATA_FILE = {"skops": "model.skops", "cloudpickle": "model.pkl", "pickle": "model.pkl"}
_REQUIREMENTS = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy")


def _dump(sk_model: Any, file: Path, serialization_format: str) -> list[str] | None:
    """Serialise `sk_model`; for skops, return the types skops does not trust by default."""
    if serialization_format == "skops":
        import skops.io
        try:
            skops.io.dump(sk_model, file)
        except TypeError as e:  # skops' UnsupportedTypeException is one too
            raise InvalidInputError(f"skops cannot save this model ({e}); pass "
                                    "serialization_format='cloudpickle' to pickle it") from None
        return sorted(skops.io.get_untrusted_types(file=file)) or None
    if serialization_format == "cloudpickle":
        import cloudpickle
        with open(file, "wb") as out:
            cloudpickle.dump(sk_model, out, protocol=pickle.DEFAULT_PROTOCOL)
    else:
        with open(file, "wb") as out:
            pickle.dump(sk_model, out, protocol=pickle.DEFAULT_PROTOCOL)
    return None


def save_model(sk_model: Any, path: str | os.PathLike[str], *,
               serialization_format: str = "skops", signature: ModelSignature | None = None,
               input_example: Any = None,
               pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
               metadata: Mapping[str, Any] | None = None, pyfunc_predict_fn: str = "predict",
               mlflow_model: Model | None = None) -> Model:
    """Save `sk_model` as an MLflow model folder at `path` (which must not exist yet).

    Without a signature, one is inferred from `input_example` and the model's predictions.

        >>> save_model(model, "out/rf", input_example=X[:3])
    """
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInputError(f"serialization_format: {serialization_format!r} is not one of "
                                f"{', '.join(SERIALIZATION_FORMATS)}")
    if not hasattr(sk_model, pyfunc_predict_fn):
        raise InvalidInputError(f"save_model: the model has no method {pyfunc_predict_fn!r}")
    import sklearn
    with new_model_folder(path) as folder:
        model = mlflow_model or Model()
        if input_example is not None:
            example = save_input_example(model, folder, input_example)
            if signature is None:
                signature = infer_signature(example, getattr(sk_model, pyfunc_predict_fn)(example))
        model.signature = signature
        model.metadata = dict(metadata) if metadata is not None else None
        data_file = _DATA_FILE[serialization_format]
        trusted = _dump(sk_model, folder / data_file, serialization_format)
        model.add_flavor("python_function", **python_function_conf(
            "mlflow.sklearn", model_path=data_file, predict_fn=pyfunc_predict_fn))
        model.add_flavor(FLAVOR_NAME, pickled_model=data_file, sklearn_version=sklearn.__version__,
                         serialization_format=serialization_format, code=None,
                         skops_trusted_types=trusted)
        extra = [serialization_format] if serialization_format != "pickle" else []
        write_environment(folder, [*_REQUIREMENTS, *extra], pip_requirements)
        finish_folder(model, folder)
    return model


def log_model(sk_model: Any, name: str | None = None, *, signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              serialization_format: str = "skops",
              pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
              metadata: Mapping[str, Any] | None = None, pyfunc_predict_fn: str = "predict",
              artifact_path: str | None = None) -> ModelInfo:
    """Log `sk_model` under `name` (default 'model') in the active run (started if none).

        >>> info = log_model(model, name="model", input_example=X[:5])
        >>> info.model_uri
        'runs:/0a1b.../model'
    """
    def save(folder: Path, model: Model) -> None:
        save_model(sk_model, folder, serialization_format=serialization_format,
                   signature=signature, input_example=input_example,
                   pip_requirements=pip_requirements, metadata=metadata,
                   pyfunc_predict_fn=pyfunc_predict_fn, mlflow_model=model)

    return log_model_folder(save, name=name, artifact_path=artifact_path,
                            registered_model_name=registered_model_name)


TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")
"""A model file may ask skops to trust types of these packages only: the file is data, and
data must not choose to trust, say, `builtins.eval`."""


def _trusted_from_file(listed: Any, file: Path) -> list[str] | None:
    """The `skops_trusted_types` of an MLmodel file, each checked to be a type of one of
    TRUSTED_PACKAGES; anything else is refused in one line."""
    if not listed:
        return None
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        raise InvalidInputError(f"{os.fspath(file)!r}: skops_trusted_types must be a list of "
                                "type names")
    for name in listed:
        if name.split(".", 1)[0] not in TRUSTED_PACKAGES:
            raise InvalidInputError(
                f"{os.fspath(file)!r}: the model file asks to trust {name!r}; only types of "
                f"{', '.join(TRUSTED_PACKAGES)} are trusted from a model file (load it with "
                "skops.io.load(path, trusted=[...]) if you trust its author)")
    return listed


def _load_from_folder(folder: Path) -> Any:
    """The estimator saved in model folder `folder` (ours or MLflow's)."""
    conf = Model.load(folder).flavors.get(FLAVOR_NAME)
    if not isinstance(conf, dict) or "pickled_model" not in conf:
        raise InvalidInputError(f"{os.fspath(folder)!r}: the model has no sklearn flavour")
    serialization_format = conf.get("serialization_format", "pickle")
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInputError(f"{os.fspath(folder)!r}: unknown serialization_format "
                                f"{serialization_format!r}")
    file = model_file(folder, str(conf["pickled_model"]))
    if serialization_format == "skops":
        import skops.io
        trusted = _trusted_from_file(conf.get("skops_trusted_types"), file)
        from skops.io.exceptions import UntrustedTypesFoundException
        try:
            return skops.io.load(file, trusted=trusted)
        except UntrustedTypesFoundException as e:
            raise InvalidInputError(f"{os.fspath(file)!r}: skops refuses types not recorded as "
                                    f"trusted: {e}") from None
    warn_code_runs(serialization_format, file)
    with open(file, "rb") as handle:
        if serialization_format == "cloudpickle":
            import cloudpickle
            return cloudpickle.load(handle)
        return pickle.load(handle)


def load_model(model_uri: str | os.PathLike[str]) -> Any:
    """The scikit-learn estimator at `model_uri` (`runs:/<run_id>/<path>` or a folder).

        >>> model = load_model("runs:/0a1b.../model")
    """
    with local_model_dir(model_uri) as folder:
        return _load_from_folder(folder)


class SklearnModelWrapper:
    """What pyfunc calls: `predict(data, params=None)` over the estimator's predict method."""

    def __init__(self, sk_model: Any, predict_fn: str = "predict") -> None:
        self.sklearn_model = sk_model
        self._predict = getattr(sk_model, predict_fn)

    def get_raw_model(self) -> Any:
        return self.sklearn_model

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        return self._predict(data)


def load_pyfunc(path: str | os.PathLike[str]) -> SklearnModelWrapper:
    """The pyfunc form of the sklearn model in folder `path`."""
    folder = Path(path)
    conf = Model.load(folder).flavors.get("python_function", {})
    return SklearnModelWrapper(_load_from_folder(folder), conf.get("predict_fn", "predict"))
