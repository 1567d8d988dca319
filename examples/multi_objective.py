"""Two objectives at once: accuracy up, model size down (a Pareto front, not one best)."""

from __future__ import annotations

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier


def train(params: dict) -> dict:
    data = load_digits()
    model = DecisionTreeClassifier(max_depth=params["max_depth"],
                                   min_samples_leaf=params["min_samples_leaf"], random_state=0)
    accuracy = cross_val_score(model, data.data, data.target, cv=3).mean()
    model.fit(data.data, data.target)
    return {"accuracy": float(accuracy), "leaves": float(model.get_n_leaves())}
