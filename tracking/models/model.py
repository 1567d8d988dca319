"""The `MLmodel` file and the folder around it, in MLflow's layout.

A model folder holds `MLmodel` (YAML: flavours, signature, input example, run id, creation
time), the serialised model, `requirements.txt`, `python_env.yaml` and, when one was given,
`input_example.json` with `serving_input_example.json`. A flavour (`tracking.sklearn`,
`tracking.pyfunc`) writes its files and `Model.add_flavor`s itself; the rest is here.

    >>> Model.load("runs/artifacts/1/abc/model").flavors["sklearn"]["serialization_format"]
    'skops'
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib.metadata
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tracking import artifacts
from tracking.errors import InvalidInputError, NotFoundError
from tracking.models.signature import ModelSignature

__all__ = ["MLMODEL_FILE_NAME", "Model", "ModelInfo", "log_model_folder"]

MLMODEL_FILE_NAME = "MLmodel"
INPUT_EXAMPLE_FILE = "input_example.json"
SERVING_INPUT_FILE = "serving_input_example.json"
REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"


@dataclass(frozen=True)
class ModelInfo:
    """What `log_model` returns: where the model is and what it is (MLflow's fields)."""

    model_uri: str
    run_id: str | None
    artifact_path: str | None
    flavors: dict[str, Any]
    signature: ModelSignature | None
    utc_time_created: str
    model_uuid: str
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    registered_model_version: int | None = None


@dataclass
class Model:
    """The contents of an `MLmodel` file."""

    artifact_path: str | None = None
    run_id: str | None = None
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(
        default_factory=lambda: str(datetime.datetime.now(datetime.timezone.utc)
                                    .replace(tzinfo=None)))
    model_size_bytes: int | None = None

    def add_flavor(self, name: str, **params: Any) -> Model:
        """Record flavour `name` with its configuration; returns self."""
        self.flavors[name] = params
        return self

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "artifact_path": self.artifact_path, "flavors": self.flavors,
            "model_size_bytes": self.model_size_bytes, "model_uuid": self.model_uuid,
            "run_id": self.run_id, "saved_input_example_info": self.saved_input_example_info,
            "signature": self.signature.to_dict() if self.signature else None,
            "utc_time_created": self.utc_time_created, "metadata": self.metadata,
        }
        return {k: v for k, v in data.items() if v is not None}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write this as the YAML file `path`."""
        import yaml
        Path(path).write_text(yaml.safe_dump(self.to_dict(), default_flow_style=False))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read `path`: an `MLmodel` file or a model folder holding one."""
        import yaml
        file = Path(path)
        if file.is_dir():
            file = file / MLMODEL_FILE_NAME
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"{os.fspath(path)!r} is not a model: no {MLMODEL_FILE_NAME} "
                                "file") from None
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise InvalidInputError(f"{os.fspath(file)!r}: not a valid MLmodel file "
                                    f"({str(e).splitlines()[0]})") from None
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise InvalidInputError(f"{os.fspath(file)!r}: not a valid MLmodel file "
                                    "(no flavors mapping)")
        try:
            signature = ModelSignature.from_dict(data["signature"]) if data.get("signature") \
                else None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InvalidInputError(f"{os.fspath(file)!r}: the signature cannot be read "
                                    f"({type(e).__name__}: {e})") from None
        return cls(
            artifact_path=data.get("artifact_path"), run_id=data.get("run_id"),
            flavors=data["flavors"],
            signature=signature,
            saved_input_example_info=data.get("saved_input_example_info"),
            metadata=data.get("metadata"), model_uuid=str(data.get("model_uuid") or ""),
            utc_time_created=str(data.get("utc_time_created") or ""),
            model_size_bytes=data.get("model_size_bytes"),
        )

    def get_model_info(self, model_uri: str) -> ModelInfo:
        return ModelInfo(model_uri, self.run_id, self.artifact_path, self.flavors,
                         self.signature, self.utc_time_created, self.model_uuid,
                         self.saved_input_example_info, self.metadata)

    def load_input_example(self, path: str | os.PathLike[str]) -> Any:
        """The input example saved in model folder `path` (a DataFrame or array), or None."""
        info = self.saved_input_example_info
        if not info:
            return None
        text = model_file(path, info["artifact_path"]).read_text(encoding="utf-8")
        if info.get("type") == "ndarray":
            return np.asarray(json.loads(text)["inputs"])
        return pd.read_json(io.StringIO(text), orient="split")


# --------------------------------------------------------------------------- writing a folder


def model_file(model_dir: str | os.PathLike[str], relative: str) -> Path:
    """`relative` (a path named in MLmodel) inside `model_dir`, refused if it would leave it."""
    return artifacts.resolve_in_run(Path(model_dir), relative)


@contextlib.contextmanager
def new_model_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Create the folder a model is saved to (it must not exist, or be empty), for the block;
    if the block fails, what it wrote is removed, so no half-saved model is left behind."""
    folder = Path(path)
    existed = folder.exists()
    if existed and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidInputError(f"save_model: {os.fspath(path)!r} already exists; "
                                "give a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if existed:
            folder.mkdir()
        raise


def example_frame(example: Any) -> pd.DataFrame | np.ndarray:
    """An input example as MLflow keeps it: a DataFrame, or a numeric numpy array."""
    if isinstance(example, pd.DataFrame):
        return example
    if isinstance(example, pd.Series):
        return example.to_frame()
    if isinstance(example, Mapping):
        scalars = all(np.ndim(v) == 0 for v in example.values())
        return pd.DataFrame([dict(example)] if scalars else dict(example))
    array = np.asarray(example)
    return pd.DataFrame(array) if array.dtype.kind in "OUS" else array


def save_input_example(model: Model, folder: Path, example: Any) -> pd.DataFrame | np.ndarray:
    """Write `input_example.json` and `serving_input_example.json`; return the example."""
    frame = example_frame(example)
    if isinstance(frame, pd.DataFrame):
        split = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
        content, serving = split, {"dataframe_split": split}
        model.saved_input_example_info = {"artifact_path": INPUT_EXAMPLE_FILE,
                                          "pandas_orient": "split", "type": "dataframe",
                                          "serving_input_path": SERVING_INPUT_FILE}
    else:
        content = serving = {"inputs": frame.tolist()}
        model.saved_input_example_info = {"artifact_path": INPUT_EXAMPLE_FILE,
                                          "type": "ndarray", "format": "tf-serving",
                                          "serving_input_path": SERVING_INPUT_FILE}
    (folder / INPUT_EXAMPLE_FILE).write_text(json.dumps(content))
    (folder / SERVING_INPUT_FILE).write_text(json.dumps(serving, indent=2))
    return frame


def warn_code_runs(serialization_format: str, path: str | os.PathLike[str]) -> None:
    """The one-line warning printed before loading a model that runs code when loaded."""
    print(f"tracking: loading {os.fspath(path)!r} ({serialization_format}) runs code stored in "
          "the model; load only models you trust", file=sys.stderr)


def _pinned(distribution: str) -> str | None:
    try:
        return f"{distribution}=={importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def write_environment(folder: Path, distributions: Sequence[str],
                      pip_requirements: Sequence[str] | str | os.PathLike[str] | None) -> None:
    """Write `requirements.txt` (the given requirements, or `distributions` pinned to the
    installed versions) and `python_env.yaml`. `pip_requirements` is a list or a file path."""
    import yaml
    if pip_requirements is None:
        lines = [pin for name in distributions if (pin := _pinned(name))]
    elif isinstance(pip_requirements, (str, os.PathLike)):
        try:
            text = Path(pip_requirements).read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidInputError(f"pip_requirements: cannot read {os.fspath(pip_requirements)!r}"
                                    f" ({e.strerror})") from None
        lines = [line.strip() for line in text.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
    else:
        lines = [str(r) for r in pip_requirements]
    (folder / REQUIREMENTS_FILE).write_text("\n".join(lines) + "\n")
    build = [pin for name in ("pip", "setuptools") if (pin := _pinned(name))] + ["wheel"]
    (folder / PYTHON_ENV_FILE).write_text(yaml.safe_dump(
        {"python": platform.python_version(), "build_dependencies": build,
         "dependencies": [f"-r {REQUIREMENTS_FILE}"]}, sort_keys=False))


def python_function_conf(loader_module: str, **params: Any) -> dict[str, Any]:
    """The `python_function` flavour entry MLflow's `pyfunc.load_model` reads."""
    return {"loader_module": loader_module, **params,
            "env": {"virtualenv": PYTHON_ENV_FILE},
            "python_version": platform.python_version()}


def finish_folder(model: Model, folder: Path) -> None:
    """Record the folder's size and write `MLmodel` last (a folder with it is complete)."""
    model.model_size_bytes = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    model.save(folder / MLMODEL_FILE_NAME)


# --------------------------------------------------------------------------- logging to a run


def artifact_name(name: str | None, artifact_path: str | None) -> str:
    """MLflow 3's `name`, or the older `artifact_path` spelling; 'model' when neither."""
    if name is not None and artifact_path is not None and name != artifact_path:
        raise InvalidInputError(f"log_model: name={name!r} and artifact_path={artifact_path!r} "
                                "disagree; give only name")
    chosen = artifacts.clean_artifact_path(name if name is not None else artifact_path or "model")
    if not chosen:
        raise InvalidInputError("log_model: name must not be empty")
    return chosen


def register_logged_model(model_uri: str, name: str) -> int:
    """Register `model_uri` under `name` in the active tracking store; its version."""
    from tracking.registry import register_model
    return register_model(model_uri, name).version


def log_model_folder(save: Callable[[Path, Model], None], *, name: str | None,
                     artifact_path: str | None,
                     registered_model_name: str | None) -> ModelInfo:
    """Save a model with `save(folder, model)` and log the folder to the active run.

    As MLflow, a run is started when none is active. Every file goes through the run's
    writer, so a model logged inside a sweep trial lands in the trial's run."""
    from tracking import fluent
    path = artifact_name(name, artifact_path)
    active = fluent.active_run() or fluent.start_run()
    model = Model(artifact_path=path, run_id=active.info.run_id)
    with tempfile.TemporaryDirectory(prefix="tracking-model-") as tmp:
        folder = Path(tmp, "model")
        save(folder, model)
        for file in sorted(f for f in folder.rglob("*") if f.is_file()):
            relative = file.relative_to(folder).as_posix()
            active.writer.write_artifact(f"{path}/{relative}", file.read_bytes())
    active.writer.flush()
    info = model.get_model_info(f"runs:/{active.info.run_id}/{path}")
    if registered_model_name is None:
        return info
    version = register_logged_model(info.model_uri, registered_model_name)
    return dataclasses.replace(info, registered_model_version=version)
