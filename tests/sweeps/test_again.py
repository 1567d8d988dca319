"""Taking a stored sweep up again: extend, rerun-failed, recheck and reproduce, on real
sweeps with real worker processes and a real SQLite store."""

from __future__ import annotations

import json
import math

import pytest

import sweeps
from sweeps import records
from sweeps.again import recheck
from sweeps.cli import main
from sweeps.report.data import load_sweep
from sweeps.verdict import sweep_verdict
from tests.sweeps.conftest import sweep_config
from tracking import Client, RunStatus

NOISY = '''
import os
import random


def noisy(params, trial):
    """Deterministic for a given seed; the seed moves the loss a little."""
    return {"loss": params["x"] + random.Random(trial.seed).gauss(0, 0.01),
            "seed_seen": float(trial.seed)}


def needs_marker(params):
    if params["x"] > 1.0 and not os.path.exists("fixed"):
        raise ModuleNotFoundError("No module named 'fancylib'")
    return params["x"]
'''


@pytest.fixture
def noisy_project(project):
    (project / "again_objectives.py").write_text(NOISY)
    return project


def _sweep(project, objective="again_objectives:noisy", **sections):
    return sweeps.run(sweep_config(objective, **sections), tracking_uri=project / "runs")


def test_extend_adds_trials_to_the_same_sweep_warm_started(noisy_project):
    first = _sweep(noisy_project, budget={"trials": 4})
    root = str(noisy_project / "runs")
    client = Client(root)
    wall = float(client.get_run(first.sweep_run_id).data.tags[records.WALL])
    best_before = first.best_value
    assert main(["extend", first.sweep_run_id, "--trials", "3", "--root", root,
                 "--quiet", "--no-report"]) == 0
    sweep = client.get_run(first.sweep_run_id)
    trials = records.load_trials(client, sweep)
    assert sorted(r.number for r in trials) == list(range(7))
    assert len({r.params["x"] for r in trials}) == 7  # the seeded sampler does not start over
    assert all(r.run.info.parent_run_id == first.sweep_run_id for r in trials)
    assert sweep.info.status is RunStatus.FINISHED
    assert records.SweepRecord.from_run(sweep).wall_seconds > wall  # both sessions counted
    assert '"complete": 7' in sweep.data.tags[records.COUNTS]
    assert sweep.data.tags[records.BUDGET] == "7"
    best = min(r.run.data.metrics["loss"] for r in trials)
    assert best <= best_before
    assert json.loads(sweep.data.tags[records.BEST_VALUES]) == [best]
    # a second extend starts from all seven, not from the config's budget of four
    result = sweeps.extend(first.sweep_run_id, 1, tracking_uri=root, report=False)
    assert len(result.trials) == 8 and result.status == "FINISHED"
    with pytest.raises(sweeps.SweepError, match="--trials must be"):
        sweeps.extend(first.sweep_run_id, 0, tracking_uri=root)
    grid = _sweep(noisy_project, sampler={"type": "grid"}, space={"x": [0.5, 1.5]},
                  budget={"trials": 5})
    with pytest.raises(sweeps.SweepError, match=r"ran its whole grid \(2 points\)"):
        sweeps.extend(grid.sweep_run_id, 1, tracking_uri=root)


def test_rerun_failed_runs_failed_trials_again_linked_to_them(noisy_project, capsys):
    first = _sweep(noisy_project, "again_objectives:needs_marker", budget={"trials": 6})
    root = str(noisy_project / "runs")
    client = Client(root)
    failed = {r.number: r.run_id for r in records.load_trials(client, client.get_run(
        first.sweep_run_id)) if r.status is RunStatus.FAILED}
    assert failed, "the space must give some x > 1"
    (noisy_project / "fixed").write_text("")  # the missing package is installed
    capsys.readouterr()
    assert main(["rerun-failed", first.sweep_run_id, "--root", root, "--quiet",
                 "--no-report"]) == 0
    out = capsys.readouterr().out  # each trial counted as its last attempt ended
    again = f"{len(failed)} earlier attempt{'s' * (len(failed) != 1)} run again"
    assert f"Trials: 6 finished ({again})" in out and "Most common error" not in out
    sweep = client.get_run(first.sweep_run_id)
    attempts = records.load_trials(client, sweep)
    reruns = [r for r in attempts if r.run.data.tags.get(records.RETRY_OF)]
    assert {r.number: r.run.data.tags[records.RETRY_OF] for r in reruns} == failed
    assert all(r.status is RunStatus.FINISHED and r.params["x"] > 1.0 for r in reruns)
    assert len({r.number for r in attempts}) == 6  # no new trials
    assert '"failed": 0' in sweep.data.tags[records.COUNTS]
    capsys.readouterr()
    assert main(["rerun-failed", first.sweep_run_id, "--root", root]) == 2
    out, err = capsys.readouterr()  # a refusal, without a progress bar drawn before it
    assert out == "" and err.strip().count("\n") == 0 and "no failed trial" in err


def test_recheck_runs_the_top_trials_with_new_seeds_and_leaves_the_sweep_alone(
        noisy_project, capsys):
    first = _sweep(noisy_project, budget={"trials": 5},
                   space={"x": {"type": "float", "low": 0.0, "high": 2.0},
                          "seed": {"type": "int", "low": 0, "high": 9}})
    root = str(noisy_project / "runs")
    client = Client(root)
    before = client.get_run(first.sweep_run_id)
    assert main(["recheck", first.sweep_run_id, "--top", "2", "--repeats", "3",
                 "--seed-param", "seed", "--root", root, "--no-report"]) == 0
    after = client.get_run(first.sweep_run_id)
    assert after.info.status is before.info.status
    assert after.data.tags == before.data.tags  # counts, best, wall and stop reason as they were
    reruns = records.load_reruns(client, after)
    top = [r for r, _ in sweeps.reruns.top_trials(client, after, sweeps.again.stored_config(
        client, after), 2)]
    assert [(r.number, r.repeat) for r in reruns] == \
        sorted((t.number, k) for t in top for k in (1, 2, 3))
    assert {r.rerun_of for r in reruns} == {t.run_id for t in top}
    for rerun in reruns:
        assert rerun.status is RunStatus.FINISHED
        params = client.typed_params([rerun.run])[rerun.run.info.run_id]
        assert params["seed"] == rerun.seed  # the seed param carries the new seed
        assert rerun.run.data.metrics["seed_seen"] == rerun.seed  # and so does trial.seed
    assert len({r.seed for r in reruns}) == len(reruns)
    assert len(records.load_trials(client, after)) == 5  # the trials stay five
    assert len(first.trials) == 5  # and sweeps.run's result lists only them
    trial_seeds = {int(t.run.data.tags[records.SEED]) for t in records.load_trials(client, after)}
    assert not trial_seeds & {r.seed for r in reruns}
    # a second recheck adds repeats 4 to 6, with seeds of their own
    again = recheck(first.sweep_run_id, top=2, repeats=3, tracking_uri=root, report=False)
    best = top[0].number
    assert sorted(r.repeat for r in again if r.number == best) == [1, 2, 3, 4, 5, 6]
    verdict = sweep_verdict(load_sweep(client, first.sweep_run_id))
    for trial, checked in zip(top, verdict.trials, strict=True):  # best first, both
        assert checked.number == trial.number and checked.n == 6
        low, high = checked.interval
        assert low < trial.params["x"] < high  # the true mean: the noise is centred on x
    assert main(["recheck", first.sweep_run_id, "--seed-param", "nope", "--root", root]) == 2
    assert "--seed-param 'nope' is not a param" in capsys.readouterr().err
    with pytest.raises(sweeps.SweepError, match="--top must be a whole number"):
        recheck(first.sweep_run_id, top="3", tracking_uri=root)
    # a re-check whose process died (kill -9) left a run QUEUED: the next one ends it
    with client.batch() as writes:
        left = writes.create_run(after.info.experiment_id, run_name="left",
                                 parent_run_id=first.sweep_run_id, status=RunStatus.QUEUED,
                                 tags={**records.rerun_tags(records.RECHECK, best, top[0].run_id,
                                                            99, 1),
                                       records.RERUN_BY: "vm-that-was:999999999"})
    with pytest.raises(sweeps.SweepError, match="being re-run .process vm-that-was"):
        recheck(first.sweep_run_id, top=1, repeats=1, tracking_uri=root, report=False)
    with client.batch() as writes:
        writes.set_tags(left, {records.RERUN_BY: records.this_coordinator().rpartition(":")[0]
                               + ":999999999"})
    recheck(first.sweep_run_id, top=1, repeats=1, tracking_uri=root, report=False)
    assert client.get_run(left).info.status is RunStatus.KILLED


def test_reproduce_is_bit_exact_for_a_deterministic_trial_and_warns_of_changes(
        noisy_project, capsys):
    first = _sweep(noisy_project, budget={"trials": 2})
    root = str(noisy_project / "runs")
    client = Client(root)
    trial = records.load_trials(client, client.get_run(first.sweep_run_id))[1]
    client.set_tag(first.sweep_run_id, "sys.python", "2.7.18")
    client.flush()
    assert main(["reproduce", trial.run_id[:8], "--root", root]) == 0
    out = capsys.readouterr().out
    assert "warning: python differs: recorded 2.7.18, now" in out
    assert "Reproduced bit for bit." in out
    rerun = records.load_reruns(client, client.get_run(first.sweep_run_id),
                                records.REPRODUCTION)[-1]
    assert rerun.rerun_of == trial.run_id
    assert rerun.seed == int(trial.run.data.tags[records.SEED])
    assert rerun.run.data.metrics["loss"] == trial.run.data.metrics["loss"]


def test_reproduce_reports_the_difference_a_changed_objective_makes(noisy_project, capsys):
    (noisy_project / "fixed").write_text("")
    first = _sweep(noisy_project, "again_objectives:needs_marker", budget={"trials": 1},
                   execution={"workers": 1})
    root = str(noisy_project / "runs")
    trial = first.trials["run_id"][0]
    source = noisy_project / "again_objectives.py"
    source.write_text(source.read_text().replace("    return params[\"x\"]\n",
                                                 "    return params[\"x\"] + 0.5\n"))
    assert main(["reproduce", trial, "--root", root]) == 1
    out = capsys.readouterr().out
    assert "Not the same" in out and "│ 0.5 " in out  # the difference column
    sweep_id = first.sweep_run_id
    assert main(["reproduce", sweep_id, "--root", root]) == 2
    assert "is not a trial of a sweep" in capsys.readouterr().err
    assert not math.isnan(Client(root).get_run(trial).data.metrics["loss"])


def test_budget_repeats_runs_each_trial_n_times_and_tells_optuna_the_mean(noisy_project):
    result = _sweep(noisy_project, budget={"trials": 3, "repeats": 3})
    assert result.status == "FINISHED"
    client = Client(noisy_project / "runs")
    sweep = client.get_run(result.sweep_run_id)
    trials = records.load_trials(client, sweep)
    assert [t.number for t in trials] == [0, 1, 2]  # three trials, each one run
    for trial in trials:
        repeats = client.search_runs([sweep.info.experiment_id],
                                     f"attributes.parent_run_id = '{trial.run_id}'")
        assert sorted(r.data.tags[records.REPEAT] for r in repeats) == ["1", "2", "3"]
        assert {r.data.tags[records.ROLE] for r in repeats} == {records.REPETITION}
        losses = [r.data.metrics["loss"] for r in repeats]
        assert len({r.data.tags[records.SEED] for r in repeats}) == 3
        assert trial.status is RunStatus.FINISHED
        assert trial.run.data.metrics["loss"] == pytest.approx(sum(losses) / 3, abs=1e-12)
    best = min(t.run.data.metrics["loss"] for t in trials)
    assert result.best_value == pytest.approx(best, abs=1e-12)
    assert '"complete": 3' in sweep.data.tags[records.COUNTS]
    failing = _sweep(noisy_project, "again_objectives:needs_marker",
                     budget={"trials": 6, "repeats": 2})
    ended = {t.params["x"] > 1.0: t for t in records.load_trials(client, client.get_run(
        failing.sweep_run_id))}
    assert ended[True].status is RunStatus.FAILED
    assert ended[True].error.startswith("repeat 1: ModuleNotFoundError")
    assert ended[False].status is RunStatus.FINISHED
    with pytest.raises(sweeps.SweepError, match=r"mean of its 3 repeats \(budget.repeats\)"):
        sweeps.reproduce(trials[0].run_id, tracking_uri=noisy_project / "runs")
    repeat = client.search_runs([sweep.info.experiment_id],
                                f"attributes.parent_run_id = '{trials[0].run_id}'")[0]
    again = sweeps.reproduce(repeat.info.run_id, tracking_uri=noisy_project / "runs")
    assert again.exact and again.values["loss"][0] == repeat.data.metrics["loss"]
