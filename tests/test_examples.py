"""Every shipped config runs end to end through the CLI, offline, as the README says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tracking

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the configs and examples, so the runs and reports land in tmp_path."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_config_runs(checkout: Path, name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sweeps.cli", "run", f"configs/{name}", "--trials", "4",
         "--quiet", "--no-report"],
        cwd=checkout, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "SWEEPS_TRACKING_URI"})
    assert result.returncode == 0, result.stdout + result.stderr
    client = tracking.Client(checkout / "runs")
    (experiment,) = client.search_experiments()
    trials = [r for r in client.search_runs([experiment.experiment_id]) if r.info.parent_run_id]
    assert len(trials) == 4
    assert all(r.info.status in (tracking.RunStatus.FINISHED, tracking.RunStatus.PRUNED)
               for r in trials), [r.data.tags.get("trial.error") for r in trials]


def test_iris_example_logs_model_figure_tags_and_note(checkout: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", "configs/iris_rf.yaml",
                             "--trials", "1", "--quiet", "--no-report"], cwd=checkout,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    client = tracking.Client(checkout / "runs")
    (trial,) = [r for r in client.search_runs([client.search_experiments()[0].experiment_id])
                if r.info.parent_run_id]
    paths = {f.path for folder in ("model", "plots")
             for f in client.list_artifacts(trial.info.run_id, folder)}
    assert {"model/MLmodel", "plots/feature_importance.json"} <= paths
    champion = client.get_model_version_by_alias("iris-rf", "champion")
    assert champion.run_id == trial.info.run_id
    assert trial.data.tags["dataset"] == "iris"
    assert "5-fold CV accuracy" in trial.data.note
    assert 0.8 < trial.data.metrics["accuracy"] <= 1.0
    assert len(client.get_metric_history(trial.info.run_id, "fold_accuracy")) == 5
