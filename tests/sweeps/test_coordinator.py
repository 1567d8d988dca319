"""The sweep engine end to end on the local backend: real worker processes, real SQLite."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import sweeps
import tracking
from sweeps import records
from sweeps.coordinator import Progress


def trials_of(result: sweeps.SweepResult) -> list[records.TrialRecord]:
    client = tracking.Client(result.tracking_uri)
    return records.load_trials(client, client.get_run(result.sweep_run_id))


def test_sweep_is_a_parent_run_with_one_child_per_trial(project, make_config):
    result = sweeps.run(make_config("sample_objectives:quick"))
    assert result.status == "FINISHED"
    client = tracking.Client("runs")
    sweep = client.get_run(result.sweep_run_id)
    assert sweep.data.tags[records.ROLE] == records.SWEEP
    assert json.loads(sweep.data.tags[records.METRICS]) == [{"name": "loss", "goal": "minimize"}]
    assert json.loads(sweep.data.tags[records.COUNTS]) == {"complete": 6, "pruned": 0,
                                                          "failed": 0}
    assert "sys.python" in sweep.data.tags
    stored = trials_of(result)
    assert [t.number for t in stored] == list(range(6))
    for trial in stored:
        run = trial.run
        assert run.info.parent_run_id == result.sweep_run_id
        assert run.info.status is tracking.RunStatus.FINISHED
        assert float(run.data.params["x"]) == pytest.approx(trial.params["x"])
        assert run.data.metrics["loss"] == pytest.approx((trial.params["x"] - 1) ** 2)
        assert run.data.tags[records.WORKER] in ("local-0", "local-1")
        assert float(run.data.tags[records.QUEUE_WAIT]) >= 0
        assert float(run.data.tags[records.RUN_SECONDS]) >= 0
    best = min(stored, key=lambda t: t.run.data.metrics["loss"])
    assert result.best_trial == best.number
    assert result.best_value == pytest.approx(best.run.data.metrics["loss"])
    assert sweep.data.tags[records.BEST_TRIAL] == str(best.number)
    frame = tracking.search_runs(experiment_names=["test"],
                                 filter_string=f"attributes.parent_run_id = '{result.sweep_run_id}'"
                                 " and metrics.loss < 0.25")
    assert set(frame["run_id"]) == {t.run_id for t in stored if t.run.data.metrics["loss"] < 0.25}
    assert len(result.trials) == 6
    config = json.loads((client.artifact_dir(result.sweep_run_id) / records.CONFIG_ARTIFACT)
                        .read_text())
    assert config["experiment"] == "test"


def test_fast_trials_settled_in_batches_keep_the_budget_exactly(project, make_config):
    """Random sampling without a pruner settles complete trials in batches: the trials
    that ended and wait count toward the budget, so no trial is asked for past it."""
    result = sweeps.run(make_config("sample_objectives:quick", budget={"trials": 150}))
    assert result.status == "FINISHED"
    stored = trials_of(result)
    assert [t.number for t in stored] == list(range(150))
    assert all(t.status is tracking.RunStatus.FINISHED for t in stored)
    sweep = tracking.Client("runs").get_run(result.sweep_run_id)
    assert json.loads(sweep.data.tags[records.COUNTS])["complete"] == 150


@pytest.mark.parametrize("sampler", ["random", "tpe", "qmc"])
def test_same_seed_same_params_with_one_worker(project, make_config, sampler):
    def params_of_a_sweep() -> list[dict]:
        config = make_config("sample_objectives:quick", sampler={"type": sampler, "seed": 7},
                             execution={"workers": 1})
        return [t.params for t in trials_of(sweeps.run(config))]

    assert params_of_a_sweep() == params_of_a_sweep()


def test_pruner_stops_bad_trials_and_records_the_steps_reached(project, make_config):
    config = make_config("sample_objectives:stepwise", budget={"trials": 16},
                         pruner={"type": "median", "n_startup_trials": 3},
                         execution={"workers": 1})
    result = sweeps.run(config)
    stored = trials_of(result)
    pruned = [t for t in stored if t.status is tracking.RunStatus.PRUNED]
    assert pruned, "the median pruner never pruned"
    client = tracking.Client("runs")
    for trial in pruned:
        steps = [m.step for m in client.get_metric_history(trial.run_id, "loss")]
        assert steps == list(range(len(steps))) and len(steps) < 10
    finished = [t for t in stored if t.status is tracking.RunStatus.FINISHED]
    assert finished and all(len(client.get_metric_history(t.run_id, "loss")) == 10
                            for t in finished)


def test_every_kind_of_crash_fails_alone(project, make_config):
    kinds = ["ok", "raise", "exit", "os_exit", "segfault", "sigkill", "nan", "wrong_type"]
    config = make_config("sample_objectives:crashes",
                         space={"kind": {"type": "categorical", "choices": kinds}},
                         sampler={"type": "grid"}, budget={"trials": len(kinds)})
    result = sweeps.run(config)
    assert result.status == "FINISHED"
    by_kind = {t.params["kind"]: t.run for t in trials_of(result)}
    assert set(by_kind) == set(kinds)
    assert by_kind["ok"].info.status is tracking.RunStatus.FINISHED
    expected_errors = {
        "raise": "ValueError: <b>bad</b> value for x", "exit": "sys.exit(3)",
        "os_exit": "exited with code 7", "segfault": "SIGSEGV", "sigkill": "SIGKILL",
        "nan": "is NaN", "wrong_type": "returned str",
    }
    for kind, text in expected_errors.items():
        run = by_kind[kind]
        assert run.info.status is tracking.RunStatus.FAILED, kind
        assert text in run.data.tags[records.ERROR], (kind, run.data.tags[records.ERROR])
    traceback = Path(by_kind["raise"].info.artifact_uri, records.TRACEBACK_ARTIFACT).read_text()
    assert "ValueError" in traceback and "sample_objectives.py" in traceback


def test_a_hanging_trial_times_out_and_the_sweep_goes_on(project, make_config):
    config = make_config("sample_objectives:hangs", budget={"trials": 4},
                         space={"x": [0.1, 0.9]}, sampler={"type": "grid"},
                         execution={"workers": 2, "trial_timeout": 1.5})
    result = sweeps.run(config)
    runs = {t.params["x"]: t.run for t in trials_of(result)}
    assert runs[0.1].info.status is tracking.RunStatus.FINISHED
    assert runs[0.9].info.status is tracking.RunStatus.FAILED
    assert "timed out after 1.5s" in runs[0.9].data.tags[records.ERROR]


def test_retries_make_a_new_child_run_tagged_with_the_attempt(project, make_config):
    config = make_config("sample_objectives:flaky", budget={"trials": 3},
                         execution={"workers": 2, "retries": 1})
    result = sweeps.run(config)
    stored = trials_of(result)
    assert len(stored) == 6
    for number in range(3):
        first, second = [t for t in stored if t.number == number]
        assert (first.attempt, second.attempt) == (1, 2)
        assert first.status is tracking.RunStatus.FAILED
        assert second.status is tracking.RunStatus.FINISHED
        assert second.run.data.tags[records.RETRY_OF] == first.run_id
        assert second.params == first.params
    assert json.loads(tracking.Client("runs").get_run(result.sweep_run_id)
                      .data.tags[records.COUNTS])["complete"] == 3


def test_too_many_failures_stop_the_sweep(project, make_config):
    config = make_config("sample_objectives:fails_differently",
                         budget={"trials": 50, "max_failures": 2},
                         execution={"workers": 1})
    result = sweeps.run(config)
    assert result.status == "FAILED"
    ran = [t for t in trials_of(result) if t.status is tracking.RunStatus.FAILED]
    assert 3 <= len(ran) <= 4  # the trial sent ahead to the worker may have started
    assert all(t.status is tracking.RunStatus.KILLED for t in trials_of(result) if t not in ran)
    sweep = tracking.Client("runs").get_run(result.sweep_run_id)
    assert sweep.data.tags[records.STOP_REASON].endswith("; too many failures (3 > 2)")
    assert result.error == sweep.data.tags[records.STOP_REASON]


def test_a_sweep_where_every_trial_failed_ends_failed_saying_why(project, make_config):
    result = sweeps.run(make_config("sample_objectives:always_fails", budget={"trials": 3}))
    assert result.status == "FAILED"
    assert re.fullmatch(r"all 3 trials failed: RuntimeError: always \(trial \d: run \w+\)",
                        result.error), result.error
    assert len(trials_of(result)) == 3  # fewer than 5 alike: every trial ran


def test_a_metric_never_reported_fails_the_sweep(project, make_config):
    result = sweeps.run(make_config("sample_objectives:quick", budget={"trials": 2},
                                    metric={"name": "accuracy", "goal": "maximize"}))
    assert result.status == "FAILED"
    assert result.error.startswith("all 2 trials failed: objective did not report metric "
                                   "'accuracy'"), result.error


def test_the_first_attempts_failing_alike_stop_the_sweep(project, make_config):
    config = make_config("sample_objectives:always_fails", budget={"trials": 30},
                         execution={"workers": 1})
    result = sweeps.run(config)
    failed = [t for t in trials_of(result) if t.status is tracking.RunStatus.FAILED]
    assert 5 <= len(failed) <= 6  # the trial sent ahead to the worker may have started
    assert result.error.endswith("; the first 5 attempts failed with the same error")
    config["budget"]["max_failures"] = 3  # N is max_failures when it is set
    result = sweeps.run(config)
    assert result.error.endswith("; the first 3 attempts failed with the same error")


def test_a_success_before_the_failures_keeps_the_sweep_going(project, make_config):
    config = make_config("sample_objectives:first_succeeds", budget={"trials": 8},
                         execution={"workers": 1})
    result = sweeps.run(config)
    assert result.status == "FINISHED" and result.error is None
    assert len(trials_of(result)) == 8


def test_sweeps_run_exits_1_with_the_reason_when_no_trial_completed(project, make_config):
    config = make_config("sample_objectives:always_fails", budget={"trials": 2})
    Path("sweep.yaml").write_text(json.dumps(config))
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", "sweep.yaml", "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("sweeps: error: all 2 trials failed: RuntimeError: always "
                                  "(trial "), done.stderr


def test_the_fluent_api_inside_an_objective_logs_to_the_trial_run(project, make_config):
    config = make_config("sample_objectives:fluent", budget={"trials": 2})
    result = sweeps.run(config)
    client = tracking.Client("runs")
    for trial in trials_of(result):
        run = trial.run
        assert run.info.status is tracking.RunStatus.FINISHED
        assert run.data.params["optimizer"] == "adam"
        assert run.data.tags["dataset"] == "v2.1"
        assert run.data.note == "baseline; next: tune depth"
        history = client.get_metric_history(trial.run_id, "loss")
        assert [m.step for m in history] == [0, 1, 2]
        assert run.data.metrics["loss"] == pytest.approx(trial.params["x"] + 1 / 3)
        assert {f.path for f in client.list_artifacts(trial.run_id)} >= {"models", "config"}
        model = Path(run.info.artifact_uri, "models", "model.txt").read_text()
        assert model == f"weights for x={trial.params['x']}"


def test_multi_objective_sweep_keeps_both_values(project, make_config):
    config = make_config("sample_objectives:quick",
                         metrics=[{"name": "loss", "goal": "minimize"},
                                  {"name": "aux", "goal": "maximize"}],
                         sampler={"type": "nsga2", "seed": 0}, budget={"trials": 8})
    del config["metric"]
    result = sweeps.run(config)
    assert result.status == "FINISHED"
    assert len(result.best_values) == 2
    assert all(math.isfinite(v) for v in result.best_values)


def test_conditional_params_are_absent_when_their_condition_fails(project, make_config):
    space = {"kind": ["ok", "nan"], "x": {"type": "float", "low": 0, "high": 1,
                                          "when": {"kind": "ok"}}}
    config = make_config("sample_objectives:crashes", space=space, budget={"trials": 12})
    result = sweeps.run(config)
    for trial in trials_of(result):
        assert ("x" in trial.params) == (trial.params["kind"] == "ok")
        assert ("x" in trial.run.data.params) == (trial.params["kind"] == "ok")


def test_asking_for_a_gpu_on_a_machine_without_one_is_a_clear_error(project, make_config):
    config = make_config("sample_objectives:gpu_info",
                         execution={"workers": 1, "resources": {"gpu": 1}})
    with pytest.raises(sweeps.SweepError, match="ask for a GPU, but this machine has none"):
        sweeps.run(config)


def test_gpu_ids_come_from_cuda_visible_devices(project, make_config, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    config = make_config("sample_objectives:gpu_info", budget={"trials": 4},
                         execution={"workers": 2, "resources": {"gpu": 1}})
    result = sweeps.run(config)
    seen = {t.run.data.tags["cuda_visible_devices"] for t in trials_of(result)}
    assert seen == {"3", "5"}
    assert {t.run.data.tags[records.GPUS] for t in trials_of(result)} == {"3", "5"}


def test_store_is_intact_after_a_sweep(project, make_config):
    sweeps.run(make_config("sample_objectives:quick"))
    with sqlite3.connect(Path("runs", "tracking.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_time_budget_stops_trials_sent_ahead_to_busy_workers(project, make_config,
                                                                  monkeypatch):
    monkeypatch.setenv("SAMPLE_SLEEP", "2")
    config = make_config("sample_objectives:slow", budget={"trials": 10, "timeout": 1},
                         execution={"workers": 1})
    result = sweeps.run(config)
    statuses = sorted(t.status.value for t in trials_of(result))
    assert statuses == ["FINISHED", "KILLED"], statuses
    killed = next(t for t in trials_of(result) if t.status is tracking.RunStatus.KILLED)
    assert killed.run.data.tags[records.ERROR] == "not started: time budget used"
    sweep = tracking.Client("runs").get_run(result.sweep_run_id)
    assert sweep.data.tags[records.STOP_REASON] == "time budget used"


def test_a_trial_sent_ahead_is_queued_until_its_worker_starts_it(project, make_config,
                                                                  monkeypatch):
    monkeypatch.setenv("SAMPLE_SLEEP", "2")
    shown, stored = set(), set()

    def watch(progress: Progress) -> None:
        shown.add((progress.running, progress.queued))
        if Path("runs", "tracking.db").exists():
            with sqlite3.connect(Path("runs", "tracking.db")) as conn:
                stored.update(s for (s,) in conn.execute(
                    "SELECT status FROM runs WHERE parent_run_id IS NOT NULL"))

    config = make_config("sample_objectives:slow", budget={"trials": 3},
                         execution={"workers": 1})
    result = sweeps.run(config, on_progress=watch)
    assert (1, 1) in shown  # one running, the next sent ahead to the same worker
    assert "QUEUED" in stored
    for trial in trials_of(result):
        info, tags = trial.run.info, trial.run.data.tags
        assert info.status is tracking.RunStatus.FINISHED
        duration = (info.end_time - info.start_time) / 1e3
        assert duration - float(tags[records.RUN_SECONDS]) < 1  # no queue wait inside
    assert max(float(t.run.data.tags[records.QUEUE_WAIT]) for t in trials_of(result)) > 1


def test_the_overhead_share_leaves_the_queue_wait_out(project, make_config, monkeypatch):
    from sweeps.report.data import load_sweep, summarize
    monkeypatch.setenv("SAMPLE_SLEEP", "1")
    config = make_config("sample_objectives:slow", budget={"trials": 3},
                         execution={"workers": 1})
    result = sweeps.run(config)
    summary = summarize(load_sweep(tracking.Client("runs"), result.sweep_run_id))
    assert summary.mean_queue_wait_s > 0.3  # trials waited behind the busy worker...
    assert summary.overhead_share < 0.25  # ...which was busy nearly all the time


def test_a_misspelt_objective_fails_before_the_experiment_is_made(project, make_config):
    with pytest.raises(sweeps.SweepError, match="no_such_function"):
        sweeps.run(make_config("sample_objectives:no_such_function"))
    assert tracking.Client("runs").get_experiment_by_name("test") is None


def test_trial_params_are_stored_once_with_their_types(project, make_config):
    result = sweeps.run(make_config("sample_objectives:quick", budget={"trials": 2}))
    for trial in trials_of(result):
        assert records.PARAMS not in trial.run.data.tags  # the params table only
        assert isinstance(trial.params["x"], float)


def test_trials_recorded_by_old_versions_read_their_params_tag():
    run = tracking.Run(
        tracking.RunInfo("r1", "trial-0", "1", "s1", tracking.RunStatus.FINISHED, 0, 1, ""),
        tracking.RunData({}, {}, {records.ROLE: records.TRIAL, records.NUMBER: "3",
                                  records.PARAMS: '{"x": 0.5, "n": 2}'}, ""))
    record = records.TrialRecord.from_run(run, {})
    assert (record.number, record.attempt, dict(record.params)) == (3, 1, {"x": 0.5, "n": 2})
