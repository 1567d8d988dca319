"""Iris classifier, as in MLflow's quickstart (model logging left out)."""
import mlflow
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

X, y = datasets.load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
params = {"solver": "lbfgs", "max_iter": 1000, "random_state": 8888}

mlflow.set_experiment("MLflow Quickstart")
with mlflow.start_run():
    mlflow.log_params(params)
    lr = LogisticRegression(**params).fit(X_train, y_train)
    y_pred = lr.predict(X_test)
    mlflow.log_metric("accuracy", accuracy_score(y_test, y_pred))
    mlflow.log_metric("f1", f1_score(y_test, y_pred, average="macro"))
    mlflow.set_tag("Training Info", "Basic LR model for iris data")
    mlflow.log_dict({"classes": [int(c) for c in lr.classes_]}, "classes.json")

run = mlflow.last_active_run()
assert run.data.metrics["accuracy"] > 0.8, run.data.metrics
assert run.data.params["solver"] == "lbfgs"
print("ok", run.info.run_id)
