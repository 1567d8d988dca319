"""Signatures: MLflow's JSON form, inference, and enforcement of inputs and params."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tracking.errors import InvalidInputError
from tracking.models import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature
from tracking.models.signature import enforce_params, enforce_schema

FRAME = pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2], "s": ["x", "y"], "t": [True, False]})


def test_infer_signature_has_mlflows_json_form():
    sig = infer_signature(FRAME, np.array([0, 1]), params={"k": 1, "th": 0.5, "n": "s"})
    # the strings real MLflow 3.17 writes for the same input
    assert sig.to_dict() == {
        "inputs": '[{"type": "double", "name": "a", "required": true}, {"type": "long", '
                  '"name": "b", "required": true}, {"type": "string", "name": "s", '
                  '"required": true}, {"type": "boolean", "name": "t", "required": true}]',
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "params": '[{"name": "k", "default": 1, "shape": null, "type": "long"}, {"name": "th", '
                  '"default": 0.5, "shape": null, "type": "double"}, {"name": "n", "default": '
                  '"s", "shape": null, "type": "string"}]',
    }
    assert ModelSignature.from_dict(sig.to_dict()) == sig


def test_arrays_give_tensor_specs_and_series_named_columns():
    sig = infer_signature(np.zeros((2, 3)), pd.Series([1.0, 2.0], name="p"))
    assert sig.inputs == Schema([TensorSpec(np.dtype("float64"), (-1, 3))])
    assert json.loads(sig.to_dict()["outputs"]) == [
        {"type": "double", "name": "p", "required": True}]
    assert infer_signature(FRAME.astype({"b": "int32"})).inputs.inputs[1] == ColSpec("integer", "b")


def test_a_missing_column_is_one_line_naming_it():
    schema = infer_signature(FRAME).inputs
    with pytest.raises(InvalidInputError, match=r"missing column 's'") as info:
        enforce_schema(FRAME.drop(columns=["s"]), schema)
    assert "\n" not in str(info.value)


def test_a_mistyped_column_is_one_line_naming_it():
    schema = infer_signature(FRAME).inputs
    with pytest.raises(InvalidInputError, match=r"column 'a' has type (str|object)"):
        enforce_schema(FRAME.assign(a=["p", "q"]), schema)
    with pytest.raises(InvalidInputError, match=r"column 'b' has type float64"):
        enforce_schema(FRAME.assign(b=[1.5, 2.5]), schema)


def test_safe_widening_as_mlflow_and_nothing_more():
    schema = Schema([ColSpec("double", "x")])
    widened = enforce_schema(pd.DataFrame({"x": np.array([1, 2], dtype=np.int32)}), schema)
    assert widened["x"].dtype == np.float64 and widened["x"].tolist() == [1.0, 2.0]
    assert enforce_schema(pd.DataFrame({"x": [0, 1]}), schema)["x"].dtype == np.float64
    with pytest.raises(InvalidInputError, match="cannot be safely converted"):
        enforce_schema(pd.DataFrame({"x": [1, 2]}), schema)  # int64 -> double loses digits
    long = enforce_schema(pd.DataFrame({"n": np.array([1], dtype=np.int8)}),
                          Schema([ColSpec("long", "n")]))
    assert long["n"].dtype == np.int64


def test_extra_columns_are_dropped_and_arrays_named_by_the_schema():
    schema = Schema([ColSpec("double", "a"), ColSpec("double", "c")])
    out = enforce_schema(pd.DataFrame({"c": [1.0], "z": [0.0], "a": [2.0]}), schema)
    assert list(out.columns) == ["a", "c"]
    named = enforce_schema(np.array([[1.0, 2.0]]), schema)
    assert named.to_dict("list") == {"a": [1.0], "c": [2.0]}


def test_tensor_schema_checks_dtype_and_shape():
    schema = Schema([TensorSpec(np.dtype("float64"), (-1, 3))])
    assert enforce_schema(np.zeros((4, 3), dtype=np.float32), schema).dtype == np.float64
    with pytest.raises(InvalidInputError, match=r"shape \[4, 2\]"):
        enforce_schema(np.zeros((4, 2)), schema)
    with pytest.raises(InvalidInputError, match="dtype <U1"):
        enforce_schema(np.array([["a", "b", "c"]]), schema)


def test_params_get_defaults_and_unknown_ones_are_refused():
    params = infer_signature(FRAME, params={"k": 2}).params
    assert enforce_params(None, params) == {"k": 2}
    assert enforce_params({"k": 5}, params) == {"k": 5}
    with pytest.raises(InvalidInputError, match="unknown param 'j'"):
        enforce_params({"j": 1}, params)
    with pytest.raises(InvalidInputError, match="declares none"):
        enforce_params({"j": 1}, None)
