"""tracking.pyfunc: python models, signature enforcement, metadata, every flavour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import tracking
from tracking import Client
from tracking.errors import InvalidInputError
from tracking.models import infer_signature


class Scaler:
    """A user's model: predict(context, model_input, params)."""

    def __init__(self) -> None:
        self.loaded = False

    def load_context(self, context) -> None:
        self.loaded = True

    def predict(self, context, model_input, params=None):
        return model_input["x"] * (params or {}).get("k", 2)


class Plain:
    def predict(self, context, model_input):
        return np.asarray(model_input).sum(axis=1)


def test_python_model_round_trip_with_params(mlflow, root, capsys):
    signature = infer_signature(pd.DataFrame({"x": [1.0]}), params={"k": 2})
    with tracking.start_run() as run:
        info = tracking.pyfunc.log_model("scaler", python_model=Scaler(), signature=signature)
    conf = yaml.safe_load((Client(root).artifact_dir(run.info.run_id) / "scaler" /
                           "MLmodel").read_text())["flavors"]["python_function"]
    assert conf["loader_module"] == "tracking.pyfunc"
    assert conf["python_model"] == "python_model.pkl" and "cloudpickle_version" in conf
    model = tracking.pyfunc.load_model(info.model_uri)
    assert "runs code" in capsys.readouterr().err  # the user's code is cloudpickled
    assert model.unwrap_python_model().loaded
    frame = pd.DataFrame({"x": [1.0, 3.0]})
    assert model.predict(frame).tolist() == [2.0, 6.0]
    assert model.predict(frame, params={"k": 10}).tolist() == [10.0, 30.0]
    assert model.metadata.run_id == run.info.run_id
    assert model.metadata.signature == signature


def test_a_model_without_params_and_an_inferred_signature(mlflow):
    example = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    info = tracking.pyfunc.log_model("plain", python_model=Plain(), input_example=example)
    model = tracking.pyfunc.load_model(info.model_uri)
    assert model.predict(example).tolist() == [4.0, 6.0]
    with pytest.raises(InvalidInputError, match="missing column 'b'") as err:
        model.predict(example[["a"]])
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidInputError, match="column 'a' has type"):
        model.predict(example.assign(a=["x", "y"]))
    with pytest.raises(InvalidInputError, match="declares none"):
        model.predict(example, params={"k": 1})


def test_log_model_needs_a_python_model(mlflow):
    with pytest.raises(InvalidInputError, match="python_model="):
        tracking.pyfunc.log_model("x")
    with pytest.raises(InvalidInputError, match="has no predict"):
        tracking.pyfunc.log_model("x", python_model=object())


@pytest.mark.slow
def test_real_mlflow_loads_a_python_model_sweepbook_saved(tmp_path, python):
    signature = infer_signature(pd.DataFrame({"x": [1.0]}), params={"k": 2})
    tracking.pyfunc.save_model(tmp_path / "scaler", Scaler(), signature=signature)
    done = python(f"""
        import sys, warnings
        warnings.simplefilter("ignore")
        sys.path.insert(0, {str(Path(__file__).parents[3])!r})  # Scaler's module
        import pandas as pd, mlflow.pyfunc
        model = mlflow.pyfunc.load_model({str(tmp_path / "scaler")!r})
        print(model.predict(pd.DataFrame({{"x": [1.0, 2.0]}}), params={{"k": 3}}).tolist())
    """, env={"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}, timeout=180)
    assert done.stdout.strip().splitlines()[-1] == "[3.0, 6.0]"


def test_an_unknown_loader_module_is_refused_not_imported(tmp_path):
    folder = tmp_path / "m"
    tracking.pyfunc.save_model(folder, Plain())
    data = yaml.safe_load((folder / "MLmodel").read_text())
    data["flavors"]["python_function"]["loader_module"] = "os"
    (folder / "MLmodel").write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidInputError, match="loader_module 'os' is not one sweepbook loads"):
        tracking.pyfunc.load_model(folder)
    del data["flavors"]["python_function"]
    (folder / "MLmodel").write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidInputError, match="no python_function flavour"):
        tracking.pyfunc.load_model(folder)


def test_a_model_file_leaving_the_folder_is_refused(tmp_path, iris):
    from sklearn.linear_model import LogisticRegression
    X, y = iris
    folder = tmp_path / "m"
    tracking.sklearn.save_model(LogisticRegression(max_iter=500).fit(X, y), folder)
    data = yaml.safe_load((folder / "MLmodel").read_text())
    data["flavors"]["sklearn"]["pickled_model"] = "../../etc/passwd"
    (folder / "MLmodel").write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidInputError, match="'..' would leave"):
        tracking.pyfunc.load_model(folder)
