"""W&B's own example sweeps (examples/wandb/*/, copied unchanged from wandb/sweeps) run
offline from the CLI, as `wandb agent --count 2` would run them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tracking
from sweeps import records

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "wandb"

# (folder, sweep file, metric, values per trial, the first two points of W&B's grid or None)
CASES = [
    ("sweeps-examples", "sweep-grid.yaml", "loss_metric", 5,
     [{"base": 10, "direction": -1, "increment": inc} for inc in (0.1, 0.2)]),
    ("sweeps-examples", "sweep-bayes.yaml", "loss_metric", 5, None),
    ("nested-params", "sweep-nested-cli.yaml", "loss", 5,
     [{"batch_size": 32, "optimizer.lr": 0.001, "optimizer.nadam.beta": beta}
      for beta in (0.9, 0.95)]),
]


@pytest.mark.slow
def test_wandbs_examples_run_unchanged(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SWEEPS_TRACKING_URI"}
    started = []
    for i, (folder, sweep_file, *_) in enumerate(CASES):  # all at once: one wait in CI
        cwd = shutil.copytree(EXAMPLES / folder, tmp_path / str(i))
        started.append((cwd, subprocess.Popen(
            [sys.executable, "-m", "sweeps.cli", "run", sweep_file, "--count", "2",
             "--workers", "2", "--quiet", "--no-report"],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    for (cwd, process), (_, sweep_file, metric, values, first_points) in zip(
            started, CASES, strict=True):
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, f"{sweep_file}: {output}"
        client = tracking.Client(cwd / "runs")
        (experiment,) = client.search_experiments()
        assert experiment.name == "sweeps-examples"  # the file's project
        (sweep,) = [r for r in client.search_runs([experiment.experiment_id])
                    if records.is_sweep(r)]
        trials = records.load_trials(client, sweep)
        assert [t.run.info.status for t in trials] == [tracking.RunStatus.FINISHED] * 2, output
        for trial in trials:
            assert len(client.get_metric_history(trial.run_id, metric)) == values
            assert metric in trial.run.data.metrics
        if first_points is not None:  # W&B's grid order: names sorted, the last fastest
            assert sorted(({k: t.params[k] for k in first_points[0]} for t in trials),
                          key=repr) == sorted(first_points, key=repr)
