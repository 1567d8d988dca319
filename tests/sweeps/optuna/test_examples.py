"""optuna's own examples (examples/optuna/), each run as a script with the one-line change,
end to end: every trial a tracked child run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tracking
from sweeps import records

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = {"quadratic": 20, "sklearn_simple": 20, "sklearn_pruning": 20,
            "multi_objective": 24}


def test_every_example_is_listed():
    assert sorted(EXAMPLES) == sorted(p.stem for p in (REPO / "examples" / "optuna").glob(
        "*.py") if p.stem != "__init__")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs_with_sweeps_create_study(tmp_path: Path, name: str):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    done = subprocess.run([sys.executable, f"examples/optuna/{name}.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items()
                               if k != "SWEEPS_TRACKING_URI"})
    assert done.returncode == 0, done.stderr
    client = tracking.Client(tmp_path / "runs")
    (experiment,) = client.search_experiments()
    (sweep,) = records.sweeps_of(client, experiment.experiment_id)
    trials = records.load_trials(client, sweep)
    assert len(trials) == EXAMPLES[name]
    assert all(t.status in (tracking.RunStatus.FINISHED, tracking.RunStatus.PRUNED)
               for t in trials), [t.error for t in trials]
    assert all(t.params for t in trials)
