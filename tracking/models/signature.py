"""Model signatures in MLflow's JSON form: what a model takes, returns and accepts as params.

A `Schema` is a list of column specs (`ColSpec`: a named, typed column of a table) or tensor
specs (`TensorSpec`: a numpy dtype and shape, -1 for any size). `enforce_schema` checks an
input against a schema before a model sees it, with MLflow's safe conversions (a narrower int
or float to a wider one, int32 and smaller to double, an int64 column of 0/1 to float,
object to string); anything else is a one-line error naming the column.

    >>> sig = infer_signature(pd.DataFrame({"a": [1.0], "b": [2]}), np.array([0]))
    >>> sig.to_dict()["inputs"]
    '[{"type": "double", "name": "a", "required": true}, {"type": "long", "name": "b", ...}]'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tracking.errors import InvalidInputError

__all__ = ["ColSpec", "ModelSignature", "ParamSchema", "ParamSpec", "Schema", "TensorSpec",
           "enforce_schema", "infer_signature"]

# MLflow's DataType names -> numpy dtypes.
DATA_TYPES: dict[str, np.dtype] = {
    "boolean": np.dtype(bool), "integer": np.dtype(np.int32), "long": np.dtype(np.int64),
    "float": np.dtype(np.float32), "double": np.dtype(np.float64),
    "string": np.dtype(object), "binary": np.dtype(object),
    "datetime": np.dtype("datetime64[ns]"),
}


@dataclass(frozen=True)
class ColSpec:
    """One column of a table: MLflow type name (`double`, `long`, `string`...), optional name."""

    type: str
    name: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in DATA_TYPES:
            raise InvalidInputError(f"ColSpec: unknown type {self.type!r}; one of "
                                    f"{', '.join(DATA_TYPES)}")

    def to_dict(self) -> dict[str, Any]:
        named = {} if self.name is None else {"name": self.name}
        return {"type": self.type, **named, "required": self.required}


@dataclass(frozen=True)
class TensorSpec:
    """A numpy array: its dtype and shape (-1 where any size is accepted)."""

    dtype: np.dtype
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        named = {} if self.name is None else {"name": self.name}
        return {"type": "tensor", "tensor-spec": {"dtype": str(self.dtype),
                                                  "shape": list(self.shape)}, **named}


@dataclass(frozen=True)
class Schema:
    """A list of `ColSpec`s or of `TensorSpec`s (never both)."""

    inputs: tuple[ColSpec | TensorSpec, ...]

    def __init__(self, inputs: Sequence[ColSpec | TensorSpec]) -> None:
        specs = tuple(inputs)
        if len({isinstance(s, TensorSpec) for s in specs}) > 1:
            raise InvalidInputError("Schema: mixes column and tensor specs; use one kind")
        object.__setattr__(self, "inputs", specs)

    def is_tensor_spec(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def input_names(self) -> list[str | int]:
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs)]

    def has_input_names(self) -> bool:
        return bool(self.inputs) and all(s.name is not None for s in self.inputs)

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        specs: list[ColSpec | TensorSpec] = []
        for item in json.loads(text):
            if item.get("type") == "tensor":
                spec = item["tensor-spec"]
                specs.append(TensorSpec(np.dtype(spec["dtype"]), tuple(spec["shape"]),
                                        item.get("name")))
            else:
                specs.append(ColSpec(item["type"], item.get("name"), item.get("required", True)))
        return cls(specs)


@dataclass(frozen=True)
class ParamSpec:
    """An inference param: name, MLflow type, default (shape None for a scalar)."""

    name: str
    type: str
    default: Any
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default,
                "shape": None if self.shape is None else list(self.shape), "type": self.type}


@dataclass(frozen=True)
class ParamSchema:
    """The params a model's predict accepts."""

    params: tuple[ParamSpec, ...]

    def to_json(self) -> str:
        return json.dumps([p.to_dict() for p in self.params])

    @classmethod
    def from_json(cls, text: str) -> ParamSchema:
        return cls(tuple(ParamSpec(p["name"], p["type"], p.get("default"),
                                   None if p.get("shape") is None else tuple(p["shape"]))
                         for p in json.loads(text)))


@dataclass(frozen=True)
class ModelSignature:
    """Inputs, outputs and params of a model, stored in `MLmodel` as JSON strings."""

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_dict(self) -> dict[str, str | None]:
        """MLflow's form: each part a JSON string, or None."""
        return {"inputs": self.inputs.to_json() if self.inputs else None,
                "outputs": self.outputs.to_json() if self.outputs else None,
                "params": self.params.to_json() if self.params else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSignature:
        def part(key: str, kind: Any) -> Any:
            text = data.get(key)
            return kind.from_json(text) if text else None

        return cls(part("inputs", Schema), part("outputs", Schema), part("params", ParamSchema))


# --------------------------------------------------------------------------- inference


def _type_of(dtype: np.dtype, values: Any = None) -> str:
    """MLflow's type name for a numpy dtype (object columns: string or binary by content)."""
    if dtype.kind == "b":
        return "boolean"
    if dtype.kind in "iu":
        wide = dtype.itemsize >= 8 or (dtype.kind == "u" and dtype.itemsize == 4)
        return "long" if wide else "integer"
    if dtype.kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if dtype.kind == "M":
        return "datetime"
    if dtype.kind in "OUS":
        sample = [v for v in (values if values is not None else []) if v is not None]
        if sample and all(isinstance(v, bytes) for v in sample):
            return "binary"
        return "string"
    raise InvalidInputError(f"infer_signature: cannot describe values of dtype {dtype}")


def _schema_of(data: Any) -> Schema:
    if isinstance(data, pd.DataFrame):
        return Schema([ColSpec(_type_of(data[c].dtype, data[c].tolist()), str(c))
                       for c in data.columns])
    if isinstance(data, pd.Series):
        return Schema([ColSpec(_type_of(data.dtype, data.tolist()),
                               None if data.name is None else str(data.name))])
    if isinstance(data, Mapping):
        return _schema_of(pd.DataFrame({k: np.atleast_1d(v) for k, v in data.items()}))
    array = np.asarray(data)
    if array.dtype.kind in "OUS":
        return _schema_of(pd.Series(array.ravel()))
    return Schema([TensorSpec(array.dtype, (-1, *array.shape[1:]))])


def _param_type(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "binary"
    raise InvalidInputError(f"infer_signature: param {name!r} must be a bool, int, float, str "
                            f"or bytes (got {type(value).__name__})")


def infer_signature(model_input: Any = None, model_output: Any = None,
                    params: Mapping[str, Any] | None = None) -> ModelSignature:
    """The signature of a model from an example input, output and params (MLflow's rules).

    A DataFrame gives named columns, a numpy array a tensor spec with a free first dimension.

        >>> infer_signature(X_train, model.predict(X_train), params={"threshold": 0.5})
    """
    param_schema = None
    if params:
        param_schema = ParamSchema(tuple(ParamSpec(k, _param_type(k, v), v)
                                         for k, v in params.items()))
    return ModelSignature(None if model_input is None else _schema_of(model_input),
                          None if model_output is None else _schema_of(model_output),
                          param_schema)


# --------------------------------------------------------------------------- enforcement


def _is_upcast(have: np.dtype, want: np.dtype) -> bool:
    """MLflow's safe conversions: same kind and wider, unsigned to wider signed, int to double."""
    if have.kind == want.kind:
        return have.itemsize <= want.itemsize
    if have.kind == "u" and want.kind == "i":
        return have.itemsize < want.itemsize
    return have.kind in "iu" and want == np.float64 and have.itemsize <= 6


def _zeros_and_ones(values: pd.Series, have: np.dtype, want: np.dtype) -> bool:
    """MLflow also lets an int64 column of only 0 and 1 become a float column."""
    return have == np.int64 and want.kind == "f" and bool(values.isin((0, 1)).all())


def _enforce_column(name: Any, values: pd.Series, spec_type: str) -> pd.Series:
    want = DATA_TYPES[spec_type]
    have = values.dtype
    if spec_type in ("string", "binary"):
        if have.kind == "O":  # object or pandas' string dtype
            return values
    elif have.kind == "O":
        values = values.infer_objects()
        have = values.dtype
    if spec_type not in ("string", "binary") and isinstance(have, np.dtype):
        if have == want or (spec_type == "datetime" and have.kind == "M"):
            return values
        if have.kind in "biuf" and want.kind in "biuf" and (
                _is_upcast(have, want) or _zeros_and_ones(values, have, want)):
            return values.astype(want)
    raise InvalidInputError(f"model input column {name!r} has type {have}, which cannot be "
                            f"safely converted to the signature's {spec_type}")


def _enforce_columns(data: Any, schema: Schema) -> pd.DataFrame:
    names = schema.input_names()
    if isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[1] == len(names):
        data = pd.DataFrame(data, columns=names)
    elif isinstance(data, Mapping):
        data = pd.DataFrame({k: np.atleast_1d(v) for k, v in data.items()})
    elif isinstance(data, pd.Series) and len(names) == 1:
        data = data.to_frame(names[0])
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(
            f"model input: expected a DataFrame with columns {names} (got {type(data).__name__})")
    if not schema.has_input_names():
        if data.shape[1] != len(names):
            raise InvalidInputError(f"model input: expected {len(names)} columns, "
                                    f"got {data.shape[1]}")
        return pd.DataFrame({c: _enforce_column(c, data[c], s.type)
                             for c, s in zip(data.columns, schema.inputs, strict=True)})
    columns = {}
    for spec in schema.inputs:
        assert isinstance(spec, ColSpec) and spec.name is not None
        if spec.name not in data.columns:
            if spec.required:
                raise InvalidInputError(f"model input is missing column {spec.name!r} "
                                        f"(the signature wants {spec.type})")
            continue
        columns[spec.name] = _enforce_column(spec.name, data[spec.name], spec.type)
    return pd.DataFrame(columns, index=data.index)


def _enforce_tensor(data: Any, spec: TensorSpec) -> np.ndarray:
    array = data.to_numpy() if isinstance(data, (pd.DataFrame, pd.Series)) else np.asarray(data)
    label = repr(spec.name) if spec.name is not None else "tensor"
    if array.dtype != spec.dtype:
        if not (array.dtype.kind in "biuf" and _is_upcast(array.dtype, spec.dtype)):
            raise InvalidInputError(f"model input {label} has dtype {array.dtype}, but the "
                                    f"signature wants {spec.dtype}")
        array = array.astype(spec.dtype)
    if len(array.shape) != len(spec.shape) or any(
            want not in (-1, have) for have, want in zip(array.shape, spec.shape, strict=True)):
        raise InvalidInputError(f"model input {label} has shape {list(array.shape)}, but the "
                                f"signature wants {list(spec.shape)}")
    return array


def enforce_schema(data: Any, schema: Schema) -> Any:
    """`data` checked against `schema` and converted where MLflow converts safely.

    A named column schema returns a DataFrame with exactly the schema's columns (extra columns
    are dropped; a 2-D array with as many columns is named by the schema). A missing or
    mistyped column raises InvalidInputError naming it.
    """
    if schema.is_tensor_spec():
        if len(schema.inputs) != 1:
            raise InvalidInputError("model input: several named tensors are not supported")
        spec = schema.inputs[0]
        assert isinstance(spec, TensorSpec)
        return _enforce_tensor(data, spec)
    return _enforce_columns(data, schema)


def enforce_params(params: Mapping[str, Any] | None,
                   schema: ParamSchema | None) -> dict[str, Any] | None:
    """The params for predict: the schema's defaults updated with `params` (names checked)."""
    if schema is None:
        if params:
            raise InvalidInputError(f"predict: params {sorted(params)} given, but the model's "
                                    "signature declares none")
        return None
    known = {p.name: p for p in schema.params}
    unknown = sorted(set(params or {}) - set(known))
    if unknown:
        raise InvalidInputError(f"predict: unknown param {unknown[0]!r}; the signature "
                                f"declares {sorted(known)}")
    return {name: (params or {}).get(name, spec.default) for name, spec in known.items()}
