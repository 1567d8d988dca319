"""The `wandb` module W&B programs import, under real sweeps: config, log's step rules,
summary, media, artifacts, pruning by hyperband, and the one-line NotImplementedError."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from statistics import NormalDist

import pytest

import sweeps
import tracking
from sweeps import records
from sweeps.compat.impute import IMPUTED
from sweeps.compat.wandb_config import WandbFormatWarning
from sweeps.config import parse_config
from sweeps.optimizer import Optimizer
from sweeps.resume import plan_resume

HERE = Path(__file__).parent
REPO = HERE.parent.parent.parent

TRAIN = '''
import time
import wandb

run = wandb.init(project="ignored", config={"epochs": 9, "extra": "kept"})
assert wandb.config.opt["depth"] in (1, 2), wandb.config.opt   # nested, re-nested
assert wandb.config["extra"] == "kept" and "x~u" not in wandb.config
wandb.alert("ids", f"{run.id} {run.sweep_id}")
for epoch in range(wandb.config.epochs):
    wandb.log({"loss": abs(wandb.config.x) + 1.0 / (epoch + 1), "epoch": epoch})
    time.sleep(0.05)
wandb.finish()
'''


def trials_of(result: sweeps.SweepResult) -> list[records.TrialRecord]:
    client = tracking.Client(result.tracking_uri)
    return records.load_trials(client, client.get_run(result.sweep_run_id))


def test_an_unchanged_wandb_program_runs_and_hyperband_prunes_it(project):
    (project / "train.py").write_text(TRAIN)
    result = sweeps.run({
        "project": "shim", "method": "random", "program": "train.py", "run_cap": 8,
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
        "parameters": {"x": {"distribution": "normal", "mu": 0, "sigma": 1},
                       "opt": {"parameters": {"depth": {"values": [1, 2]}}}},
    }, report=False)
    assert result.status == "FINISHED"
    client = tracking.Client(result.tracking_uri)
    trials = trials_of(result)
    statuses = [t.run.info.status for t in trials]
    assert set(statuses) <= {tracking.RunStatus.FINISHED, tracking.RunStatus.PRUNED}, [
        t.run.data.tags.get(records.ERROR) for t in trials]
    assert tracking.RunStatus.PRUNED in statuses
    for trial in trials:
        run = trial.run
        assert run.data.tags["wandb.alert"] == f"ids: {trial.run_id} {result.sweep_run_id}"
        assert run.data.params["extra"] == "kept"
        latent = float(run.data.params["x~u"])  # the value is recorded with its latent
        assert float(run.data.params["x"]) == pytest.approx(NormalDist().inv_cdf(latent))
        steps = [m.step for m in client.get_metric_history(trial.run_id, "loss")]
        if run.info.status is tracking.RunStatus.PRUNED:
            # hyperband's bands here are at 3 and 9 logged values: a trial may be pruned at
            # its last step, and a prune answer may arrive a step or two late under load
            assert steps == list(range(len(steps))) and len(steps) >= 3
        else:
            assert steps == list(range(9))
            summary = client.artifact_dir(trial.run_id) / "wandb-summary.json"
            assert json.loads(summary.read_text())["epoch"] == 8


STEPS = '''
import os, sys, warnings
import wandb
warnings.simplefilter("error", wandb.WandbShimWarning) if os.environ.get("STRICT") else None
run = wandb.init()
wandb.log({"a": 1.0})                       # step 0
wandb.log({"b": 2.0}, commit=False)         # joins the next row
wandb.log({"a": 3.0})                       # step 1: a and b
wandb.log({"a": 5.0}, step=4)               # explicit step, not committed yet
wandb.log({"b": 6.0}, step=4)               # same row
wandb.log({"a": 7.0}, step=2)               # behind: ignored, one warning
wandb.define_metric("val/*", step_metric="epoch")
wandb.log({"val/acc": 0.5, "epoch": 40, "note": "text", "table": wandb.Table(
    columns=["k", "v"], data=[["x", 1]])})
run.summary["best"] = 0.9                   # in the summary alone: also a metric
art = wandb.Artifact("model", type="model")
open("weights.bin", "wb").write(b"01")
art.add_file("weights.bin")
run.log_artifact(art)
wandb.watch(object())
try:
    wandb.use_artifact("x")
except NotImplementedError as e:
    print("missing:", e, file=sys.stderr)
assert not hasattr(wandb, "Api")
wandb.config.update({"seen": True})
run.finish()
os.remove("weights.bin")
'''


def test_log_keeps_wandbs_step_rules_and_media_become_artifacts(project):
    (project / "steps.py").write_text(STEPS)
    result = sweeps.run({"project": "steps", "method": "grid", "program": "steps.py",
                         "metric": {"name": "a"}, "parameters": {"k": {"value": 1}}},
                        report=False)
    (trial,) = trials_of(result)
    client = tracking.Client(result.tracking_uri)
    history = {key: [(m.step, m.value) for m in client.get_metric_history(trial.run_id, key)]
               for key in ("a", "b", "val/acc", "epoch")}
    assert trial.run.info.status is tracking.RunStatus.FINISHED, trial.run.data.tags
    assert history == {"a": [(0, 1.0), (1, 3.0), (4, 5.0)], "b": [(1, 2.0), (4, 6.0)],
                       "val/acc": [(40, 0.5)], "epoch": [(4, 40.0)]}  # joins row 4
    files = {f.path for f in client.list_artifacts(trial.run_id)}
    files |= {f.path for folder in ("media", "artifacts/model")
              for f in client.list_artifacts(trial.run_id, folder)}
    assert {"media/table_4.csv", "artifacts/model/weights.bin", "wandb-summary.json"} <= files
    summary = json.loads((client.artifact_dir(trial.run_id) / "wandb-summary.json").read_text())
    assert summary["best"] == 0.9 and summary["a"] == 5.0
    assert [(m.step, m.value) for m in client.get_metric_history(trial.run_id, "best")] == [
        (5, 0.9)]
    assert trial.run.data.params["seen"] == "True"
    stderr = (client.artifact_dir(trial.run_id) / "stderr.txt").read_text()
    assert "missing: wandb.use_artifact is not available in sweepbook's offline wandb module" \
        in stderr
    assert stderr.count("is before the current step") == 1
    assert "str values are not metrics" in stderr and "wandb.watch does nothing" in stderr


def test_the_example_wandb_sweep_runs_from_the_cli(tmp_path):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if k != "SWEEPS_TRACKING_URI"}
    result = subprocess.run([sys.executable, "-m", "sweeps.cli", "run",
                             "examples/wandb/sweep.yaml", "--count", "3", "--quiet",
                             "--no-report"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    client = tracking.Client(tmp_path / "runs")
    (experiment,) = client.search_experiments()
    assert experiment.name == "wandb-demo"
    trials = [r for r in client.search_runs([experiment.experiment_id]) if r.info.parent_run_id]
    assert len(trials) == 3 and all(r.info.status in (tracking.RunStatus.FINISHED,
                                                      tracking.RunStatus.PRUNED)
                                    for r in trials), [r.data.tags for r in trials]
    assert not (tmp_path / "wandb").exists()  # the param files stay in the trial's folder


NESTED_CLI = '''
import argparse
import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--batch_size", type=int, default=16)
parser.add_argument("--optimizer", type=str, default=None)
args = parser.parse_args()
assert args.optimizer.startswith("{'lr': "), args.optimizer  # ${args}: a dict's repr
wandb.init(project="sweeps-examples", config=args)
print(f"wandb.config: {wandb.config}")
for epoch in range(wandb.config["epochs"]):
    lr = wandb.config["optimizer"]["lr"]                       # the sweep's dict wins
    beta = wandb.config["optimizer"]["nadam"]["beta"]
    wandb.log({"loss": 1 / (epoch + 1) / wandb.config["batch_size"] + lr * beta})
'''


def test_a_wandb_style_nested_grid_with_argparse_runs_whole(project):
    """The shape of wandb/sweeps' examples/nested-params: ${args}, argparse, config=args."""
    (project / "train-nested-cli.py").write_text(NESTED_CLI)
    with warnings.catch_warnings():  # controller and description: noted, ignored
        warnings.simplefilter("ignore", WandbFormatWarning)
        result = sweeps.run({
            "description": "nested", "program": "train-nested-cli.py", "method": "grid",
            "project": "nested", "controller": {"type": "local"},
            "metric": {"name": "loss", "goal": "minimize"},
            "early_terminate": {"type": "hyperband", "max_iter": 10, "s": 2, "eta": 3},
            "parameters": {"batch_size": {"values": [32, 64]}, "epochs": {"value": 3},
                           "optimizer": {"parameters": {
                               "lr": {"values": [0.001, 0.0001]},
                               "nadam": {"parameters": {"beta": {"values": [0.9, 0.95]}}}}}},
        }, overrides=["execution.workers=2"], report=False)
    trials = trials_of(result)
    assert len(trials) == 8
    assert {(t.params["batch_size"], t.params["optimizer.lr"], t.params["optimizer.nadam.beta"])
            for t in trials} == {(b, lr, beta) for b in (32, 64) for lr in (0.001, 0.0001)
                                 for beta in (0.9, 0.95)}
    assert all(t.run.info.status in (tracking.RunStatus.FINISHED, tracking.RunStatus.PRUNED)
               for t in trials), [t.run.data.tags.get(records.ERROR) for t in trials]


def test_metric_target_stops_the_sweep_once_a_finished_trial_reaches_it(project):
    (project / "train.py").write_text(TRAIN)
    result = sweeps.run({
        "project": "target", "method": "random", "program": "train.py", "run_cap": 6,
        "metric": {"name": "loss", "goal": "minimize", "target": 100.0},  # any trial will do
        "parameters": {"x": {"min": 0.0, "max": 1.0},
                       "opt": {"parameters": {"depth": {"value": 1}}}},
    }, report=False)
    trials = trials_of(result)
    assert result.status == "FINISHED"
    statuses = [t.run.info.status for t in trials]
    assert statuses[0] is tracking.RunStatus.FINISHED
    # at most the one trial sent ahead to the worker follows: it finishes, or it is called
    # off before it starts; no new trial is asked for
    assert len(statuses) <= 2 and set(statuses) <= {tracking.RunStatus.FINISHED,
                                                    tracking.RunStatus.KILLED}


FAILS_EVERY_SECOND = '''
import os
import wandb

wandb.init()
n = 0
while True:  # this trial's turn, claimed atomically: the second to start fails
    try:
        os.close(os.open(f"turn-{n}", os.O_CREAT | os.O_EXCL))
        break
    except FileExistsError:
        n += 1
if n % 2:
    raise SystemExit("every second trial fails")
for step in range(3):
    wandb.log({"loss": wandb.config.x ** 2 + len(wandb.config.opt) / (step + 1)})
'''


@pytest.mark.slow
def test_impute_keeps_failed_runs_failed_and_the_report_plots_values_not_latents(project):
    (project / "train.py").write_text(FAILS_EVERY_SECOND)
    with warnings.catch_warnings():  # bayes runs TPE where PyTorch is missing
        warnings.simplefilter("ignore", WandbFormatWarning)
        config = parse_config({
            "project": "impute", "method": "bayes", "program": "train.py", "run_cap": 3,
            "metric": {"name": "loss", "goal": "minimize", "impute": "best"},
            "parameters": {"x": {"distribution": "normal", "mu": 0, "sigma": 1},
                           "opt": {"values": [[1], [1, 2]]}},  # lists: an index latent
        })
    result = sweeps.run(config, overrides=["execution.workers=2"], report=False)
    trials = trials_of(result)
    statuses = {t.number: t.run.info.status for t in trials}
    assert sorted(s.value for s in statuses.values()) == ["FAILED", "FINISHED", "FINISHED"]
    # optuna was told the failed ones with a value ("best": their own best, here none: 0.0,
    # better than any real loss), yet the sweep's best is a trial that finished
    assert statuses[result.best_trial] is tracking.RunStatus.FINISHED
    client = tracking.Client(result.tracking_uri)
    resumed = Optimizer(config)  # a resumed sweep's study is told the same
    for record, history in plan_resume(client, client.get_run(result.sweep_run_id),
                                       config).stored:
        resumed.add_stored(record, history)
    assert sorted((t.state.name, t.user_attrs.get(IMPUTED, "")) for t in resumed.study.trials
                  ) == [("COMPLETE", ""), ("COMPLETE", ""), ("COMPLETE", "best")]
    assert resumed.best()[0] == result.best_trial

    from sweeps.report.data import load_sweep
    from sweeps.report.figures import parallel_figure, slice_figure
    data = load_sweep(client, result.sweep_run_id)
    assert data.params == ("opt", "x")  # plotted by their values
    assert data.table_params == ("opt", "opt~u", "x", "x~u")  # tables list the latents too
    labels = [d["label"] for d in parallel_figure(data, []).figure["data"][0]["dimensions"]]
    assert "x" in labels and not any("~u" in label for label in labels)
    slices = slice_figure(data, []).figure
    titles = [axis["title"]["text"] for key, axis in slices["layout"].items()
              if key.startswith("xaxis")]
    assert "x" in titles and not any("~u" in title for title in titles)
