"""Define-by-run optuna objectives on sweepbook's workers: real worker processes, real
optuna, real SQLite stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import sweeps
import sweeps.cli
from sweeps import records
from sweeps.optuna_compat.distributions import from_json
from tracking import Client, RunStatus

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branching(trial: optuna.Trial) -> float:
    """A conditional space: `shift` exists only on the "quad" branch."""
    kind = trial.suggest_categorical("kind", ["quad", "abs"])
    x = trial.suggest_float("x", -4.0, 4.0)
    if kind == "quad":
        return (x - trial.suggest_int("shift", 0, 2)) ** 2
    return abs(x) + 0.5


def _trials(study: sweeps.optuna_compat.study.Study, root: Path) -> list[records.TrialRecord]:
    client = Client(root)
    return records.load_trials(client, client.get_run(study.sweep_run_id))


def test_tpe_with_a_seed_and_one_worker_suggests_as_optuna_does(project: Path):
    alone = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=4))
    alone.optimize(branching, n_trials=12)
    study = sweeps.create_study(sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=4),
                                tracking_uri="runs")
    study.optimize(branching, n_trials=12)
    assert [t.params for t in study.trials] == [t.params for t in alone.trials]
    assert [t.value for t in study.trials] == [t.value for t in alone.trials]
    assert {"shift"} <= set(study.best_params) or study.best_params["kind"] == "abs"
    assert isinstance(study, optuna.Study) and study.optuna_study.trials == study.trials
    assert optuna.visualization.plot_optimization_history(study).data
    assert len(study.trials_dataframe(attrs=("number", "value", "params"))) == 12

    stored = _trials(study, project / "runs")
    assert [r.params for r in stored] == [t.params for t in alone.trials]  # typed params
    for record, trial in zip(stored, study.trials, strict=True):
        assert record.status is RunStatus.FINISHED
        assert record.run.data.metrics["value"] == trial.value
        assert from_json(record.run.data.tags[records.DISTRIBUTIONS]) == trial.distributions


def test_pruning_follows_optunas_report_order(project: Path):
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 10.0)
        for step in range(5):
            trial.report(x + 1.0 / (step + 1), step)  # optuna's order: value, step
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x

    study = sweeps.create_study(sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3),
                                tracking_uri="runs")
    study.optimize(objective, n_trials=14, n_jobs=2)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert pruned and len(study.trials) == 14
    stored = {r.number: r for r in _trials(study, project / "runs")}
    for trial in pruned:
        record = stored[trial.number]
        assert record.status is RunStatus.PRUNED
        steps = Client(project / "runs").get_metric_history(record.run_id, "value")
        assert {m.step: m.value for m in steps} == trial.intermediate_values


def test_a_closure_and_a_lambda_from_a_main_script_run_on_workers(project: Path):
    script = project / "tune.py"
    script.write_text(textwrap.dedent("""
        import optuna
        import sweeps

        def main():
            data = [1.0, 2.0, 3.0]  # a closure's data, as objective(trial, X, y) has
            def objective(trial, data):
                c = trial.suggest_float("c", 0.0, 4.0)
                trial.set_user_attr("size", len(data))
                return sum((v - c) ** 2 for v in data)
            study = sweeps.create_study(study_name="closure", tracking_uri="runs",
                                        sampler=optuna.samplers.RandomSampler(seed=1))
            study.optimize(lambda t: objective(t, data), n_trials=6, n_jobs=2)
            print("best", len(study.trials), round(study.best_value, 6))
            print("attrs", study.best_trial.user_attrs)

        if __name__ == "__main__":
            main()
    """))
    done = subprocess.run([sys.executable, str(script)], cwd=project, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("best 6 ")
    client = Client(project / "runs")
    sweep = records.find_sweep(client, "closure")
    trials = records.load_trials(client, sweep)
    assert len(trials) == 6 and all(t.status is RunStatus.FINISHED for t in trials)
    assert {t.run.data.tags["size"] for t in trials} == {"3"}
    assert "attrs {'size': 3}" in done.stdout  # on the study's own trials too


def test_enqueued_params_and_callbacks_reach_the_coordinators_study(project: Path):
    seen = []
    study = sweeps.create_study(sampler=optuna.samplers.RandomSampler(seed=0),
                                tracking_uri="runs")
    study.enqueue_trial({"kind": "quad", "x": 1.5, "shift": 1})
    max_trials = optuna.study.MaxTrialsCallback(4, states=(TrialState.COMPLETE,))
    study.optimize(branching, n_trials=20,
                   callbacks=[lambda s, t: seen.append(t.number), max_trials])
    assert study.trials[0].params == {"kind": "quad", "x": 1.5, "shift": 1}
    assert study.trials[0].value == 0.25
    # stopped at 4: no trial is asked for after it; one sent ahead to the worker may finish
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) in (4, 5)
    assert seen[:4] == [0, 1, 2, 3] and len(seen) <= 5


def test_multi_objective_best_trials(project: Path):
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        return x, 1.0 - x ** 2

    study = sweeps.create_study(directions=["minimize", "maximize"], tracking_uri="runs",
                                sampler=optuna.samplers.RandomSampler(seed=2))
    study.optimize(objective, n_trials=6, n_jobs=2)
    assert len(study.trials) == 6 and study.best_trials
    for trial in study.best_trials:
        assert len(trial.values) == 2
    stored = _trials(study, project / "runs")
    assert sorted(r.run.data.metrics["values_1"] for r in stored) == sorted(
        t.values[1] for t in study.trials)


def test_a_param_suggested_again_with_another_distribution_fails_the_trial(project: Path):
    def objective(trial):
        trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_int("x", 0, 3)
        return 0.0

    study = sweeps.create_study(tracking_uri="runs")
    with pytest.raises(sweeps.SweepError, match="trial 0 raised ValueError: Cannot set "
                       "different distribution kind to the same parameter name"):
        study.optimize(objective, n_trials=1)  # as optuna's re-raises: catch=() by default
    [record] = _trials(study, project / "runs")
    assert record.status is RunStatus.FAILED
    assert "Cannot set different distribution kind to the same parameter name" in \
        record.error
    assert [t.state for t in study.trials] == [TrialState.FAIL]


def test_a_worker_asks_without_importing_optuna_and_optuna_checks_the_question(
        project: Path):
    """The worker's trial writes optuna's abbreviated JSON itself (a worker saves optuna's
    import); the coordinator's optuna trial refuses a bad range with its own message."""
    script = project / "ask.py"
    script.write_text(textwrap.dedent("""
        import sys
        import numpy as np
        import optuna
        import sweeps

        def light(trial):
            trial.set_user_attr("modules", sorted(m for m in ("optuna", "sqlalchemy")
                                                  if m in sys.modules))
            n = trial.suggest_int("n", np.int64(1), 9, step=2)
            assert trial.suggest_int("n", 1, 9, step=2) == n  # asked again: answered here
            return float(n)

        def bad(trial):
            return trial.suggest_float("x", 1.0, 0.0)

        if __name__ == "__main__":
            study = sweeps.create_study(study_name="light", tracking_uri="runs",
                                        sampler=optuna.samplers.RandomSampler(seed=0))
            study.optimize(light, n_trials=4, n_jobs=2)
            print("attrs", study.trials[0].user_attrs["modules"])
            print("params", sorted({t.params["n"] for t in study.trials} - {1, 3, 5, 7, 9}))
            print("dist", study.trials[-1].distributions["n"])
            try:
                sweeps.create_study(study_name="bad", tracking_uri="runs").optimize(
                    bad, n_trials=1)
            except sweeps.SweepError as e:
                print("bad", e)
    """))
    done = subprocess.run([sys.executable, str(script)], cwd=project, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "attrs []" in done.stdout  # optuna is not imported in the worker
    assert "params []" in done.stdout
    assert "dist IntDistribution(high=9, log=False, low=1, step=2)" in done.stdout
    assert "bad trial 0 raised ValueError: `low <= high` must hold" in done.stdout


@pytest.mark.parametrize("collect", [True, False])
def test_gc_after_trial_collects_in_the_worker_and_the_bar_is_drawn(project: Path, capsys,
                                                                     collect: bool):
    def objective(trial):
        import gc
        import weakref

        class Cycle:
            pass

        gc.disable()  # only gc_after_trial collects in this worker
        previous = getattr(sys, "_sweeps_test_cycle", None)
        trial.set_user_attr("kept", previous is not None and previous() is not None)
        cycle = Cycle()
        cycle.me = cycle
        sys._sweeps_test_cycle = weakref.ref(cycle)
        return trial.suggest_float("x", 0.0, 1.0)

    study = sweeps.create_study(tracking_uri="runs")
    study.optimize(objective, n_trials=3, gc_after_trial=collect, show_progress_bar=collect)
    assert [t.user_attrs["kept"] for t in study.trials] == [False, not collect, not collect]
    err = capsys.readouterr().err
    assert ("3/3" in err) is collect  # optuna's bar goes to stderr too


def test_study_stop_inside_the_objective_asks_for_no_more_trials(project: Path):
    def objective(trial):
        if trial.number == 2:
            trial.study.stop()
        return trial.suggest_float("x", 0.0, 1.0)

    study = sweeps.create_study(tracking_uri="runs")
    study.optimize(objective, n_trials=20)
    states = [t.state for t in study.trials]
    assert states[:3] == [TrialState.COMPLETE] * 3 and len(states) <= 4  # one sent ahead
    sweep = Client(project / "runs").get_run(study.sweep_run_id)
    assert sweep.data.tags[records.STOP_REASON] == "trial 2 called study.stop()"
    # a re-check runs its whole plan: study.stop() there (trial 2's re-runs) stops nothing
    rechecks = sweeps.recheck(study.sweep_run_id, top=3, repeats=2, tracking_uri="runs",
                              objective=objective, report=False)
    assert [r.run.info.status for r in rechecks] == [RunStatus.FINISHED] * 6


def test_a_define_by_run_grid_stops_once_its_grid_ran(project: Path):
    grid = {"x": [0.0, 0.5, 1.0]}
    study = sweeps.create_study(tracking_uri="runs",
                                sampler=optuna.samplers.GridSampler(grid, seed=0))
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=8)
    assert {t.params["x"] for t in study.trials} == set(grid["x"])
    assert len(study.trials) <= 4  # one may have been sent ahead before the grid ran out
    sweep = Client(project / "runs").get_run(study.sweep_run_id)
    assert sweep.data.tags[records.STOP_REASON] == "the grid sampler ran its grid"


def test_the_trial_sees_the_study_and_old_spellings(project: Path):
    def objective(trial):
        x = trial.suggest_uniform("x", 0.0, 1.0)
        trial.suggest_loguniform("lr", 1e-3, 1.0)
        trial.suggest_discrete_uniform("d", 0.0, 1.0, 0.5)
        trial.report({"aux": 1.0, "value": x}, step=0)  # sweepbook's report(metrics, step)
        assert trial.study.direction.name == "MAXIMIZE"
        assert trial.params["x"] == x and set(trial.distributions) == {"x", "lr", "d"}
        assert trial.number >= 0 and trial.datetime_start is not None
        return x

    study = sweeps.create_study(direction="maximize", study_name="view", tracking_uri="runs")
    study.optimize(objective, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert isinstance(study.trials[0].distributions["lr"],
                      optuna.distributions.FloatDistribution)


def test_storage_is_optunas_own_and_the_report_is_written_when_asked(project: Path):
    url = f"sqlite:///{project / 'optuna.db'}"
    study = sweeps.create_study(storage=url, study_name="kept", tracking_uri="runs",
                                config={"report": {"path": "kept.html"}})
    study.optimize(branching, n_trials=3)
    assert len(optuna.load_study(study_name="kept", storage=url).trials) == 3
    assert study.report_path is not None and study.report_path.stat().st_size


def test_a_yaml_config_without_space_is_define_by_run(project: Path, make_config):
    (project / "dbr_objective.py").write_text(textwrap.dedent("""
        def objective(trial):
            x = trial.suggest_float("x", -2.0, 2.0)
            if trial.number == 1:
                raise ValueError("caught by nobody")
            return (x - 1.0) ** 2
    """))
    config = make_config("dbr_objective:objective", metric={"name": "value",
                                                            "goal": "minimize"})
    del config["space"]
    result = sweeps.run(config, tracking_uri="runs")  # no catch: it outlives every exception
    assert len(result.trials) == 6 and set(result.best_params) == {"x"}
    assert list(result.trials["status"]).count("FAILED") == 1 and result.status == "FINISHED"
    with pytest.raises(sweeps.ConfigError, match="space: required"):
        sweeps.parse_config({**config, "objective": {"command": "python x.py"}})
    with pytest.raises(sweeps.ConfigError, match="sampler.type: grid needs a declared space"):
        sweeps.parse_config({**config, "sampler": {"type": "grid"}})


def test_validate_says_a_config_without_space_is_define_by_run(project: Path, capsys):
    (project / "dbr.yaml").write_text("experiment: e\n"
                                      "objective: examples.optuna.quadratic:objective\n"
                                      "metric: {name: value, goal: minimize}\n")
    assert sweeps.cli.main(["validate", "dbr.yaml"]) == 0
    assert "define-by-run" in capsys.readouterr().out


RESUMABLE = """
import time

import optuna
import sweeps

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    time.sleep(0.4)
    return x

if __name__ == "__main__":
    study = sweeps.create_study(study_name="resumable", load_if_exists=True,
                                tracking_uri="runs",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=8, n_jobs=2)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    print("complete", len(complete))
"""


def test_load_if_exists_resumes_the_sweep_by_name_after_kill_9(project: Path):
    (project / "resumable.py").write_text(RESUMABLE)
    first = subprocess.Popen([sys.executable, "resumable.py"], cwd=project,
                             start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if (project / "runs").exists() and _finished(project / "runs") >= 3:
                break
        else:
            pytest.fail("the first sweep never got 3 trials done")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    done_before = _finished(project / "runs")
    again = subprocess.run([sys.executable, "resumable.py"], cwd=project,
                           capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert "complete 8" in again.stdout
    client = Client(project / "runs")
    (sweep,) = records.sweeps_of(client, client.get_experiment_by_name(
        "resumable").experiment_id)
    assert sweep.info.status is RunStatus.FINISHED
    finished = [t for t in records.load_trials(client, sweep)
                if t.status is RunStatus.FINISHED]
    assert sorted(t.number for t in finished) == list(range(8))
    assert done_before >= 3 and all(t.params for t in finished)


def _finished(root: Path) -> int:
    client = Client(root)
    experiment = client.get_experiment_by_name("resumable")
    sweeps_ = records.sweeps_of(client, experiment.experiment_id) if experiment else []
    return sum(t.status is RunStatus.FINISHED for s in sweeps_
               for t in records.load_trials(client, s))


RAY_SCRIPT = """
import optuna
import sweeps

def main():
    offset = 1.0
    def objective(trial):  # a closure in __main__, with a conditional branch and pruning
        kind = trial.suggest_categorical("kind", ["quad", "abs"])
        x = trial.suggest_float("x", -3.0, 3.0)
        if kind == "quad":
            x += trial.suggest_int("shift", 0, 2)
        for step in range(3):
            trial.report(abs(x - offset) + 1.0 / (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return abs(x - offset)
    study = sweeps.create_study(study_name="ray-dbr", backend="ray", tracking_uri="runs",
                                pruner="median", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=6, n_jobs=2)
    print("done", len(study.trials), len(study.best_params))

if __name__ == "__main__":
    main()
"""


@pytest.mark.ray
@pytest.mark.slow
def test_define_by_run_on_the_ray_backend(project: Path):
    pytest.importorskip("ray")
    (project / "on_ray.py").write_text(RAY_SCRIPT)
    done = subprocess.run([sys.executable, "on_ray.py"], cwd=project, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "done 6 " in done.stdout
    client = Client(project / "runs")
    trials = records.load_trials(client, records.find_sweep(client, "ray-dbr"))
    assert len(trials) == 6 and all(t.params for t in trials)
    assert {t.status for t in trials} <= {RunStatus.FINISHED, RunStatus.PRUNED}
    assert any("shift" in t.params for t in trials) or all(
        t.params["kind"] == "abs" for t in trials)


def test_load_if_exists_brings_back_the_trials_of_finished_sweeps(project: Path):
    first = sweeps.create_study(study_name="again", load_if_exists=True, tracking_uri="runs")
    first.optimize(branching, n_trials=3)
    second = sweeps.create_study(study_name="again", load_if_exists=True, tracking_uri="runs")
    assert [t.params for t in second.trials] == [t.params for t in first.trials]
    assert [t.value for t in second.trials] == [t.value for t in first.trials]
    second.optimize(branching, n_trials=2)
    assert len(second.trials) == 5
    client = Client(project / "runs")
    assert len(records.sweeps_of(client, client.get_experiment_by_name(
        "again").experiment_id)) == 2


def test_catch_is_honoured_as_optuna_does(project: Path):
    class Flaky(KeyError):
        """A subclass of a class `catch` lists: caught, as optuna's isinstance check is."""

    def raises_by_number(trial: optuna.Trial) -> int:
        x = trial.suggest_int("x", 0, 10)
        if trial.number in (0, 2):
            raise Flaky("flaky")
        if trial.number == 3:
            raise ValueError(f"bad x {x}")
        return x

    study = sweeps.create_study(study_name="catching", tracking_uri="runs",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.raises(sweeps.SweepError, match="catch: expected a tuple of exception "
                       "classes, got 'KeyError'"):
        study.optimize(raises_by_number, n_trials=8, catch=("KeyError",))
    with pytest.raises(sweeps.SweepError, match=r"^trial 3 raised ValueError: bad x \d+ "
                       r"\(not in catch\): sweep \w+ stopped once its running trials"):
        study.optimize(raises_by_number, n_trials=8, catch=(KeyError,))
    states = [t.state for t in study.trials]
    assert states[:4] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL,
                          TrialState.FAIL]
    # the trial sent ahead to the worker is called off, or finishes if it had started
    assert len(states) <= 5 and TrialState.RUNNING not in states
    sweep = Client(project / "runs").get_run(study.sweep_run_id)
    assert sweep.info.status is RunStatus.FAILED
    assert "trial 3 raised ValueError" in records.SweepRecord.from_run(sweep).stop_reason


def test_load_if_exists_on_optunas_storage_goes_on_with_the_same_sweep(project: Path):
    url = f"sqlite:///{project / 'optuna.db'}"

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        batch = trial.suggest_categorical("batch", [16, 32, 64])
        return lr * batch

    for _ in range(2):
        study = sweeps.create_study(storage=url, study_name="s", load_if_exists=True,
                                    tracking_uri="runs")
        study.optimize(objective, n_trials=3)
    client = Client(project / "runs")
    (sweep,) = records.sweeps_of(client, client.get_experiment_by_name("s").experiment_id)
    assert sweep.info.status is RunStatus.FINISHED
    assert sweep.data.tags[records.OPTUNA_STUDY] == "s"
    assert json.loads(sweep.data.tags[records.COUNTS])["complete"] == 6
    runs = records.load_trials(client, sweep)
    stored = optuna.load_study(study_name="s", storage=url).trials
    assert [r.number for r in runs] == [t.number for t in stored] == list(range(6))
    assert all(r.status is RunStatus.FINISHED for r in runs)
    assert all(t.state is TrialState.COMPLETE for t in stored)
    assert [r.params for r in runs] == [t.params for t in stored]
    assert [r.run.data.metrics["value"] for r in runs] == [t.value for t in stored]
    assert study.best_value == min(t.value for t in stored)

    from sweeps.report.data import load_sweep  # not at the top: workers import this module
    data = load_sweep(client, sweep.info.run_id)  # the report draws what was suggested
    assert len(data.trials) == 6
    assert data.distributions == stored[-1].distributions
    assert data.log_params == {"lr"}
    assert data.distributions["batch"] == optuna.distributions.CategoricalDistribution(
        [16, 32, 64])


def test_an_interrupted_sweep_on_optunas_storage_resumes_keeping_each_trial_once(
        project: Path):
    url = f"sqlite:///{project / 'optuna.db'}"

    def objective(trial):
        return trial.suggest_float("x", 0.0, 1.0)

    def ctrl_c(study, trial):
        if trial.number == 1:
            raise KeyboardInterrupt  # what Ctrl-C does in the coordinator

    first = sweeps.create_study(storage=url, study_name="cut", load_if_exists=True,
                                tracking_uri="runs")
    with pytest.raises(KeyboardInterrupt):  # as optuna's optimize, once the sweep is KILLED
        first.optimize(objective, n_trials=6, n_jobs=2, callbacks=[ctrl_c])
    client = Client(project / "runs")
    assert client.get_run(first.sweep_run_id).info.status is RunStatus.KILLED
    again = sweeps.create_study(storage=url, study_name="cut", load_if_exists=True,
                                tracking_uri="runs")
    again.optimize(objective, n_trials=6, n_jobs=2)  # resumed to its budget
    assert again.sweep_run_id == first.sweep_run_id
    runs = [r for r in records.load_trials(client, client.get_run(again.sweep_run_id))
            if r.status is RunStatus.FINISHED]
    stored = optuna.load_study(study_name="cut", storage=url).trials
    assert sorted(r.number for r in runs) == list(range(6))
    assert TrialState.RUNNING not in {t.state for t in stored}  # cut off ones: FAIL
    assert sorted((r.params["x"], r.run.data.metrics["value"]) for r in runs) == sorted(
        (t.params["x"], t.value) for t in stored if t.state is TrialState.COMPLETE)


def test_optimize_twice_goes_on_with_the_same_sweep(project: Path):
    study = sweeps.create_study(direction="minimize", tracking_uri="runs")
    study.optimize(branching, n_trials=3)
    first = study.sweep_run_id
    study.optimize(branching, n_trials=2)
    assert study.sweep_run_id == first and [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    client = Client("runs")
    assert sorted(r.number for r in records.load_trials(client, client.get_run(first))) == \
        [0, 1, 2, 3, 4]


@pytest.mark.filterwarnings("ignore:Inconsistent parameter values")  # optuna's, for b
def test_random_sampler_values_drawn_ahead_are_recorded_as_asked(project: Path):
    study = sweeps.create_study(sampler=optuna.samplers.RandomSampler(seed=1),
                                tracking_uri="runs", config={"report": False})
    study.optimize(branching, n_trials=12, n_jobs=2)
    client = Client("runs")
    attempts = records.load_trials(client, client.get_run(study.sweep_run_id))
    assert len(attempts) == 12 and len(study.trials) == 12
    for record, trial in zip(attempts, study.trials, strict=True):
        assert record.params == trial.params  # only what the objective asked for
        assert set(from_json(record.run.data.tags[records.DISTRIBUTIONS])) == set(trial.params)
    assert {t.params["kind"] for t in study.trials} == {"quad", "abs"}  # both branches
    later = study.trials[-1]
    assert later.system_attrs.get("fixed_params")  # drawn when it was asked for

    def ranged(trial):  # b's range changes after trial 0: a value drawn from (0, 3) is
        b = trial.suggest_float("b", 0.0, 3.0 if trial.number == 0 else 1.0)  # not taken
        assert trial.suggest_float("b", 0.0, 3.0) == b  # asked again: the same value
        return b

    study = sweeps.create_study(sampler=optuna.samplers.RandomSampler(seed=1),
                                tracking_uri="runs", config={"report": False})
    study.optimize(ranged, n_trials=10)
    assert all(t.params["b"] <= 1.0 for t in study.trials[1:])
    for b in (0.25, 0.5, 0.75):  # the user's enqueued trials run as enqueued, and no value
        study.enqueue_trial({"b": b})  # drawn ahead is recorded for another one
    study.optimize(ranged, n_trials=5)
    assert [t.params["b"] for t in study.trials[10:13]] == [0.25, 0.5, 0.75]
    assert all(t.value == t.params["b"] for t in study.trials) and len(study.trials) == 15
