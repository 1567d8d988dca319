"""tracking.sklearn: MLflow's model folder, skops trust, pickle warnings, MLflow interop."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tracking
from tracking import Client
from tracking.errors import InvalidInputError
from tracking.models import Model


def _files(root: Path, info) -> set[str]:
    folder = Client(root).artifact_dir(info.run_id) / info.artifact_path
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("kind", ["classifier", "regressor", "pipeline"])
def test_log_and_load_round_trip(mlflow, root, iris, diabetes, kind):
    X, y = diabetes if kind == "regressor" else iris
    model = {"classifier": LogisticRegression(max_iter=500),
             "regressor": LinearRegression(),
             "pipeline": make_pipeline(StandardScaler(), LogisticRegression())}[kind].fit(X, y)
    with tracking.start_run() as run:
        info = tracking.sklearn.log_model(model, name="model", input_example=X[:3])
    assert info.model_uri == f"runs:/{run.info.run_id}/model" and info.run_id == run.info.run_id
    assert info.registered_model_version is None
    assert _files(root, info) == {"MLmodel", "model.skops", "requirements.txt", "python_env.yaml",
                                  "input_example.json", "serving_input_example.json"}
    loaded = tracking.sklearn.load_model(info.model_uri)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    pyfunc = tracking.pyfunc.load_model(info.model_uri)
    np.testing.assert_allclose(pyfunc.predict(X), model.predict(X), rtol=1e-12)
    assert pyfunc.metadata.run_id == run.info.run_id


def test_the_mlmodel_file_has_mlflows_keys(mlflow, root, iris):
    X, y = iris
    with tracking.start_run():
        info = tracking.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y),
                                          input_example=X[:2], metadata={"team": "ml"})
    folder = Client(root).artifact_dir(info.run_id) / "model"
    data = yaml.safe_load((folder / "MLmodel").read_text())
    assert data["flavors"]["python_function"] == {
        "loader_module": "mlflow.sklearn", "model_path": "model.skops", "predict_fn": "predict",
        "env": {"virtualenv": "python_env.yaml"},
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}."
                          f"{sys.version_info.micro}"}
    sk = data["flavors"]["sklearn"]
    assert sk["pickled_model"] == "model.skops" and sk["serialization_format"] == "skops"
    assert {"sklearn_version", "skops_trusted_types", "code"} <= set(sk)
    assert data["run_id"] == info.run_id and data["artifact_path"] == "model"
    assert data["metadata"] == {"team": "ml"} and data["utc_time_created"]
    assert data["saved_input_example_info"]["type"] == "dataframe"
    assert json.loads(data["signature"]["inputs"])[0]["name"] == "sepal length (cm)"
    assert json.loads((folder / "input_example.json").read_text())["data"][0] == [5.1, 3.5, 1.4,
                                                                                 0.2]
    requirements = (folder / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("skops==") for r in requirements)
    env = yaml.safe_load((folder / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"]
    example = Model.load(folder).load_input_example(folder)
    assert example.equals(X[:2])


def test_a_broken_mlmodel_is_one_line(tmp_path, iris):
    X, y = iris
    folder = tmp_path / "m"
    tracking.sklearn.save_model(LogisticRegression(max_iter=500).fit(X, y), folder,
                                input_example=X[:2])
    text = (folder / "MLmodel").read_text()
    (folder / "MLmodel").write_text(text.replace("inputs: '[", "inputs: '[[[", 1))
    with pytest.raises(InvalidInputError, match="the signature cannot be read"):
        tracking.pyfunc.load_model(folder)
    (folder / "MLmodel").write_text("flavors: [unclosed")
    with pytest.raises(InvalidInputError, match="not a valid MLmodel file"):
        tracking.pyfunc.load_model(folder)


def test_a_random_forest_logs_and_loads_with_its_types_trusted(mlflow, iris):
    X, y = iris
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with tracking.start_run():
        info = tracking.sklearn.log_model(forest, name="rf")
    assert info.flavors["sklearn"]["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]
    np.testing.assert_array_equal(tracking.sklearn.load_model(info.model_uri).predict(X),
                                  forest.predict(X))


def test_load_trusts_only_the_recorded_types(tmp_path, iris):
    X, y = iris
    folder = tmp_path / "rf"
    tracking.sklearn.save_model(RandomForestClassifier(n_estimators=2).fit(X, y), folder)
    model = Model.load(folder)
    model.flavors["sklearn"]["skops_trusted_types"] = None
    model.save(folder / "MLmodel")
    with pytest.raises(InvalidInputError, match="skops refuses types"):
        tracking.sklearn.load_model(folder)


@pytest.mark.parametrize("listed",
                         [["builtins.eval"], ["os.system"], "sklearn.tree._tree.Tree"])
def test_a_model_file_cannot_ask_to_trust_other_types(tmp_path, iris, listed):
    X, y = iris
    folder = tmp_path / "rf"
    tracking.sklearn.save_model(RandomForestClassifier(n_estimators=2).fit(X, y), folder)
    model = Model.load(folder)
    model.flavors["sklearn"]["skops_trusted_types"] = listed
    model.save(folder / "MLmodel")
    with pytest.raises(InvalidInputError, match="trust|list of type names") as caught:
        tracking.sklearn.load_model(folder)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
def test_pickle_only_when_asked_and_loading_warns(tmp_path, iris, capsys, fmt):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    tracking.sklearn.save_model(model, tmp_path / "m", serialization_format=fmt)
    assert (tmp_path / "m" / "model.pkl").is_file()
    assert capsys.readouterr().err == ""
    loaded = tracking.sklearn.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs code" in err and fmt in err


def test_bad_save_arguments_are_one_line(tmp_path, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.raises(InvalidInputError, match="serialization_format: 'joblib'"):
        tracking.sklearn.save_model(model, tmp_path / "a", serialization_format="joblib")
    tracking.sklearn.save_model(model, tmp_path / "b")
    with pytest.raises(InvalidInputError, match="already exists"):
        tracking.sklearn.save_model(model, tmp_path / "b")
    with pytest.raises(InvalidInputError, match="disagree"):
        tracking.sklearn.log_model(model, name="a", artifact_path="b")


def test_artifact_path_is_the_older_spelling_and_a_run_is_started(mlflow, iris):
    X, y = iris
    info = tracking.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y),
                                      artifact_path="clf", pip_requirements=["scikit-learn"])
    assert tracking.active_run().info.run_id == info.run_id  # started, as MLflow does
    assert info.model_uri.endswith("/clf")
    downloaded = Path(tracking.models.download_artifacts(artifact_uri=info.model_uri))
    assert (downloaded / "requirements.txt").read_text() == "scikit-learn\n"


MLFLOW_LOADS_OURS = """
import os, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
import mlflow.pyfunc, mlflow.sklearn
from sklearn.datasets import load_iris
X, _ = load_iris(return_X_y=True, as_frame=True)
expected = np.load(sys.argv[1] if len(sys.argv) > 1 else os.environ["EXPECTED"])
for path in os.environ["MODELS"].split(os.pathsep):
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(path).predict(X), expected)
    np.testing.assert_array_equal(mlflow.sklearn.load_model(path).predict(X), expected)
print("ok")
"""


@pytest.mark.slow
def test_real_mlflow_loads_a_model_sweepbook_logged(mlflow, iris, tmp_path, python):
    X, y = iris
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with tracking.start_run():
        skops_info = tracking.sklearn.log_model(forest, name="rf", input_example=X[:2])
        pickle_info = tracking.sklearn.log_model(forest, name="rf_pickle",
                                                 serialization_format="cloudpickle")
    paths = [tracking.models.download_artifacts(artifact_uri=i.model_uri, dst_path=tmp_path / n)
             for n, i in (("a", skops_info), ("b", pickle_info))]
    np.save(tmp_path / "expected.npy", forest.predict(X))
    done = python(MLFLOW_LOADS_OURS, timeout=180, env={
        "MODELS": os.pathsep.join(paths), "EXPECTED": str(tmp_path / "expected.npy"),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"})
    assert done.stdout.strip() == "ok"


MLFLOW_WRITES = """
import os, warnings
warnings.simplefilter("ignore")
import mlflow.sklearn, skops.io
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
X, y = load_iris(return_X_y=True, as_frame=True)
forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
trusted = skops.io.get_untrusted_types(data=skops.io.dumps(forest))
reqs = ["scikit-learn", "skops"]  # given, so MLflow skips its slow requirement inference
mlflow.sklearn.save_model(forest, "skops_model", input_example=X[:2],
                          skops_trusted_types=trusted, pip_requirements=reqs)
mlflow.sklearn.save_model(forest, "pickle_model", serialization_format="cloudpickle",
                          pip_requirements=reqs)
"""


@pytest.mark.slow
def test_sweepbook_loads_model_folders_mlflow_wrote(iris, tmp_path, python, capsys):
    X, y = iris
    python(MLFLOW_WRITES, timeout=180)
    expected = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y).predict(X)
    for name in ("skops_model", "pickle_model"):
        np.testing.assert_array_equal(tracking.sklearn.load_model(tmp_path / name).predict(X),
                                      expected)
        model = tracking.pyfunc.load_model(f"file://{tmp_path / name}")
        np.testing.assert_array_equal(model.predict(X), expected)
    assert "runs code" in capsys.readouterr().err  # the cloudpickle one warned
    with pytest.raises(InvalidInputError, match="missing column 'petal width"):
        tracking.pyfunc.load_model(tmp_path / "skops_model").predict(X.iloc[:, :3])


def test_a_model_skops_cannot_save_is_one_line_with_the_way_out(tmp_path, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    model.stream_ = (i for i in range(3))  # a generator: neither skops nor pickle saves it
    with pytest.raises(InvalidInputError, match="serialization_format='cloudpickle'"):
        tracking.sklearn.save_model(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()  # no half-saved model left behind
