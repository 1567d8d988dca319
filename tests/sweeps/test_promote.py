"""`sweeps promote`, `sweeps models` and the config's `register:` block, on real sweeps that
log real models (examples/iris_rf.py)."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from sklearn.datasets import load_iris

import sweeps
import tracking
from sweeps.cli import main
from sweeps.config import parse_config
from sweeps.errors import ConfigError, SweepError
from sweeps.promote import promote
from tests.sweeps.conftest import REPO, sweep_config

IRIS_SPACE = {"n_estimators": {"type": "int", "low": 5, "high": 20},
              "max_depth": {"type": "int", "low": 2, "high": 6},
              "criterion": "gini", "max_features": {"type": "float", "low": 0.3, "high": 1.0}}


def iris_config(**sections):
    return sweep_config("examples.iris_rf:train", experiment="iris",
                        metric={"name": "accuracy", "goal": "maximize"}, space=IRIS_SPACE,
                        budget={"trials": 3}, execution={"workers": 1}, **sections)


@pytest.fixture
def iris_sweep(project):
    """A finished three-trial iris sweep whose trials log `model` (no register: block)."""
    return sweeps.run(iris_config(), tracking_uri=project / "runs")


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """The store of one iris sweep, shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("iris")
    shutil.copytree(REPO / "examples", folder / "examples")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("SWEEPS_TRACKING_URI", raising=False)
        sweeps.run(iris_config(), tracking_uri=folder / "runs")
    return folder / "runs"


def test_register_block_promotes_the_best_trial_at_the_end(project, monkeypatch):
    store = project / "store"  # not ./runs: nothing may fall back to the default store
    result = sweeps.run(iris_config(register={"name": "iris-rf"}), tracking_uri=store)
    promotion = result.promotion
    assert (promotion.name, promotion.version, promotion.alias, promotion.trial) == (
        "iris-rf", 1, "champion", result.best_trial)
    assert not (project / "runs").exists()
    client = tracking.Client(store)
    champion = client.get_model_version_by_alias("iris-rf", "champion")
    best_run = result.trials.set_index("tags.trial.number").loc[str(result.best_trial), "run_id"]
    assert champion.run_id == best_run and champion.source == f"runs:/{best_run}/model"
    config = json.loads((client.artifact_dir(result.sweep_run_id) / "sweep/config.json")
                        .read_text())
    assert champion.tags["lineage.sweep_run_id"] == result.sweep_run_id
    assert champion.tags["lineage.trial"] == str(result.best_trial)
    assert champion.tags["lineage.experiment"] == "iris"
    assert champion.tags["lineage.config_hash"] == hashlib.sha256(
        json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert champion.tags["lineage.objective"] == f"accuracy={result.best_value:.6g}"
    assert "lineage.code_version" in champion.tags
    X, _ = load_iris(return_X_y=True)
    monkeypatch.setenv("SWEEPS_TRACKING_URI", str(store))  # where models:/ URIs resolve
    model = tracking.sklearn.load_model("models:/iris-rf@champion")
    assert np.array_equal(model.predict(X), tracking.sklearn.load_model(
        f"runs:/{best_run}/model").predict(X))
    assert promotion.importance == "importance/permutation.csv"
    table = (client.artifact_dir(best_run) / promotion.importance).read_text().splitlines()
    assert table[0] == "feature,importance_mean,importance_std"
    assert {row.split(",")[0] for row in table[1:]} == set(load_iris().feature_names)
    figure = json.loads((client.artifact_dir(best_run) / "importance/permutation.json")
                        .read_text())
    assert figure["data"][0]["type"] == "bar"
    history = client.get_alias_history("iris-rf")
    assert [(h.from_version, h.to_version) for h in history] == [(None, 1)]
    assert f"best trial {result.best_trial}" in history[0].reason
    from sweeps.report import write_sweep_report
    page = write_sweep_report(client, result.sweep_run_id, project / "r.html").read_text()
    best_card = page[page.index('id="best"'):]
    assert "iris-rf version 1" in best_card and "@champion" in best_card


def test_promote_a_chosen_trial_moves_the_alias(iris_sweep, project, capsys):
    root = str(project / "runs")
    assert main(["promote", "iris", "--root", root, "--name", "iris-rf"]) == 0
    other = next(n for n in range(3) if n != iris_sweep.best_trial)
    assert main(["promote", iris_sweep.sweep_run_id, "--root", root, "--name", "iris-rf",
                 "--trial", str(other), "--reason", "smaller forest"]) == 0
    assert "iris-rf version 2 @champion" in capsys.readouterr().out
    client = tracking.Client(root)
    assert client.get_model_version_by_alias("iris-rf", "champion").tags["lineage.trial"] == \
        str(other)
    assert main(["models", "alias", "iris-rf", "champion", "1", "--reason", "rollback",
                 "--root", root]) == 0
    assert main(["models", "history", "iris-rf", "--root", root]) == 0
    out = capsys.readouterr().out
    assert "smaller forest" in out and "rollback" in out
    moves = [(h.from_version, h.to_version, h.reason) for h in client.get_alias_history("iris-rf")]
    assert moves[1:] == [(1, 2, "smaller forest"), (2, 1, "rollback")]
    assert main(["models", "ls", "--root", root]) == 0
    assert "champion=1" in capsys.readouterr().out
    assert main(["models", "show", "iris-rf", "--root", root]) == 0
    assert "trial=" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["promote", "iris", "--trial", "99"], "has no finished trial 99"),
    (["promote", "iris", "--model-path", "nothing"], "logged no model at 'nothing'"),
    (["promote", "iris", "--model-path", "../x"], "'..'"),
    (["promote", "iris", "--name", "a/b"], "cannot contain '/'"),
    (["promote", "iris", "--alias", "latest"], "reserved"),
    (["promote", "nope"], "nope"),
    (["models", "show", "nope"], "registered model 'nope' not found"),
    (["models", "history", "nope"], "registered model 'nope' not found"),
    (["models", "alias", "iris", "champion", "x"], "positive integer"),
])
def test_bad_input_is_one_line_and_exit_2(shared_store, capsys, argv, message):
    assert main([*argv, "--root", str(shared_store)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_trial_without_a_model_is_named(project):
    result = sweeps.run(sweep_config("sample_objectives:quick", budget={"trials": 2}),
                        tracking_uri=project / "runs")
    with pytest.raises(SweepError, match=rf"trial {result.best_trial} \(run \w+\) logged no "
                                         "model at 'model'"):
        promote(tracking.Client(project / "runs"), result.sweep_run_id)
    with pytest.warns(UserWarning, match="register: trial .* logged no model"):
        again = sweeps.run(sweep_config("sample_objectives:quick", budget={"trials": 2},
                                        register={"name": "q"}),
                           tracking_uri=project / "runs")
    assert again.promotion is None and again.status == "FINISHED"


def test_multi_objective_needs_a_trial_and_lists_the_pareto_set(project):
    metrics = [{"name": "loss", "goal": "minimize"}, {"name": "aux", "goal": "maximize"}]
    result = sweeps.run(sweep_config("sample_objectives:quick", metric=None, metrics=metrics,
                                     budget={"trials": 4}), tracking_uri=project / "runs")
    with pytest.raises(SweepError, match=r"2 objectives: choose a trial with --trial; the "
                                         r"Pareto set: \d+ \(loss=.*, aux=.*\)"):
        promote(tracking.Client(project / "runs"), result.sweep_run_id)


def test_the_register_block_is_validated_with_the_config():
    config = parse_config(iris_config(register={"name": "iris-rf", "alias": "prod"}))
    assert (config.register.name, config.register.alias, config.register.model_path) == (
        "iris-rf", "prod", "model")
    assert parse_config(config.to_dict()).register == config.register
    assert parse_config(iris_config()).register is None
    for register, message in (({"alias": "latest"}, "register.alias"),
                              ({"alias": "a b"}, "register.alias"),
                              ({"name": "a:b"}, "register.name"),
                              ({"path": "m"}, "register"),
                              ("yes", "register")):
        with pytest.raises(ConfigError, match=message):
            parse_config(iris_config(register=register))
    with pytest.raises(ConfigError, match="single objective"):
        parse_config(sweep_config("m:f", metric=None, register={},
                                  metrics=[{"name": "a", "goal": "minimize"},
                                           {"name": "b", "goal": "maximize"}]))


REGISTERING_OBJECTIVE = '''
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import tracking
import tracking.sklearn


def fit(params):
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(C=params["x"] + 0.1, max_iter=500).fit(X, y)
    tracking.sklearn.log_model(model, name="model", registered_model_name="in-trial")
    return 1 - model.score(X, y)
'''


def test_trials_registering_at_once_get_distinct_versions_with_lineage(project):
    (project / "registering.py").write_text(REGISTERING_OBJECTIVE)
    result = sweeps.run(sweep_config("registering:fit", budget={"trials": 4}),
                        tracking_uri=project / "runs")
    assert result.status == "FINISHED"
    client = tracking.Client(project / "runs")
    versions = client.search_model_versions("name = 'in-trial'")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert sorted(v.run_id for v in versions) == sorted(result.trials["run_id"])
    assert {v.tags["lineage.parent_run_id"] for v in versions} == {result.sweep_run_id}
    promoted = promote(client, result.sweep_run_id)  # no eval set kept: nothing to explain
    assert (promoted.name, promoted.importance) == ("test", None)
