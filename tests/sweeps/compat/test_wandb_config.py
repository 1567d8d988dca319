"""A W&B sweep file → the validated sweepbook config: detection, translation, grid
semantics, nested parameters, lenient warnings and one-line errors."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import warnings
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from sweeps.compat.wandb_config import WandbFormatWarning, is_wandb, translate
from sweeps.config import load_config, parse_config
from sweeps.errors import ConfigError
from sweeps.optimizer import Optimizer
from sweeps.space import CategoricalParam, FixedParam, FloatParam, IntParam
from tracking import Metric

from .conftest import wandb_file


def quiet(data, **kwargs):
    """parse_config, failing on any W&B warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", WandbFormatWarning)
        return parse_config(data, **kwargs)


def test_detected_by_its_keys_and_translated_whole():
    data = wandb_file({"lr": {"min": 0.001, "max": 0.1}, "layers": {"values": [1, 2]}},
                      project="demo", name="first", metric={"name": "acc", "goal": "maximize"},
                      early_terminate={"type": "hyperband", "min_iter": 2})
    assert is_wandb(data) and not is_wandb({**data, "objective": "m:f"})
    config = quiet(data)
    assert (config.experiment, config.name) == ("demo", "first")
    assert quiet(wandb_file({"x": {"value": 1}}, metric={"name": "l", "target": 2})
                 ).metrics[0].target == 2.0
    assert [(m.name, m.goal.value) for m in config.metrics] == [("acc", "maximize")]
    assert config.sampler.type == "random" and config.budget.trials == 5
    assert (config.pruner.type, dict(config.pruner.options)) == (
        "wandb_hyperband", {"min_iter": 2, "eta": 3, "strict": True})
    assert config.space["lr"] == FloatParam("lr", 0.001, 0.1)
    assert config.objective.wandb["program"] == "train.py"
    assert config.objective.command == "${env} ${interpreter} train.py ${args}"
    assert parse_config(config.to_dict(), source="stored") == config  # resume reads it back


def test_format_is_forced_or_refused():
    data = {"method": "random", "metric": {"name": "loss"}, "run_cap": 2, "program": "t.py",
            "parameters": {"x": {"values": [1]}}, "objective": "m:f"}
    with pytest.warns(WandbFormatWarning, match="objective: unknown key"):
        assert parse_config(data, format="wandb").objective.wandb is not None
    with pytest.raises(ConfigError, match="method: unknown key"):
        parse_config(wandb_file({"x": {"value": 1}}), source="s.yaml", format="sweepbook")
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        parse_config({}, format="xml")


@pytest.mark.parametrize(("method", "sampler"), [("grid", "wandb_grid"), ("random", "random")])
def test_methods(method, sampler):
    assert quiet(wandb_file({"x": {"values": [1, 2]}}, method=method)).sampler.type == sampler


def test_bayes_uses_tpe_when_the_gp_sampler_cannot_run_here():
    from sweeps.search import missing_requirement
    if missing_requirement("gp") is None:
        assert quiet(wandb_file({"x": {"min": 0.0, "max": 1.0}}, method="bayes")
                     ).sampler.type == "gp"
        return
    with pytest.warns(WandbFormatWarning, match="bayes runs optuna's TPE sampler"):
        config = parse_config(wandb_file({"x": {"min": 0.0, "max": 1.0}}, method="bayes"))
    assert config.sampler.type == "tpe"


def test_custom_with_optuna_engine_and_metrics():
    config = quiet(wandb_file({"x": {"values": [1, 2]}}, method="custom", metric=None,
                              metrics=[{"name": "a"}, {"name": "b", "goal": "maximize"}],
                              scheduler={"engine": "optuna"}))
    assert config.sampler.type == "tpe" and [m.name for m in config.metrics] == ["a", "b"]


def test_grid_expands_as_wandb_does():
    config = quiet(wandb_file({
        "n": {"min": 1, "max": 3},                                      # range(1, 4)
        "q": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25},  # arange: no max
        "c": {"values": ["a", "b"]},
        "k": {"value": 7},
    }, method="grid", run_cap=None))
    assert config.space["n"] == IntParam("n", 1, 3)
    assert config.space["q"] == CategoricalParam("q", (0.0, 0.25, 0.5, 0.75))
    assert config.space["k"] == FixedParam("k", 7)
    assert config.budget.trials == 3 * 4 * 2  # the grid, run once whole
    points = {tuple(sorted(p.items())) for p in _grid_points(config)}
    assert len(points) == 24


def _grid_points(config):
    import optuna

    from sweeps.search import build_sampler
    study = optuna.create_study(sampler=build_sampler(config.sampler, config.space))
    out = []
    study.optimize(lambda trial: out.append(config.space.suggest(trial)) or 0.0,
                   n_trials=config.budget.trials)
    return out


def test_grid_runs_in_wandbs_order_and_never_twice():
    """itertools.product over the names sorted, the last fastest; a value W&B takes for an
    earlier one (1.0 for 1), or a combination already in the study, is not run again."""
    with pytest.warns(WandbFormatWarning, match=r"parameters\.c\.values: 1\.0 is the same grid"):
        config = parse_config(wandb_file({
            "c": {"values": [1, "y", 1.0]},
            "a": {"min": 1, "max": 2},                                        # int_uniform
            "b": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.5},  # [0.0, 0.5]
            "k": {"value": 7},
        }, method="grid", run_cap=None))
    expected = [{"a": a, "b": b, "c": c, "k": 7}
                for a, b, c in itertools.product([1, 2], [0.0, 0.5], [1, "y"])]
    assert config.budget.trials == len(expected) == 8
    optimizer = Optimizer(config)
    asked = [optimizer.ask(n) for n in range(3)]  # asked before any is told, as workers do
    assert [t.params for t in asked] == expected[:3]
    optimizer.tell(asked[1], TrialState.FAIL)     # a failed combination is not run again
    study = optimizer.study
    study.add_trial(optuna.trial.create_trial(    # as a resumed sweep adds a stored trial
        params={"a": 1, "b": 0.5, "c": "y"}, distributions=config.space.distributions(),
        value=0.0))
    assert optimizer.ask(3, expected[5]).params == expected[5]  # re-queued with its params
    assert [optimizer.ask(n).params for n in range(4, 7)] == [expected[i] for i in (4, 6, 7)]


@pytest.mark.parametrize(("impute", "value"), [("worst", 5.0), ("latest", 3.0),
                                               ("best", 0.5)])
def test_impute_tells_a_failed_bayes_trial_with_wandbs_value(impute, value):
    """W&B's bayes fits failed runs with the imputed value; the sweep's best stays a real
    one, and without impute (or for random) a failed trial stays FAIL to optuna."""
    def loss(*values: float) -> list[Metric]:
        return [Metric("loss", v, 0, step) for step, v in enumerate(values)]

    for method, given in (("bayes", impute), ("bayes", None), ("random", impute)):
        metric = {"name": "loss", **({"impute": given} if given else {})}
        with warnings.catch_warnings():  # bayes: TPE where PyTorch is missing
            warnings.simplefilter("ignore", WandbFormatWarning)
            config = parse_config(wandb_file({"x": {"min": 0.0, "max": 1.0}}, method=method,
                                             metric=metric))
        optimizer = Optimizer(config)
        done, failed = optimizer.ask(0), optimizer.ask(1)
        optimizer.report(done, loss(2.0, 1.0))
        optimizer.tell(done, TrialState.COMPLETE, [1.0])
        optimizer.report(failed, loss(5.0, 0.5, 3.0))
        optimizer.tell(failed, TrialState.FAIL)
        told = optimizer.study.trials[1]
        if method == "bayes" and given:
            assert (told.state, told.value) == (TrialState.COMPLETE, value)
        else:
            assert told.state is TrialState.FAIL
        assert optimizer.best()[:2] == (0, [1.0])


def test_grid_refuses_continuous_and_weighted_parameters():
    for spec in ({"min": 0.0, "max": 1.0}, {"values": [1, 2], "probabilities": [0.5, 0.5]}):
        with pytest.raises(ConfigError, match="is not allowed with method grid"):
            parse_config(wandb_file({"x": spec}, method="grid"))


def test_a_grid_of_lists_runs_through_an_index():
    config = quiet(wandb_file({"x": {"values": [[1, 2], [3]]}}, method="grid", run_cap=None))
    assert config.budget.trials == 2 and config.space.grid() == {"x~u": [0, 1]}
    assert sorted(map(str, (p["x"] for p in _grid_points(config)))) == ["[1, 2]", "[3]"]


def test_nested_parameters_become_dotted_names():
    config = quiet(wandb_file({"optimizer": {"parameters": {
        "lr": {"min": 0.1, "max": 0.2}, "nadam": {"parameters": {"beta": {"value": 0.9}}}}},
        "z": {"value": 1}}))
    assert config.space.names == ("optimizer.lr", "optimizer.nadam.beta", "z")
    assert dict(config.objective.wandb["paths"]) == {
        "optimizer.lr": ("optimizer", "lr"), "optimizer.nadam.beta": ("optimizer", "nadam",
                                                                      "beta")}


def test_a_nested_name_that_collides_is_an_error():
    with pytest.raises(ConfigError, match="collides"):
        parse_config(wandb_file({"a": {"parameters": {"b": {"value": 1}}},
                                 "a.b": {"value": 2}}))


def test_log_uniform_v1_bounds_become_exponentials_with_a_warning():
    with pytest.warns(WandbFormatWarning, match="natural-log exponents"):
        config = parse_config(wandb_file({"x": {"distribution": "log_uniform", "min": -2,
                                                "max": 0}}))
    assert config.space["x"] == FloatParam("x", math.exp(-2), 1.0, log=True)


@pytest.mark.parametrize(("data", "match"), [
    (wandb_file({"x": {"value": 1}}, entity="team"), "entity: W&B hosting"),
    (wandb_file({"x": {"value": 1}}, controller={"type": "local"}), "controller: W&B hosting"),
    (wandb_file({"x": {"value": 1}}, colour="red"), "colour: unknown key"),
    (wandb_file({"x": {"value": 1, "mu": 3}}), r"parameters\.x\.mu: not used by constant"),
    (wandb_file({"x": {"value": 1, "shape": 3}}), r"parameters\.x\.shape: unknown key"),
    (wandb_file({"x": {"value": 1}}, metric={"name": "l", "goal": "down"}),
     "minimize is used"),
    (wandb_file({"x": {"value": 1}}, run_cap=None), "W&B runs until stopped"),
    (wandb_file({"x": {"value": 1}}, description="d"), "description: not kept"),
    (wandb_file({"x": {"value": 1}}, metric={"name": "l", "impute_while_running": "best"}),
     "metric.impute_while_running: ignored"),
    (wandb_file({"x": {"value": 1}}, command="python t.py ${args}"), "W&B wants a list"),
    (wandb_file({"x": {"value": 1}}, command=["${envvar:SWEEPBOOK_UNSET_VAR}"]),
     "SWEEPBOOK_UNSET_VAR is not set"),
    (wandb_file({"x": {"value": 1}}, early_terminate={"type": "hyperband", "min_iter": 1,
                                                      "extra": 1}), "extra: unknown key"),
])
def test_lenient_warnings(data, match):
    with pytest.warns(WandbFormatWarning, match=match):
        parse_config(data)


@pytest.mark.parametrize(("data", "message"), [
    (wandb_file({"x": {"min": 1}}), "parameters.x.max: required"),
    (wandb_file({"x": {"min": 2, "max": 1}}), "parameters.x.max: must be > min 2 (got 1)"),
    (wandb_file({"x": {"min": 1, "max": 1}}), "parameters.x.max: must be > min 1 (got 1)"),
    (wandb_file({"x": {"values": [1, 2], "probabilities": [0.5, 0.6]}}),
     "parameters.x.probabilities: must sum to 1"),
    (wandb_file({"x": {"values": [1, 2], "probabilities": [1.0]}}),
     "parameters.x.probabilities: must be a list of 2 numbers"),
    (wandb_file({"x": {"distribution": "log_uniform_values", "min": 0, "max": 1}}),
     "parameters.x.min: must be > 0"),
    (wandb_file({"x": {"distribution": "int_uniform", "min": 0.5, "max": 3}}),
     "parameters.x.min: must be an integer"),
    (wandb_file({"x": {"distribution": "wobbly"}}), "parameters.x.distribution: unknown"),
    (wandb_file({"x": {"distribution": "normal", "sigma": -1}}),
     "parameters.x.sigma: must be >= 0"),
    (wandb_file({"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}}),
     "parameters.x.q: must be > 0"),
    (wandb_file({"x": {"q": 1}}), "parameters.x: needs value, values, min/max"),
    (wandb_file({"x": 3}), "parameters.x: must be a mapping"),
    (wandb_file({}), "parameters: must be a non-empty mapping"),
    (wandb_file({"x": {"value": 1}}, method="anneal"), "method: must be one of"),
    (wandb_file({"x": {"value": 1}}, metric=None), "metric: required"),
    (wandb_file({"x": {"value": 1}}, metric={"goal": "minimize"}), "metric.name: required"),
    (wandb_file({"x": {"value": 1}}, run_cap=0), "run_cap: must be a whole number > 0"),
    (wandb_file({"x": {"value": 1}}, metric={"name": "l", "target": "low"}),
     "metric.target: must be a finite number"),
    (wandb_file({"x": {"value": 1}}, metric={"name": "l", "impute": "mean"}),
     "metric.impute: must be one of latest, best, worst (got 'mean')"),
    (wandb_file({"x": {"value": 1}}, program=None), "objective.wandb.program: required"),
    (wandb_file({"x": {"value": 1}}, early_terminate={"type": "median"}),
     "early_terminate.type: must be hyperband"),
    (wandb_file({"x": {"value": 1}}, early_terminate={"type": "hyperband"}),
     "early_terminate: needs min_iter, or max_iter and s"),
    (wandb_file({"x": {"value": 1}}, early_terminate={"type": "hyperband", "max_iter": 9}),
     "early_terminate.s: required with max_iter"),
    (wandb_file({"x": {"value": 1}}, early_terminate={"type": "hyperband", "min_iter": 3,
                                                      "eta": 1}),
     "early_terminate: eta must be > 1"),
    (wandb_file({"x": {"value": 1}}, method="custom", scheduler={"engine": "ax"}),
     "scheduler.engine: only optuna runs offline"),
    (wandb_file({"x": {"value": 1}}, method="custom",
                scheduler={"engine": "optuna", "source": "s.py"}),
     "scheduler.source: not supported"),
])
def test_what_cannot_run_is_one_line_naming_the_field(data, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WandbFormatWarning)
        with pytest.raises(ConfigError) as caught:
            parse_config(data, source="sweep.yaml")
    text = str(caught.value)
    assert "\n" not in text and text.startswith("sweep.yaml: " + message), text


def test_translate_alone_gives_the_plain_config():
    out = translate(wandb_file({"x": {"distribution": "beta", "a": 2, "b": 3}}))
    assert out["space"] == {"x": {"type": "wandb", "distribution": "beta", "a": 2, "b": 3}}
    assert out["objective"] == {"wandb": {"program": "train.py", "command": None,
                                          "wandb_module": True, "paths": {}}}


def test_compat_wandb_module_false_is_kept():
    config = quiet(wandb_file({"x": {"value": 1}}, compat={"wandb_module": False}))
    assert config.objective.wandb["wandb_module"] is False


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeps.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_validate_shows_the_translation_and_warns_in_one_line(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(wandb_file(
        {"lr": {"distribution": "normal"}}, entity="me",
        early_terminate={"type": "hyperband", "max_iter": 27, "s": 2})))
    result = cli("validate", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wandb_hyperband" in result.stdout and "distribution: normal" in result.stdout
    assert "latent lr~u" in result.stdout
    assert result.stderr.splitlines() == [
        f"sweeps: warning: {path}: entity: W&B hosting/launch setting; ignored offline"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(wandb_file({"lr": {"min": 3, "max": 1}})))
    result = cli("validate", str(bad), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.splitlines() == [
        f"sweeps: error: {bad}: parameters.lr.max: must be > min 3 (got 1)"]


def test_load_config_reads_a_wandb_file(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(wandb_file({"x": {"value": 1}})))
    assert load_config(path, ["budget.trials=2"]).budget.trials == 2


def test_format_wandb_on_the_command_line(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**wandb_file({"x": {"value": 1}}), "objective": "note"}))
    result = cli("validate", str(path), cwd=tmp_path)  # not detected: it has an objective
    assert result.returncode == 2 and "method: unknown key" in result.stderr
    result = cli("validate", str(path), "--format", "wandb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "objective: unknown key in a W&B sweep file" in result.stderr
    assert "W&B command (macros expanded per trial): ${env} ${interpreter} train.py ${args}" \
        in result.stdout
