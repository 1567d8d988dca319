"""A hyperparameter search as nested runs; the best child found with search_runs."""
import mlflow
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

X, y = load_iris(return_X_y=True)
experiment = mlflow.set_experiment("rf-search")

with mlflow.start_run(run_name="search") as parent:
    mlflow.set_tag("search.kind", "grid")
    for depth in (1, 2, 4):
        with mlflow.start_run(run_name=f"depth-{depth}", nested=True):
            mlflow.log_param("max_depth", depth)
            score = cross_val_score(RandomForestClassifier(n_estimators=10, max_depth=depth,
                                                           random_state=0), X, y, cv=3).mean()
            mlflow.log_metric("cv_accuracy", score)

children = mlflow.search_runs(
    experiment_ids=[experiment.experiment_id],
    filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    order_by=["metrics.cv_accuracy DESC"])
assert len(children) == 3, children
best = children.iloc[0]
print("best", best["tags.mlflow.runName"], best["params.max_depth"], best["metrics.cv_accuracy"])
with mlflow.start_run(run_id=parent.info.run_id):
    mlflow.log_metric("best_cv_accuracy", best["metrics.cv_accuracy"])
    mlflow.set_tag("best_run_id", best["run_id"])
top = mlflow.search_runs([experiment.experiment_id], "attributes.run_name = 'search'",
                         output_format="list")
assert top[0].data.metrics["best_cv_accuracy"] == best["metrics.cv_accuracy"]
print("ok", parent.info.run_id)
