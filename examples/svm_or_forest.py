"""A conditional space: the model family decides which other params exist."""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def train(params: dict) -> float:
    data = load_breast_cancer()
    if params["model"] == "svm":
        model = make_pipeline(StandardScaler(), SVC(C=params["C"], kernel=params["kernel"],
                                                    gamma=params.get("gamma", "scale")))
    else:
        model = RandomForestClassifier(n_estimators=params["n_estimators"], random_state=0,
                                       n_jobs=1)
    return float(cross_val_score(model, data.data, data.target, cv=3).mean())
