"""Optuna studies imported as sweeps and sweeps exported to optuna, with real optuna
writing and reading real SQLite files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeps import records
from sweeps.cli import main
from sweeps.optuna_compat.distributions import from_json
from sweeps.optuna_compat.transfer import export_sweep, import_studies
from sweeps.report import write_sweep_report
from tracking import Client, RunStatus

STATUS = {TrialState.COMPLETE: RunStatus.FINISHED, TrialState.PRUNED: RunStatus.PRUNED,
          TrialState.FAIL: RunStatus.FAILED, TrialState.RUNNING: RunStatus.RUNNING,
          TrialState.WAITING: RunStatus.QUEUED}


def objective(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["quad", "abs"])
    x = trial.suggest_float("x", 1e-3, 10.0, log=True)
    if kind == "quad":
        x += trial.suggest_int("shift", 0, 3)
    trial.set_user_attr("note", f"trial {trial.number}")
    trial.set_user_attr("sizes", [1, 2])
    for step in range(4):
        trial.report(x * (4 - step), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    if trial.number == 1:
        raise ValueError("a failing trial")
    return x ** 2 if kind == "quad" else abs(x)


@pytest.fixture
def study_url(tmp_path: Path) -> str:
    """An optuna SQLite storage that optuna itself wrote: a study of 12 trials (complete,
    pruned, one failed) plus one left RUNNING and one WAITING."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="demo", storage=url,
                                sampler=optuna.samplers.TPESampler(seed=1),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2,
                                                                   n_warmup_steps=1))
    study.optimize(objective, n_trials=12, catch=(ValueError,))
    study.ask()  # left RUNNING
    study.enqueue_trial({"kind": "abs", "x": 1.0})  # WAITING
    return url


def test_import_copies_every_field_of_every_trial(study_url: str, tmp_path: Path):
    client = Client(tmp_path / "runs")
    [done] = import_studies(client, study_url)
    study = optuna.load_study(study_name="demo", storage=study_url)
    trials = study.get_trials()
    assert (done.created, done.experiment) == (len(trials) + 1, "demo")
    assert {t.state for t in trials} == set(STATUS)

    sweep = records.find_sweep(client, "demo")
    assert records.metric_goals(sweep) == [("value", "minimize")]
    assert sweep.data.tags[records.OPTUNA_STUDY] == "demo"
    assert int(sweep.data.tags[records.BEST_TRIAL]) == study.best_trial.number
    stored = {r.number: r for r in records.load_trials(client, sweep)}
    assert sorted(stored) == [t.number for t in trials]
    for trial in trials:
        run = stored[trial.number].run
        assert run.info.status is STATUS[trial.state], trial.number
        assert stored[trial.number].params == trial.params  # typed: int, float, str
        assert run.data.tags[records.OPTUNA_TRIAL_ID] == str(trial._trial_id)
        assert from_json(run.data.tags[records.DISTRIBUTIONS]) == trial.distributions
        if trial.user_attrs:
            assert run.data.tags["note"] == trial.user_attrs["note"]
            assert json.loads(run.data.tags["sizes"]) == [1, 2]
        if trial.datetime_start is not None:
            assert run.info.start_time == int(trial.datetime_start.timestamp() * 1000)
        if trial.datetime_complete is not None:
            assert run.info.end_time == int(trial.datetime_complete.timestamp() * 1000)
        else:
            assert run.info.end_time is None
        history = client.get_metric_history(run.info.run_id, "value")
        steps = {m.step: m.value for m in history[:len(trial.intermediate_values)]}
        assert steps == trial.intermediate_values
        if trial.values is not None:
            assert run.data.metrics["value"] == trial.value
        else:
            assert "value" not in run.data.metrics or trial.intermediate_values


def test_a_reimport_adds_nothing_and_picks_up_what_changed(study_url: str, tmp_path: Path):
    client = Client(tmp_path / "runs")
    import_studies(client, study_url, ["demo"])
    [again] = import_studies(client, study_url, ["demo"])
    assert (again.created, again.updated, again.points) == (0, 0, 0)
    assert len(records.sweeps_of(client, client.get_experiment_by_name("demo")
                                 .experiment_id)) == 1

    study = optuna.load_study(study_name="demo", storage=study_url)
    running = study.get_trials(states=(TrialState.RUNNING,))[0]
    study.tell(running.number, 0.5)
    [update] = import_studies(client, study_url, ["demo"])
    assert (update.created, update.updated, update.points) == (0, 1, 1)
    sweep = records.find_sweep(client, "demo")
    run = next(r.run for r in records.load_trials(client, sweep) if r.number == running.number)
    assert (run.info.status, run.data.metrics["value"]) == (RunStatus.FINISHED, 0.5)


def test_the_report_builds_on_an_imported_study(study_url: str, tmp_path: Path):
    client = Client(tmp_path / "runs")
    import_studies(client, study_url)
    sweep = records.find_sweep(client, "demo")
    path = write_sweep_report(client, sweep.info.run_id, tmp_path / "demo.html")
    assert "shift" in path.read_text(encoding="utf-8")


def test_a_multi_objective_study_keeps_its_directions_and_metric_names(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    study = optuna.create_study(study_name="mo", storage=url,
                                directions=["minimize", "maximize"])
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["loss", "acc"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("n", 1, 3)),
                   n_trials=4)
    client = Client(tmp_path / "runs")
    import_studies(client, url)
    sweep = records.find_sweep(client, "mo")
    assert records.metric_goals(sweep) == [("loss", "minimize"), ("acc", "maximize")]
    runs = {r.number: r.run for r in records.load_trials(client, sweep)}
    for trial in study.trials:
        assert [runs[trial.number].data.metrics[k] for k in ("loss", "acc")] == trial.values


def test_export_then_load_study_gives_the_same_trials(study_url: str, tmp_path: Path):
    client = Client(tmp_path / "runs")
    import_studies(client, study_url)
    sweep = records.find_sweep(client, "demo")
    out = f"sqlite:///{tmp_path / 'out.db'}"
    done = export_sweep(client, sweep, out, "copy")
    source = optuna.load_study(study_name="demo", storage=study_url).trials
    copy = optuna.load_study(study_name="copy", storage=out).trials
    started = [t for t in source if t.state is not TrialState.WAITING]
    assert done.created == len(copy) == len(started)
    for a, b in zip(started, copy, strict=True):
        assert (b.number, b.state, b.params, b.distributions, b.intermediate_values) == (
            a.number, a.state, a.params, a.distributions, a.intermediate_values)
        assert b.value == a.value or (a.state is TrialState.FAIL and b.value is None)
        assert b.user_attrs.get("note") == a.user_attrs.get("note")  # text attrs as they were
        assert b.datetime_start.replace(microsecond=0) == \
            a.datetime_start.replace(microsecond=0)
    again = export_sweep(client, sweep, out, "copy")
    assert again.created == 0
    assert len(optuna.load_study(study_name="copy", storage=out).trials) == len(started)


def test_a_yaml_sweep_exports_to_optuna_from_the_cli(project: Path, make_config, capsys):
    import yaml
    (project / "sweep.yaml").write_text(yaml.safe_dump(make_config(
        "sample_objectives:stepwise", budget={"trials": 4})))
    assert main(["run", "sweep.yaml", "--no-report"]) == 0
    url = f"sqlite:///{project / 'optuna.db'}"
    assert main(["export", "test", "--to-optuna", url, "--study", "q"]) == 0
    assert "4 trials added" in capsys.readouterr().out
    study = optuna.load_study(study_name="q", storage=url)
    assert len(study.trials) == 4 and study.direction.name == "MINIMIZE"
    assert isinstance(study.trials[0].distributions["x"], optuna.distributions.FloatDistribution)
    assert math.isfinite(study.best_value)


def test_the_cli_imports_and_says_what_is_wrong_in_one_line(study_url: str, tmp_path: Path,
                                                             capsys):
    root = str(tmp_path / "runs")
    assert main(["import", "optuna", study_url, "--study", "demo", "--root", root]) == 0
    assert "Imported study demo: 15 runs created" in capsys.readouterr().out
    assert main(["import", "optuna", study_url, "--study", "nope", "--root", root]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no study 'nope'" in err and "demo" in err
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    assert main(["import", "optuna", missing, "--root", root]) == 2
    assert "no optuna storage" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()


def test_a_journal_storage_imports_as_an_rdb_one_does(tmp_path: Path):
    from optuna.storages.journal import JournalFileBackend
    path = tmp_path / "optuna.log"
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="journal", storage=storage)
    study.optimize(lambda t: t.suggest_int("n", 0, 9) ** 2, n_trials=5)
    client = Client(tmp_path / "runs")
    [done] = import_studies(client, str(path))
    assert done.created == 6
    stored = records.load_trials(client, records.find_sweep(client, "journal"))
    assert [r.params for r in stored] == [t.params for t in study.trials]
    assert [r.run.data.metrics["value"] for r in stored] == [t.value for t in study.trials]
