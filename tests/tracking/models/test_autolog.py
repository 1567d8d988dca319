"""tracking.sklearn.autolog: params, MLflow's training metrics, models, searches, hosts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tracking
from tracking import Client, RunStatus, fluent

CLASSIFIER_METRICS = {"training_score", "training_accuracy_score", "training_precision_score",
                      "training_recall_score", "training_f1_score", "training_log_loss",
                      "training_roc_auc"}
REGRESSOR_METRICS = {"training_score", "training_mean_squared_error",
                     "training_root_mean_squared_error", "training_mean_absolute_error",
                     "training_r2_score"}


@pytest.fixture
def autolog(mlflow):
    tracking.sklearn.autolog()
    yield tracking.sklearn.autolog
    tracking.sklearn.autolog(disable=True)


def _runs(root):
    client = Client(root)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def test_a_fit_without_a_run_starts_and_ends_one(autolog, root, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500, C=0.5).fit(X, y)
    assert tracking.active_run() is None
    [run] = _runs(root)
    assert run.info.status is RunStatus.FINISHED
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "500"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    loaded = tracking.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert tracking.pyfunc.load_model(f"runs:/{run.info.run_id}/model").metadata.signature


def test_regressor_metrics_and_input_examples(mlflow, root, diabetes):
    X, y = diabetes
    tracking.sklearn.autolog(log_input_examples=True)
    try:
        with tracking.start_run() as run:
            LinearRegression().fit(X, y)
            assert tracking.active_run().info.run_id == run.info.run_id
    finally:
        tracking.sklearn.autolog(disable=True)
    data = Client(root).get_run(run.info.run_id).data
    assert set(data.metrics) == REGRESSOR_METRICS
    assert data.metrics["training_root_mean_squared_error"] == pytest.approx(
        data.metrics["training_mean_squared_error"] ** 0.5)
    paths = {f.path for f in Client(root).list_artifacts(run.info.run_id, "model")}
    assert "model/input_example.json" in paths


def test_only_the_outermost_fit_of_a_pipeline_logs(autolog, root, iris):
    X, y = iris
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    [run] = _runs(root)
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert "logisticregression__max_iter" in run.data.params
    assert set(run.data.metrics) == CLASSIFIER_METRICS


def test_a_grid_search_logs_best_params_estimator_and_children(autolog, root, iris):
    X, y = iris
    with tracking.start_run() as parent:
        GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1, 10, 100, 1000]},
                     cv=3).fit(X, y)
    client = Client(root)
    data = client.get_run(parent.info.run_id).data
    assert data.params["best_C"] in {"0.01", "0.1", "1", "10", "100", "1000"}
    assert "best_cv_score" in data.metrics and "training_accuracy_score" in data.metrics
    assert {f.path for f in client.list_artifacts(parent.info.run_id)} == {
        "best_estimator", "cv_results.csv", "model"}
    best = tracking.sklearn.load_model(f"runs:/{parent.info.run_id}/best_estimator")
    assert isinstance(best, LogisticRegression) and str(best.C) == data.params["best_C"]
    children = [r for r in _runs(root) if r.info.parent_run_id == parent.info.run_id]
    assert len(children) == 5  # MLflow's max_tuning_runs: the 5 best of 6 candidates
    assert all("mean_test_score" in c.data.metrics and "C" in c.data.params for c in children)
    assert all(c.info.status is RunStatus.FINISHED for c in children)


def test_under_a_hosts_run_autolog_logs_to_it(autolog, root, iris):
    X, y = iris
    client = Client(root)
    trial = client.create_run(client.get_or_create_experiment("sweep"))
    with fluent.attach(trial.info, client.writer(trial.info.run_id)):
        GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1]}, cv=3).fit(X, y)
        assert tracking.active_run().info.run_id == trial.info.run_id
    data = client.get_run(trial.info.run_id).data
    assert "best_C" in data.params and "training_score" in data.metrics
    assert [r.info.run_id for r in _runs(root)] == [trial.info.run_id]  # children: the host's
    assert client.get_run(trial.info.run_id).info.status is RunStatus.RUNNING  # host ends it


def test_a_logging_failure_warns_and_the_fit_still_returns(autolog, root, iris, capsys):
    X, y = iris
    with tracking.start_run():
        LogisticRegression(max_iter=500, C=1.0).fit(X, y)
        second = LogisticRegression(max_iter=500, C=2.0).fit(X, y)  # C is already logged
    assert second.coef_.shape == (3, 4)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not log the fit of LogisticRegression" in err


def test_disable_restores_fit(mlflow, root, iris):
    X, y = iris
    original = LogisticRegression.fit
    tracking.sklearn.autolog()
    assert LogisticRegression.fit is not original
    tracking.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is original
    LogisticRegression(max_iter=500).fit(X, y)
    assert _runs(root) == []


def test_serialization_format_and_signatures_can_be_chosen(mlflow, root, iris, capsys):
    X, y = iris
    with pytest.raises(tracking.InvalidInputError, match="serialization_format 'joblib'"):
        tracking.sklearn.autolog(serialization_format="joblib")
    tracking.sklearn.autolog(serialization_format="cloudpickle", log_model_signatures=False)
    try:
        LogisticRegression(max_iter=500).fit(X, y)
    finally:
        tracking.sklearn.autolog(disable=True)
    [run] = _runs(root)
    model = tracking.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.metadata.flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert model.metadata.signature is None
    assert "runs code" in capsys.readouterr().err
