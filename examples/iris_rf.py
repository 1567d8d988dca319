"""A RandomForest on iris, written as an ordinary tracked training script.

It logs through the fluent `tracking` API, so the same code works alone
(`python examples/iris_rf.py`) and as a sweep objective (`configs/iris_rf.yaml`).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

import tracking


def train(params: dict, trial: Any = None) -> dict:
    data = load_iris()
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"], max_depth=params["max_depth"],
        criterion=params["criterion"], max_features=params["max_features"],
        random_state=params.get("random_state", 0), n_jobs=1)
    started = time.perf_counter()
    scores = cross_val_score(model, data.data, data.target, cv=5)
    for fold, score in enumerate(scores):
        tracking.log_metric("fold_accuracy", float(score), step=fold)
    model.fit(data.data, data.target)
    fit_seconds = time.perf_counter() - started
    # MLflow's model format (skops): loadable as runs:/<run_id>/model, and by `sweeps promote`
    tracking.sklearn.log_model(model, name="model", input_example=data.data[:3])
    if trial is not None:  # under a sweep: the set `sweeps promote` explains the model on
        trial.set_eval_data(pd.DataFrame(data.data, columns=data.feature_names), data.target)
    figure = go.Figure(go.Bar(x=data.feature_names, y=model.feature_importances_))
    figure.update_layout(title="Feature importance")
    tracking.log_figure(figure, "plots/feature_importance.json")
    tracking.set_tag("dataset", "iris")
    tracking.set_note(f"RandomForest with {params['n_estimators']} trees; "
                      f"5-fold CV accuracy {scores.mean():.3f} ± {scores.std():.3f}")
    return {"accuracy": float(scores.mean()), "fit_seconds": fit_seconds}


if __name__ == "__main__":
    tracking.set_experiment("iris-rf-manual")
    with tracking.start_run(run_name="baseline"):
        baseline = {"n_estimators": 100, "max_depth": 8, "criterion": "gini",
                    "max_features": 0.5}
        tracking.log_params(baseline)
        print(train(baseline))
