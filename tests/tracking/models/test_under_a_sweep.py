"""Models logged inside real sweep trials land in the trial's run (callable and command)."""

from __future__ import annotations

import sys
import textwrap

import pytest

import sweeps
import tracking
from sweeps import records

OBJECTIVES = '''
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import tracking
import tracking.sklearn


def fit(params):
    tracking.sklearn.autolog()
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(C=params["C"], max_iter=500).fit(X, y)
    return {"loss": 1 - model.score(X, y)}


if __name__ == "__main__":  # the command objective: log_model by hand
    import sys
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(C=float(sys.argv[1]), max_iter=500).fit(X, y)
    with tracking.start_run():
        tracking.sklearn.log_model(model, name="model", input_example=X[:2])
        tracking.log_metric("loss", 1 - model.score(X, y))
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "objectives.py").write_text(textwrap.dedent(OBJECTIVES))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SWEEPS_TRACKING_URI", raising=False)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["objectives:fit",
                                       {"command": f"{sys.executable} objectives.py {{C}}"}])
def test_a_trial_logs_its_model_into_its_run(project, iris, objective):
    X, _ = iris
    result = sweeps.run({
        "experiment": "models", "objective": objective,
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"C": {"type": "float", "low": 0.1, "high": 10.0}},
        "sampler": {"type": "random", "seed": 0}, "budget": {"trials": 2},
        "execution": {"workers": 1}, "report": False,
    })
    assert result.status == "FINISHED"
    client = tracking.Client("runs")
    trials = records.load_trials(client, client.get_run(result.sweep_run_id))
    assert len(trials) == 2
    for trial in trials:
        assert trial.run.info.status is tracking.RunStatus.FINISHED
        model = tracking.pyfunc.load_model(f"runs:/{trial.run_id}/model")
        assert model.metadata.run_id == trial.run_id
        assert model.predict(X).shape == (150,)
        if isinstance(objective, str):  # autolog: params and MLflow's training metrics
            assert float(trial.run.data.params["C"]) == pytest.approx(trial.params["C"])
            assert "training_accuracy_score" in trial.run.data.metrics
