"""`metric.use` (which reported value a trial's objective is) and `stop_when`, end to end on
the local backend: real worker processes, real SQLite."""

from __future__ import annotations

import statistics

import pytest

import sweeps
import tracking
from sweeps import records

BUMPS = (3.0, 1.0, 2.0, 5.0)  # what the command objective adds to x at each step


def stored(result: sweeps.SweepResult) -> tuple[tracking.Client, list[records.TrialRecord]]:
    client = tracking.Client(result.tracking_uri)
    return client, records.load_trials(client, client.get_run(result.sweep_run_id))


def test_use_best_is_told_and_stored_and_stop_when_a_logged_metric_ends_the_sweep(
        project, make_config):
    """loss by `use: best`; acc, logged but no objective, reaching 0.9 stops the sweep."""
    result = sweeps.run(make_config(
        "sample_objectives:curve", metric={"name": "loss", "goal": "minimize", "use": "best"},
        stop_when={"metric": "acc", "reaches": 0.9, "goal": "maximize"},
        budget={"trials": 12}, execution={"workers": 1}))
    client, trials = stored(result)
    done = [t for t in trials if t.status is tracking.RunStatus.FINISHED]
    for trial in done:  # four values logged, then the final one: the best of them
        history = [m.value for m in client.get_metric_history(trial.run_id, "loss")]
        assert len(history) == 5 and min(history[:4]) < history[3]
        assert trial.run.data.metrics["loss"] == history[4] == min(history[:4])
    assert result.best_value == min(t.run.data.metrics["loss"] for t in done)  # optuna's
    first = next(t.number for t in done if t.run.data.metrics["acc"] >= 0.9)
    assert 0 < first and trials[-1].number <= first + 1  # only the one sent ahead follows
    assert result.status == "FINISHED"
    sweep = client.get_run(result.sweep_run_id)
    assert sweep.data.tags[records.STOP_REASON] == f"stop_when: acc reached 0.9 (trial {first})"


def test_use_mean_last_k_of_a_command_objective(project):
    """A command printing event lines: its value is the mean of the last k it printed."""
    lines = ("import json; [print('@tracking ' + json.dumps(dict(metrics=dict(loss={x} + b), "
             f"step=i)), flush=True) for i, b in enumerate({list(BUMPS)})]")
    result = sweeps.run({
        "experiment": "cmd", "objective": {"command": f'python -c "{lines}"'},
        "metric": {"name": "loss", "goal": "minimize", "use": "mean_last_k", "k": 2},
        "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "sampler": {"type": "random", "seed": 0}, "budget": {"trials": 2},
        "execution": {"workers": 1}, "report": False})
    client, trials = stored(result)
    assert result.status == "FINISHED" and len(trials) == 2
    for trial in trials:
        logged = [m.value for m in client.get_metric_history(trial.run_id, "loss")][:4]
        assert logged == pytest.approx([trial.params["x"] + bump for bump in BUMPS])
        assert trial.run.data.metrics["loss"] == pytest.approx(statistics.mean(logged[-2:]))
    assert result.best_value == min(t.run.data.metrics["loss"] for t in trials)
