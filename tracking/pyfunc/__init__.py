"""MLflow's generic model interface: load any flavour, predict with the signature enforced.

`load_model(uri)` returns a `PyFuncModel` for every flavour sweepbook writes (sklearn,
python_model) and for MLflow's sklearn folders. `log_model(name, python_model=...)` logs any
object with `predict(context, model_input)` (optionally `params=`); it is stored with
cloudpickle, since it is the user's own code, so loading it prints a one-line warning.

    >>> class Doubler:
    ...     def predict(self, context, model_input):
    ...         return model_input * 2
    >>> info = log_model("doubler", python_model=Doubler(), input_example={"x": [1.0]})
    >>> load_model(info.model_uri).predict(pd.DataFrame({"x": [2.0]}))
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from tracking.models.signature import (
    ModelSignature,
    enforce_params,
    enforce_schema,
    infer_signature,
)
from tracking.models.uri import local_model_dir
from tracking.sklearn.flavor import load_pyfunc as load_sklearn_pyfunc

__all__ = ["PyFuncModel", "PythonModel", "PythonModelContext", "load_model", "log_model",
           "save_model"]

LOADER_MODULE = "tracking.pyfunc"
_PYTHON_MODEL_FILE = "python_model.pkl"


@dataclass(frozen=True)
class PythonModelContext:
    """What a python model's `load_context` and `predict` receive."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


class PythonModel:
    """An optional base for python models (MLflow's name): override `predict`."""

    def load_context(self, context: PythonModelContext) -> None:  # noqa: B027 - optional hook
        """Called once after loading, before the first predict."""

    def predict(self, context: PythonModelContext, model_input: Any,
                params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError


class _PythonModelWrapper:
    """`predict(data, params=None)` over a python model's `predict(context, data[, params])`."""

    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        self._takes_params = "params" in inspect.signature(python_model.predict).parameters

    def get_raw_model(self) -> Any:
        return self.python_model

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        if self._takes_params:
            return self.python_model.predict(self.context, data, params=params)
        return self.python_model.predict(self.context, data)


def _load_pyfunc(path: str | os.PathLike[str]) -> _PythonModelWrapper:
    """MLflow's loader hook (`loader_module: tracking.pyfunc`): the python model in `path`."""
    import cloudpickle
    folder = Path(path)
    conf = Model.load(folder).flavors.get("python_function", {})
    file = model_file(folder, str(conf.get("python_model", _PYTHON_MODEL_FILE)))
    warn_code_runs("cloudpickle", file)
    with open(file, "rb") as handle:
        python_model = cloudpickle.load(handle)
    context = PythonModelContext()
    if hasattr(python_model, "load_context"):
        python_model.load_context(context)
    return _PythonModelWrapper(python_model, context)


_LOADERS: dict[str, Callable[[str], Any]] = {
    "mlflow.sklearn": load_sklearn_pyfunc,
    "tracking.sklearn": load_sklearn_pyfunc,
    LOADER_MODULE: _load_pyfunc,
}
"""Loader modules served here; other `mlflow.*` loaders are handed to MLflow when installed."""


class PyFuncModel:
    """A loaded model of any flavour: `predict` checks the input against the signature."""

    def __init__(self, model_meta: Model, model_impl: Any) -> None:
        self._meta = model_meta
        self._impl = model_impl

    @property
    def metadata(self) -> Model:
        """The model's `MLmodel` contents (flavours, signature, run id...)."""
        return self._meta

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Predict on `data` (a DataFrame, array or dict of columns) after enforcing the
        signature: a missing or mistyped column is an InvalidInputError naming it."""
        signature = self._meta.signature
        if signature is not None and signature.inputs is not None:
            data = enforce_schema(data, signature.inputs)
        checked = enforce_params(params, signature.params if signature else None)
        return self._impl.predict(data, params=checked)

    def get_raw_model(self) -> Any:
        """The underlying model (the estimator, or the python model object)."""
        return self._impl.get_raw_model()

    def unwrap_python_model(self) -> Any:
        """The python model object of a `python_model` flavour model."""
        if not isinstance(self._impl, _PythonModelWrapper):
            raise InvalidInputError("unwrap_python_model: this is not a python_model model")
        return self._impl.python_model

    def __repr__(self) -> str:
        flavours = ", ".join(sorted(self._meta.flavors))
        return f"PyFuncModel(flavors=[{flavours}], run_id={self._meta.run_id!r})"


def _loader(module: str) -> Callable[[str], Any]:
    if module in _LOADERS:
        return _LOADERS[module]
    if not module.startswith("mlflow."):
        raise InvalidInputError(f"loader_module {module!r} is not one sweepbook loads; known: "
                                f"{', '.join(sorted(_LOADERS))} and MLflow's mlflow.*")
    try:
        return importlib.import_module(module)._load_pyfunc
    except ImportError:
        raise InvalidInputError(f"loader_module {module!r} needs MLflow: pip install "
                                "mlflow") from None


def load_model(model_uri: str | os.PathLike[str]) -> PyFuncModel:
    """The model at `model_uri` (`runs:/<run_id>/<path>` or a folder) as a PyFuncModel.

        >>> model = load_model("runs:/0a1b.../model")
        >>> model.predict(X_test)
    """
    with local_model_dir(model_uri) as folder:
        meta = Model.load(folder)
        conf = meta.flavors.get("python_function")
        if not isinstance(conf, dict) or "loader_module" not in conf:
            raise InvalidInputError(f"{os.fspath(model_uri)!r}: the model has no python_function"
                                    f" flavour (flavours: {', '.join(sorted(meta.flavors))})")
        data = model_file(folder, str(conf["data"])) if conf.get("data") else folder
        impl = _loader(str(conf["loader_module"]))(str(data))
    return PyFuncModel(meta, impl)


def save_model(path: str | os.PathLike[str], python_model: Any, *,
               signature: ModelSignature | None = None, input_example: Any = None,
               pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
               metadata: Mapping[str, Any] | None = None,
               mlflow_model: Model | None = None) -> Model:
    """Save `python_model` (anything with `predict(context, model_input)`) at `path`.

    Without a signature, the input schema is inferred from `input_example`."""
    if not callable(getattr(python_model, "predict", None)):
        raise InvalidInputError(f"python_model: {type(python_model).__name__} has no "
                                "predict(context, model_input) method")
    import cloudpickle
    with new_model_folder(path) as folder:
        model = mlflow_model or Model()
        if input_example is not None:
            example = save_input_example(model, folder, input_example)
            if signature is None:
                signature = infer_signature(example)
        model.signature = signature
        model.metadata = dict(metadata) if metadata is not None else None
        with open(folder / _PYTHON_MODEL_FILE, "wb") as out:
            cloudpickle.dump(python_model, out, protocol=pickle.DEFAULT_PROTOCOL)
        model.add_flavor("python_function", **python_function_conf(
            LOADER_MODULE, python_model=_PYTHON_MODEL_FILE,
            cloudpickle_version=cloudpickle.__version__))
        write_environment(folder, ["sweepbook", "cloudpickle", "numpy", "pandas"], pip_requirements)
        finish_folder(model, folder)
    return model


def log_model(name: str | None = None, *, python_model: Any = None,
              signature: ModelSignature | None = None, input_example: Any = None,
              registered_model_name: str | None = None,
              pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
              metadata: Mapping[str, Any] | None = None,
              artifact_path: str | None = None) -> ModelInfo:
    """Log `python_model` under `name` (default 'model') in the active run (started if none).

        >>> info = log_model("doubler", python_model=Doubler())
    """
    if python_model is None:
        raise InvalidInputError("log_model: give python_model= (an object with "
                                "predict(context, model_input))")

    def save(folder: Path, model: Model) -> None:
        save_model(folder, python_model, signature=signature, input_example=input_example,
                   pip_requirements=pip_requirements, metadata=metadata, mlflow_model=model)

    return log_model_folder(save, name=name, artifact_path=artifact_path,
                            registered_model_name=registered_model_name)
