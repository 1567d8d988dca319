"""The MlflowClient API: experiments, runs, batches, histories, artifacts, view types."""
import tempfile
import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

client = MlflowClient()
name = f"client-demo-{int(time.time() * 1000)}"
experiment_id = client.create_experiment(name, tags={"project": "demo"})
assert client.get_experiment(experiment_id).name == name
assert client.get_experiment_by_name("does-not-exist") is None

run = client.create_run(experiment_id, run_name="batch", tags={"source": "client"})
run_id = run.info.run_id
now = int(time.time() * 1000)
client.log_batch(run_id,
                 metrics=[Metric("loss", 1.0 / (s + 1), now + s, s) for s in range(5)],
                 params=[Param("lr", "0.01"), Param("batch_size", "32")],
                 tags=[RunTag("stage", "dev")])
client.log_metric(run_id, "accuracy", 0.91)
client.set_tag(run_id, "reviewed", "yes")
client.log_text(run_id, "hello", "notes/hello.txt")
client.set_terminated(run_id, "FINISHED")

history = client.get_metric_history(run_id, "loss")
assert [m.step for m in history] == [0, 1, 2, 3, 4]
fetched = client.get_run(run_id)
assert fetched.info.status == "FINISHED" and fetched.data.params["batch_size"] == "32"
assert [f.path for f in client.list_artifacts(run_id)] == ["notes"]
local = client.download_artifacts(run_id, "notes", tempfile.mkdtemp())
assert open(f"{local}/hello.txt").read() == "hello"

runs = client.search_runs([experiment_id], "params.lr = '0.01'",
                          run_view_type=ViewType.ACTIVE_ONLY, max_results=10,
                          order_by=["metrics.accuracy DESC"])
assert [r.info.run_id for r in runs] == [run_id]
client.delete_run(run_id)
assert client.search_runs([experiment_id]) == []
assert len(client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)) == 1
try:
    client.get_run("0" * 32)
except MlflowException as e:
    print("missing run:", e.error_code)
client.delete_experiment(experiment_id)
assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
print("ok", run_id)
