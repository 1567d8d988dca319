"""The report's data layer, without a browser: frames, summary, best trials, the study."""

from __future__ import annotations

import math

import pytest
from optuna.trial import TrialState

from sweeps import SweepError
from sweeps.report import default_report_path, resolve_sweeps
from sweeps.report.data import (
    best_numbers,
    load_sweep,
    objective_values,
    sample_numbers,
    summarize,
)
from sweeps.report.study import plot_text, to_study


def test_load_sweep_reads_every_attempt_with_typed_params(project, quad_sweep):
    data = load_sweep(project.client, quad_sweep)
    assert data.experiment == "quad"
    assert data.goals == (("loss", "minimize"),)
    assert list(data.params) == ["x", "y", "lr", "opt", "momentum", "const"]
    assert data.log_params == {"lr"}
    assert data.conditional == {"momentum"}
    assert len(data.final) == 30
    assert set(data.trials["status"]) <= {"FINISHED", "PRUNED", "FAILED"}
    assert {"metrics.loss", "metrics.acc"} <= set(data.trials.columns)
    assert all(isinstance(v, float) for v in data.final["params.x"])
    sgd = data.final[data.final["params.opt"] == "sgd"]
    adam = data.final[data.final["params.opt"] == "adam"]
    assert sgd["params.momentum"].notna().all()
    assert adam["params.momentum"].isna().all()
    assert data.config is not None and data.config["experiment"] == "quad"


def test_summary_counts_and_timings(project, quad_sweep):
    data = load_sweep(project.client, quad_sweep)
    summary = summarize(data)
    assert summary.trials == 30
    assert sum(summary.counts.values()) == 30
    assert summary.counts["FINISHED"] >= 1
    assert summary.workers == 2 and summary.workers_seen == 2
    assert summary.wall_s and summary.wall_s > 0
    assert summary.parallelism is not None and 0 < summary.parallelism <= 2.5
    assert summary.overhead_share is not None and 0 <= summary.overhead_share <= 1


def test_failed_trials_keep_their_error(project, quad_sweep):
    data = load_sweep(project.client, quad_sweep)
    failed = data.trials[data.trials["status"] == "FAILED"]
    assert all("diverged" in e for e in failed["error"])


def test_best_is_the_lowest_finished_loss(project, quad_sweep):
    data = load_sweep(project.client, quad_sweep)
    done = objective_values(data)
    [best] = best_numbers(data)
    assert done.loc[done["number"] == best, "metrics.loss"].iloc[0] == done["metrics.loss"].min()


def test_multi_objective_best_is_the_pareto_set(project, mo_sweep):
    data = load_sweep(project.client, mo_sweep)
    assert data.multi_objective
    best = best_numbers(data)
    done = objective_values(data).set_index("number")
    assert best
    for n in best:  # nobody dominates a member (a minimized, b maximized)
        a, b = done.loc[n, "metrics.a"], done.loc[n, "metrics.b"]
        assert not ((done["metrics.a"] <= a) & (done["metrics.b"] >= b)
                    & ((done["metrics.a"] < a) | (done["metrics.b"] > b))).any()
    study = to_study(data)
    optuna_best = {t.number for t in study.best_trials}
    assert optuna_best == set(best)


def test_study_mirrors_final_attempts(project, quad_sweep):
    data = load_sweep(project.client, quad_sweep)
    study = to_study(data)
    assert len(study.trials) == len(data.final)
    states = {t.number: t.state for t in study.trials}
    for number, status in zip(data.final["number"], data.final["status"], strict=True):
        expected = {"FINISHED": TrialState.COMPLETE, "PRUNED": TrialState.PRUNED}.get(
            status, TrialState.FAIL)
        assert states[number] is expected
    assert study.best_trial.number == best_numbers(data)[0]
    assert study.trials is not study.trials  # a fresh list, never the internal one


def test_study_escapes_text_for_plotly(project, nasty_sweep, payloads):
    data = load_sweep(project.client, nasty_sweep)
    study = to_study(data)
    choices = {t.params.get("choice") for t in study.trials} - {None}
    assert choices and all("<" not in c for c in choices)
    assert plot_text(payloads[0]) in choices or any("&lt;" in c for c in choices)
    assert "<" not in study.study_name


def test_sample_keeps_the_requested_numbers(project, quad_sweep):
    data = load_sweep(project.client, quad_sweep)
    sample = sample_numbers(data, 10, keep=[29, 3])
    assert len(sample) == 10 and {3, 29} <= set(sample)
    assert sample_numbers(data, 100) == sorted(data.final["number"])


def test_resolve_and_default_path(project, quad_sweep, nasty_sweep):
    client = project.client
    assert resolve_sweeps(client, ["quad", quad_sweep]) == [quad_sweep, quad_sweep]
    with pytest.raises(SweepError):
        resolve_sweeps(client, ["no-such-experiment"])
    assert str(default_report_path(client, [quad_sweep])) == "reports/quad.html"
    assert str(default_report_path(client, [quad_sweep, nasty_sweep])) == \
        "reports/compare-quad.html"
    nasty = default_report_path(client, [nasty_sweep]).name
    assert "<" not in nasty and "/" not in nasty and nasty.endswith(".html")


def test_metric_values_stay_floats(project, quad_sweep):
    data = load_sweep(project.client, quad_sweep)
    assert data.trials["metrics.loss"].dtype == "float64"
    assert not math.isnan(data.final["metrics.loss"].max())


def test_step_metrics_get_their_lowest_and_highest_value(project, quad_sweep):
    from sweeps.report.page import SweepView, table_data
    data = load_sweep(project.client, quad_sweep)
    assert "loss" in data.stepped
    done = data.trials[data.trials["metrics.loss"].notna()]
    assert (done["min.loss"] <= done["metrics.loss"]).all()
    assert (done["metrics.loss"] <= done["max.loss"]).all()
    assert (done["min.loss"] < done["max.loss"]).any()
    view = SweepView(0, data, summarize(data), best_numbers(data), [], {})
    labels = [c["label"] for c in table_data(view)["columns"]]
    assert {"loss (last)", "loss (min)", "loss (max)"} <= set(labels)
