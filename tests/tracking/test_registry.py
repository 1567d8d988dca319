"""The model registry through tracking's API: register, load by models:/ URIs, aliases and
their history, lineage tags, and every bad name, version, alias and URI as one line."""

from __future__ import annotations

import getpass

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import tracking
from tracking import Client, MlflowClient
from tracking.errors import FilterSyntaxError, InvalidInputError, NotFoundError, TrackingError

MLFLOW_CLIENT_METHODS = (
    "create_registered_model", "get_registered_model", "search_registered_models",
    "update_registered_model", "delete_registered_model", "get_model_version",
    "search_model_versions", "update_model_version", "delete_model_version",
    "set_registered_model_alias", "delete_registered_model_alias",
    "get_model_version_by_alias", "set_model_version_tag", "set_registered_model_tag",
    "create_model_version", "get_alias_history")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture
def model_run(mlflow, iris):
    """A finished run holding a logistic regression at `model`, and the fitted model."""
    X, y = iris
    fitted = LogisticRegression(max_iter=500).fit(X, y)
    with tracking.start_run() as run:
        tracking.sklearn.log_model(fitted, name="model")
    return run.info.run_id, fitted


def test_mlflow_client_has_the_registry_methods():
    assert MlflowClient is Client
    for name in MLFLOW_CLIENT_METHODS:
        assert callable(getattr(Client, name)), name


def test_register_and_load_by_version_and_alias(model_run, iris, root):
    run_id, fitted = model_run
    X, _ = iris
    first = tracking.register_model(f"runs:/{run_id}/model", "iris-lr", tags={"data": "v1"})
    second = tracking.register_model(f"runs:/{run_id}/model", "iris-lr")
    assert (first.version, second.version) == (1, 2)
    assert first.source == f"runs:/{run_id}/model" and first.run_id == run_id
    assert first.tags == {"data": "v1"} and first.user_id == getpass.getuser()
    client = Client(root)
    client.set_registered_model_alias("iris-lr", "champion", "1", reason="baseline")
    expected = fitted.predict(X)
    for uri in ("models:/iris-lr/1", "models:/iris-lr@champion"):
        assert np.array_equal(tracking.sklearn.load_model(uri).predict(X), expected)
        assert np.array_equal(np.asarray(tracking.pyfunc.load_model(uri).predict(X)), expected)
    again = tracking.register_model("models:/iris-lr@champion", "iris-copy")
    assert again.source == f"runs:/{run_id}/model"


def test_log_model_registers_and_copies_lineage_tags(mlflow, iris, root):
    X, y = iris
    with tracking.start_run() as parent:
        with tracking.start_run(nested=True) as child:
            tracking.set_tag("lineage.dataset", "iris-v2")
            tracking.set_tag("other", "not copied")
            info = tracking.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y),
                                              name="model", registered_model_name="iris")
            again = tracking.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y),
                                               name="model2", registered_model_name="iris")
    assert (info.registered_model_version, again.registered_model_version) == (1, 2)
    version = Client(root).get_model_version("iris", 1)
    assert version.run_id == child.info.run_id
    assert version.tags == {"lineage.dataset": "iris-v2",
                            "lineage.parent_run_id": parent.info.run_id}


def test_client_methods_and_alias_history(model_run, root):
    run_id, _ = model_run
    client = Client(root)
    client.create_registered_model("m", tags={"team": "ml"}, description="first")
    with pytest.raises(InvalidInputError, match="already exists"):
        client.create_registered_model("m")
    for _ in range(3):
        client.create_model_version("m", f"runs:/{run_id}/model", run_id)
    with pytest.raises(NotFoundError, match="'absent'"):
        client.create_model_version("absent", f"runs:/{run_id}/model", run_id)
    client.update_registered_model("m", description="second")
    client.set_registered_model_tag("m", "stage", "dev")
    client.update_model_version("m", 2, description="v2")
    client.set_model_version_tag("m", "2", "checked", True)
    assert client.get_model_version("m", 2).tags == {"checked": "True"}
    client.set_registered_model_alias("m", "champion", 1)
    client.set_registered_model_alias("m", "champion", 2, reason="better f1")
    client.set_registered_model_alias("m", "shadow", 3)
    client.delete_registered_model_alias("m", "shadow", reason="done")
    model = client.get_registered_model("m")
    assert (model.description, model.tags, model.aliases, model.latest_version) == (
        "second", {"team": "ml", "stage": "dev"}, {"champion": 2}, 3)
    assert client.get_model_version_by_alias("m", "champion").description == "v2"
    history = client.get_alias_history("m", "champion")
    assert [(h.from_version, h.to_version, h.reason) for h in history] == [
        (None, 1, ""), (1, 2, "better f1")]
    assert {h.user for h in client.get_alias_history("m")} == {getpass.getuser()}
    client.delete_model_version("m", 3)
    client.create_registered_model("n")
    assert [m.name for m in client.search_registered_models()] == ["m", "n"]
    assert [m.name for m in client.search_registered_models("name LIKE 'm%'")] == ["m"]
    assert [v.version for v in client.search_model_versions("name='m'")] == [1, 2]
    assert [v.version for v in client.search_model_versions(
        f"name = 'm' AND run_id = '{run_id}'")] == [1, 2]
    assert client.search_model_versions("run_id='nope'") == []
    client.delete_registered_model("n")
    with pytest.raises(NotFoundError):
        client.get_registered_model("n")


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda c: c.create_registered_model(""), InvalidInputError, "non-empty"),
    (lambda c: c.create_registered_model("a/b"), InvalidInputError, "cannot contain"),
    (lambda c: c.create_registered_model("a:b"), InvalidInputError, "cannot contain"),
    (lambda c: c.create_registered_model(".."), InvalidInputError, "cannot be"),
    (lambda c: c.create_registered_model("x" * 256), InvalidInputError, "longer than 255"),
    (lambda c: c.get_model_version("m", "one"), InvalidInputError, "positive integer"),
    (lambda c: c.get_model_version("m", 0), InvalidInputError, "positive integer"),
    (lambda c: c.get_model_version("m", 9), NotFoundError, "no version 9"),
    (lambda c: c.get_model_version("nope", 1), NotFoundError, "'nope' not found"),
    (lambda c: c.set_registered_model_alias("m", "latest", 1), InvalidInputError, "reserved"),
    (lambda c: c.set_registered_model_alias("m", "v2", 1), InvalidInputError, "reserved"),
    (lambda c: c.set_registered_model_alias("m", "a b", 1), InvalidInputError, "invalid alias"),
    (lambda c: c.get_model_version_by_alias("m", "nope"), NotFoundError, "no alias 'nope'"),
    (lambda c: c.get_alias_history("nope"), NotFoundError, "'nope' not found"),
    (lambda c: c.search_model_versions("version > 1"), FilterSyntaxError, "name or run_id"),
    (lambda c: c.search_registered_models("name = x"), FilterSyntaxError, "quoted"),
])
def test_bad_names_versions_and_aliases_are_one_line_errors(model_run, root, call, error,
                                                            match):
    tracking.register_model(f"runs:/{model_run[0]}/model", "m")
    with pytest.raises(error, match=match) as info:
        call(Client(root))
    assert isinstance(info.value, TrackingError) and "\n" not in str(info.value)


@pytest.mark.parametrize(("uri", "error", "match"), [
    ("models:/nope/1", NotFoundError, "registered model 'nope' not found"),
    ("models:/m/7", NotFoundError, "has no version 7"),
    ("models:/m@nope", NotFoundError, "has no alias 'nope'"),
    ("models:/m", InvalidInputError, "models:/<name>/<version>"),
    ("models:/", InvalidInputError, "models:/<name>/<version>"),
])
def test_bad_models_uris_are_one_line_errors(model_run, uri, error, match):
    tracking.register_model(f"runs:/{model_run[0]}/model", "m")
    for load in (tracking.sklearn.load_model, tracking.pyfunc.load_model,
                 lambda u: tracking.models.download_artifacts(artifact_uri=u),
                 lambda u: tracking.register_model(u, "copy")):
        with pytest.raises(error, match=match) as info:
            load(uri)
        assert isinstance(info.value, TrackingError) and "\n" not in str(info.value)


def test_register_model_checks_the_source_first(model_run, root):
    run_id, _ = model_run
    with pytest.raises(NotFoundError, match="has no artifact 'nothing'"):
        tracking.register_model(f"runs:/{run_id}/nothing", "m")
    with pytest.raises(InvalidInputError, match="register a runs:/"):
        tracking.register_model("/tmp", "m")
    with pytest.raises(InvalidInputError, match="cannot contain"):
        tracking.register_model(f"runs:/{run_id}/model", "a/b")
    assert Client(root).search_registered_models() == []
