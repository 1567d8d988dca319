"""Dataset tracking with mlflow.data and log_input."""
import mlflow
import mlflow.data
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris

iris = load_iris(as_frame=True).frame
iris.to_csv("iris.csv", index=False)
dataset = mlflow.data.from_pandas(iris, source="iris.csv", name="iris", targets="target")
arrays = mlflow.data.from_numpy(np.asarray(iris.drop(columns="target")), name="iris-features")
print(dataset.name, dataset.digest, dataset.source, dataset.profile)

mlflow.set_experiment("datasets")
with mlflow.start_run() as run:
    mlflow.log_input(dataset, context="training")
    mlflow.log_input(arrays, context="features")
    mlflow.log_metric("rows", len(pd.DataFrame(iris)))
assert len(dataset.digest) >= 8
print("ok", run.info.run_id)
