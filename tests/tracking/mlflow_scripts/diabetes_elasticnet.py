"""ElasticNet on the diabetes data, after MLflow's sklearn_elasticnet_diabetes example."""
import os
import sys
import tempfile

import mlflow
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def eval_metrics(actual, pred):
    rmse = np.sqrt(mean_squared_error(actual, pred))
    return rmse, mean_absolute_error(actual, pred), r2_score(actual, pred)


data = load_diabetes(as_frame=True).frame
train, test = train_test_split(data, random_state=0)
alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
l1_ratio = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05

mlflow.set_experiment(experiment_name="diabetes")
with mlflow.start_run(run_name="elasticnet") as run:
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42)
    model.fit(train.drop(columns="target"), train["target"])
    rmse, mae, r2 = eval_metrics(test["target"], model.predict(test.drop(columns="target")))
    mlflow.log_param("alpha", alpha)
    mlflow.log_param("l1_ratio", l1_ratio)
    mlflow.log_metrics({"rmse": rmse, "r2": r2, "mae": mae})
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "coefficients.csv")
        pd.DataFrame({"coef": model.coef_}).to_csv(path, index=False)
        mlflow.log_artifact(path, artifact_path="model_info")
    print("artifact uri:", mlflow.get_artifact_uri("model_info"))

stored = mlflow.get_run(run.info.run_id)
assert stored.info.status == "FINISHED" and stored.data.metrics["rmse"] > 0
assert stored.info.run_name == "elasticnet"
print("ok", run.info.run_id)
