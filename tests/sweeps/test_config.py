"""sweeps.config: YAML → SweepConfig, and one-line ConfigErrors for every broken rule."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path

import pytest

from sweeps.config import (
    Budget,
    Execution,
    Goal,
    MetricSpec,
    ObjectiveSpec,
    PrunerSpec,
    RaySpec,
    SamplerSpec,
    StopWhen,
    SweepConfig,
    apply_overrides,
    load_config,
    parse_config,
    parse_duration,
    parse_memory,
)
from sweeps.errors import ConfigError, SweepsError
from sweeps.space import CategoricalParam, FixedParam, FloatParam, IntParam

BASE = """\
objective: examples.quadratic:objective
metric: {name: loss, goal: minimize}
space:
  x: {type: float, low: -5, high: 5}
  kind: [a, b]
"""

FULL = """\
experiment: iris-rf
name: first try
objective: examples.iris_rf:train
metric: {name: accuracy, goal: maximize}
space:
  n_estimators: {type: int, low: 10, high: 300, log: true}
  max_depth:    {type: int, low: 2, high: 32, step: 2}
  criterion:    [gini, entropy, log_loss]
  max_features: {type: float, low: 0.1, high: 1.0}
  random_state: 42
  kernel:       {type: categorical, choices: [linear, rbf]}
  gamma:        {type: float, low: 1.0e-4, high: 1.0, log: true, when: {kernel: rbf}}
sampler: {type: tpe, seed: 0}
pruner:  {type: median, warmup_steps: 3}
budget:  {trials: 50, timeout: 10m, max_failures: 10}
execution:
  backend: local
  workers: 2
  trial_timeout: 5m
  retries: 1
  resources: {cpu: 1, gpu: 0.5, memory: 512MiB, accelerator_x: 2}
  ray: {address: null}
tracking: {uri: runs}
report: {path: reports/iris-rf.html}
"""


def write(tmp_path: Path, text: str | bytes, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path, text: str | bytes, overrides: tuple[str, ...] = ()) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(str(path)), message
    return message


# -- a full valid config ----------------------------------------------------------------------


def test_full_config_loads_into_frozen_dataclasses(tmp_path):
    config = load_config(write(tmp_path, FULL))
    assert isinstance(config, SweepConfig)
    assert config.experiment == "iris-rf" and config.name == "first try"
    assert config.objective == ObjectiveSpec("examples.iris_rf:train", None)
    assert config.metrics == (MetricSpec("accuracy", Goal.MAXIMIZE),)
    assert config.sampler == SamplerSpec("tpe", 0, {})
    assert config.pruner.type == "median" and dict(config.pruner.options) == {"warmup_steps": 3}
    assert config.budget == Budget(trials=50, timeout=600.0, max_failures=10)
    assert config.execution == Execution(
        backend="local", workers=2, trial_timeout=300.0, retries=1,
        resources={"cpu": 1.0, "gpu": 0.5, "memory": 512 * 1024**2, "accelerator_x": 2.0},
        ray=RaySpec(None),
    )
    assert config.tracking_uri == "runs"
    assert config.report_path == "reports/iris-rf.html" and config.report_enabled
    space = config.space
    assert space.names == ("n_estimators", "max_depth", "criterion", "max_features",
                           "random_state", "kernel", "gamma")
    assert space["n_estimators"] == IntParam("n_estimators", 10, 300, log=True)
    assert space["max_depth"] == IntParam("max_depth", 2, 32, step=2)
    assert space["criterion"] == CategoricalParam("criterion", ("gini", "entropy", "log_loss"))
    assert space["random_state"] == FixedParam("random_state", 42)
    gamma = space["gamma"]
    assert isinstance(gamma, FloatParam) and gamma.low == 1e-4 and gamma.log
    assert dict(gamma.when) == {"kernel": ("rbf",)}
    with pytest.raises(AttributeError):
        config.experiment = "other"  # frozen
    with pytest.raises(TypeError):
        config.execution.resources["cpu"] = 4  # read-only mapping
    assert config.raw["budget"]["timeout"] == "10m"  # as written, before resolution


def test_defaults(tmp_path):
    config = load_config(write(tmp_path, BASE, name="my-exp.yaml"))
    assert config.experiment == "my-exp"
    assert config.name is None
    assert config.sampler == SamplerSpec("tpe", None, {})
    assert config.pruner == PrunerSpec("none", {})
    assert config.budget == Budget(trials=20, timeout=None, max_failures=None)
    assert config.execution == Execution()
    assert dict(config.execution.resources) == {"cpu": 1.0}
    assert config.execution.backend == "local" and config.execution.workers == 1
    assert config.tracking_uri is None
    assert config.report_path is None and config.report_enabled  # None: per sweep (report)


def test_timeout_alone_leaves_trials_unbounded(tmp_path):
    config = load_config(write(tmp_path, BASE + "budget: {timeout: 1.5h}\n"))
    assert config.budget == Budget(trials=None, timeout=5400.0)


def test_report_false(tmp_path):
    config = load_config(write(tmp_path, BASE + "report: false\n"))
    assert config.report_enabled is False and config.report_path is None
    assert config.to_dict()["report"] is False


def test_to_dict_is_json_and_reads_back(tmp_path):
    config = load_config(write(tmp_path, FULL))
    data = config.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["budget"] == {"trials": 50, "timeout": 600.0, "max_failures": 10}
    assert data["metrics"] == [{"name": "accuracy", "goal": "maximize"}]
    again = parse_config(data)
    assert again == config
    assert again.to_dict() == data


def test_command_objective(tmp_path):
    text = BASE.replace(
        "objective: examples.quadratic:objective",
        'objective: {command: "python train.py --x {x} --kind={kind} --json {{}}", '
        "cwd: examples, env: {OMP_NUM_THREADS: '1'}}",
    )
    config = load_config(write(tmp_path, text))
    assert config.objective.callable is None
    assert config.objective.command.startswith("python train.py --x {x}")
    assert config.objective.cwd == "examples"
    assert dict(config.objective.env) == {"OMP_NUM_THREADS": "1"}


def test_multi_objective_metrics_and_aliases(tmp_path):
    text = BASE.replace("metric: {name: loss, goal: minimize}",
                        "metrics: [{name: acc, goal: max}, {name: secs, goal: min}]")
    config = load_config(write(tmp_path, text + "sampler: {type: nsga2, population_size: 10}\n"))
    assert config.metrics == (MetricSpec("acc", Goal.MAXIMIZE), MetricSpec("secs", Goal.MINIMIZE))
    assert dict(config.sampler.options) == {"population_size": 10}


def test_parse_config_from_dict_requires_experiment():
    data = {"objective": "m:f", "metric": {"name": "l", "goal": "minimize"},
            "space": {"x": [1, 2]}}
    with pytest.raises(ConfigError, match=r"^<dict>: experiment: required"):
        parse_config(data)
    assert parse_config({**data, "experiment": "e"}).experiment == "e"


def test_config_error_is_a_value_error_and_pickles(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE + "budget: {trials: 0}\n"))
    err = info.value
    assert isinstance(err, SweepsError) and isinstance(err, ValueError)
    assert err.path == "budget.trials" and err.source.endswith("sweep.yaml")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) and copy.path == err.path


# -- YAML safety ------------------------------------------------------------------------------


def test_python_tags_are_refused_and_not_run(tmp_path):
    marker = tmp_path / "PWNED"
    text = BASE + f'experiment: !!python/object/apply:os.system ["touch {marker}"]\n'
    message = error(tmp_path, text)
    assert "unsupported YAML tag '!!python/object/apply:os.system'" in message
    assert not marker.exists()


def test_duplicate_keys(tmp_path):
    text = BASE + "space:\n  lr: {type: float, low: 0.1, high: 1, low: 0.2}\n"
    assert "duplicate key 'space'" in error(tmp_path, text)
    text = BASE.replace("x: {type: float, low: -5, high: 5}",
                        "x: {type: float, low: -5, high: 5, low: 1}")
    message = error(tmp_path, text)
    assert "space.x: duplicate key 'low'" in message
    assert ":4:" in message  # line of the second 'low'


def test_anchors_and_merges(tmp_path):
    text = """\
objective: m:f
metric: {name: loss, goal: minimize}
_defaults: &rate {type: float, low: 1.0e-5, high: 1.0, log: true}
space:
  lr: *rate
  wd: {<<: *rate, low: 1.0e-6}
"""
    # unknown top-level key `_defaults` must still be reported ...
    assert "_defaults: unknown key" in error(tmp_path, text)
    # ... so anchors live inside the space itself
    text = """\
objective: m:f
metric: {name: loss, goal: minimize}
space:
  lr: &rate {type: float, low: 1.0e-5, high: 1.0, log: true}
  wd: {<<: *rate, low: 1.0e-6}
"""
    space = load_config(write(tmp_path, text)).space
    assert space["lr"] == FloatParam("lr", 1e-5, 1.0, log=True)
    assert space["wd"] == FloatParam("wd", 1e-6, 1.0, log=True)


def test_billion_laughs_is_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    text = BASE + "\n".join(lines) + "\n"
    start = time.monotonic()
    message = error(tmp_path, text)
    assert time.monotonic() - start < 2
    assert "once aliases are expanded" in message


def test_recursive_alias_is_refused(tmp_path):
    assert "recursive alias" in error(tmp_path, BASE + "name: &a [*a]\n")


def test_deep_nesting_is_refused(tmp_path):
    message = error(tmp_path, BASE + "name: " + "[" * 1000 + "]" * 1000 + "\n")
    assert "nested deeper than 100 levels" in message
    block = "name:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(200))
    assert "nested deeper than 100 levels" in error(tmp_path, BASE + block)


def test_file_over_one_megabyte_is_refused(tmp_path):
    text = BASE + "# " + "x" * 1_100_000 + "\n"
    assert "larger than 1,000,000 bytes" in error(tmp_path, text)


def test_empty_file(tmp_path):
    assert error(tmp_path, "").endswith("sweep.yaml: empty config file")
    assert error(tmp_path, "# only a comment\n").endswith("empty config file")


def test_top_level_must_be_a_mapping(tmp_path):
    assert "top level must be a mapping, not list" in error(tmp_path, "- a\n- b\n")
    assert "top level must be a mapping, not str" in error(tmp_path, "hello\n")


def test_bom_and_crlf_load(tmp_path):
    text = ("\ufeff" + BASE).replace("\n", "\r\n").encode("utf-8")
    config = load_config(write(tmp_path, text))
    assert config.space.names == ("x", "kind")


def test_invalid_utf8(tmp_path):
    message = error(tmp_path, BASE.encode() + b"name: caf\xe9\n")
    assert "not valid UTF-8" in message


def test_control_character_in_file(tmp_path):
    message = error(tmp_path, BASE + "name: a\x07b\n")
    assert "invalid YAML: unacceptable character #x0007" in message


def test_tab_indentation(tmp_path):
    message = error(tmp_path, BASE + "budget:\n\ttrials: 3\n")
    assert "invalid YAML" in message and ":7:1:" in message


def test_syntax_error_has_line_and_column(tmp_path):
    message = error(tmp_path, BASE + "budget: {trials: 3\n")
    assert "invalid YAML" in message and ":7:1:" in message


def test_two_documents(tmp_path):
    assert "invalid YAML" in error(tmp_path, BASE + "---\nname: x\n")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read: No such file"):
        load_config(tmp_path / "absent.yaml")


def test_exponent_floats_and_dates(tmp_path):
    text = BASE.replace("x: {type: float, low: -5, high: 5}",
                        "x: {type: float, low: 1e-4, high: 1E2, log: true}") + "name: 2024-01-01\n"
    config = load_config(write(tmp_path, text))
    assert config.space["x"] == FloatParam("x", 1e-4, 100.0, log=True)
    assert config.name == "2024-01-01"


# -- unknown keys -----------------------------------------------------------------------------


def test_unknown_top_level_key_suggests(tmp_path):
    message = error(tmp_path, BASE + "budjet: {trials: 3}\n")
    assert "budjet: unknown key; did you mean 'budget'?" in message


def test_unknown_nested_key_suggests(tmp_path):
    assert "budget.trails: unknown key; did you mean 'trials'?" in error(
        tmp_path, BASE + "budget: {trails: 3}\n")
    message = error(tmp_path, BASE + "execution: {ray: {adress: auto}}\n")
    assert "execution.ray.adress: unknown key; did you mean 'address'?" in message
    message = error(tmp_path, BASE.replace("high: 5}", "high: 5, hihg: 3}"))
    assert "space.x.hihg: unknown key; did you mean 'high'?" in message


def test_unknown_key_without_close_match_lists_valid(tmp_path):
    message = error(tmp_path, BASE + "budget: {zzz: 3}\n")
    assert "budget.zzz: unknown key; valid keys: trials, timeout, max_failures" in message


# -- strict types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('"10"', "budget.trials: must be an integer (got '10')"),
        ("10.5", "budget.trials: must be an integer (got 10.5)"),
        ("1e9", "budget.trials: must be an integer (got 1000000000.0)"),
        ("-1", "budget.trials: must be >= 1 (got -1)"),
        ("0", "budget.trials: must be >= 1 (got 0)"),
        (".inf", "budget.trials: must be an integer (got inf)"),
        (".nan", "budget.trials: must be an integer (got nan)"),
        ("true", "budget.trials: must be an integer (got True)"),
        ("[1]", "budget.trials: must be an integer (got [1])"),
    ],
)
def test_trials_must_be_a_positive_integer(tmp_path, value, fragment):
    assert fragment in error(tmp_path, BASE + f"budget: {{trials: {value}}}\n")


def test_huge_integer_trials_are_fine(tmp_path):
    config = load_config(write(tmp_path, BASE + "budget: {trials: 1000000000}\n"))
    assert config.budget.trials == 10**9


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("execution: {workers: 0}", "execution.workers: must be >= 1 (got 0)"),
        ("execution: {workers: true}", "execution.workers: must be an integer (got True)"),
        ("execution: {retries: -1}", "execution.retries: must be >= 0 (got -1)"),
        ("budget: {max_failures: -2}", "budget.max_failures: must be >= 0 (got -2)"),
        ("budget: {max_failures: 1.0}", "budget.max_failures: must be an integer (got 1.0)"),
        ("sampler: {seed: -1}", "sampler.seed: must be >= 0 (got -1)"),
        ("sampler: {seed: '1'}", "sampler.seed: must be an integer (got '1')"),
        ("sampler: {seed: 4294967296}", "sampler.seed: must be < 2**32"),
    ],
)
def test_integer_fields(tmp_path, section, fragment):
    assert fragment in error(tmp_path, BASE + section + "\n")


# -- objective, metrics, names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("objective", "fragment"),
    [
        ("train", "objective: must be 'module:function' or {command: ...} (got 'train')"),
        ("'a b:c'", "objective: must be 'module:function'"),
        ("'mod:fn\\n'", "objective: must be 'module:function'"),
        ("'9mod:fn'", "objective: must be 'module:function'"),
        ("{command: ''}", "objective.command: must be a non-empty string (got '')"),
        ("{command: 3}", "objective.command: must be a non-empty string (got 3)"),
        ("{command: 'run {y}'}", "objective.command: placeholder {y} is not a parameter"),
        ("{command: 'run {}'}", "objective.command: placeholder {} is not a parameter"),
        ("{command: 'run {x'}", "objective.command: bad braces"),
        ("{command: 'run', env: {A: 1}}", "objective.env.A: must be a string (quote it) (got 1)"),
        ("{command: 'run', env: {'A-B': 'x'}}", "objective.env.A-B: not a valid environment"),
        ("{callable: 'm:f', cwd: x}", "objective.cwd: only valid with command"),
        ("{cwd: x}", "objective: needs exactly one of callable or command"),
        ("{comand: x}", "objective.comand: unknown key; did you mean 'command'?"),
    ],
)
def test_objective_rules(tmp_path, objective, fragment):
    text = BASE.replace("objective: examples.quadratic:objective", f"objective: {objective}")
    assert fragment in error(tmp_path, text)


def test_objective_required(tmp_path):
    text = BASE.replace("objective: examples.quadratic:objective\n", "")
    assert error(tmp_path, text).endswith("objective: required")


def test_placeholder_of_conditional_param_is_refused(tmp_path):
    text = BASE.replace("objective: examples.quadratic:objective",
                        "objective: {command: 'run {y}'}") + \
        "  y: {type: int, low: 1, high: 3, when: {kind: a}}\n"
    assert "placeholder {y} names a conditional parameter" in error(tmp_path, text)


@pytest.mark.parametrize(
    ("metric", "fragment"),
    [
        ("metric: {name: loss, goal: up}", "metric.goal: must be maximize or minimize (got 'up')"),
        ("metric: {name: loss}", "metric.goal: required"),
        ("metric: {name: '', goal: max}", "metric.name: must be a non-empty string (got '')"),
        ('metric: {name: "a\\nb", goal: max}', "metric.name: must not contain control"),
        ("metrics: []", "metrics: must be a non-empty list"),
        ("metrics: [{name: a, goal: max}, {name: a, goal: min}]",
         "metrics.1.name: duplicate metric name (got 'a')"),
        ("metric: {name: a, goal: max}\nmetrics: [{name: b, goal: min}]",
         "metrics: give either metric or metrics, not both"),
        ("", "metric: required"),
    ],
)
def test_metric_rules(tmp_path, metric, fragment):
    text = BASE.replace("metric: {name: loss, goal: minimize}", metric)
    assert fragment in error(tmp_path, text)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("experiment: ''", "experiment: must be a non-empty string"),
        ("experiment: 12", "experiment: must be a non-empty string (got 12)"),
        ('experiment: "a\\u0000b"', "experiment: must not contain control characters"),
        ("experiment: " + "x" * 251, "experiment: must be at most 250 characters"),
        ("name: [a]", "name: must be a non-empty string (got ['a'])"),
    ],
)
def test_experiment_and_name(tmp_path, line, fragment):
    message = error(tmp_path, BASE + line + "\n")
    assert fragment in message
    assert len(message) < 300  # the bad value is cut short


# -- sampler and pruner -----------------------------------------------------------------------


def test_unknown_sampler_lists_valid(tmp_path):
    message = error(tmp_path, BASE + "sampler: {type: bayes}\n")
    assert ("sampler.type: unknown sampler; valid: cmaes, gp, grid, nsga2, qmc, random, tpe, "
            "wandb_grid (got 'bayes')") in message


def test_unknown_pruner_lists_valid(tmp_path):
    message = error(tmp_path, BASE + "pruner: asha\n")
    assert ("pruner.type: unknown pruner; valid: hyperband, median, none, percentile, "
            "successive_halving") in message and message.endswith("(got 'asha')")


def test_unknown_backend_lists_valid(tmp_path):
    message = error(tmp_path, BASE + "execution: {backend: slurm}\n")
    assert "execution.backend: unknown backend; valid: local, ray (got 'slurm')" in message


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("sampler: {type: tpe, n_startup: 5}",
         "sampler.n_startup: unknown option for sampler tpe; did you mean 'n_startup_trials'?"),
        ("sampler: {type: random, population_size: 5}",
         "sampler.population_size: sampler random takes no options but seed"),
        ("sampler: {type: tpe, gamma: 0.1}",
         "sampler.gamma: takes a Python object; not settable from a config"),
        ("sampler: {type: tpe, n_startup_trials: '5'}",
         "sampler.n_startup_trials: must be int (got '5')"),
        ("sampler: {type: tpe, multivariate: 1}", "sampler.multivariate: must be bool or null"),
        ("sampler: {type: qmc, qmc_type: nonsense}", "sampler: rejected by optuna"),
        ("sampler: {type: grid, search_space: {}}",
         "sampler.search_space: sampler grid takes no options but seed"),
        ("pruner: {type: median, warmup: 3}",
         "pruner.warmup: unknown option for pruner median; did you mean"),
        ("pruner: {type: median, warmup_steps: 1, n_warmup_steps: 2}",
         "pruner.warmup_steps: give warmup_steps or n_warmup_steps, not both"),
        ("pruner: {type: median, warmup_steps: 1.5}",
         "pruner.warmup_steps: must be int (got 1.5)"),
        ("pruner: {type: median, n_startup_trials: -1}", "pruner: rejected by optuna"),
        ("pruner: {type: percentile}", "pruner.percentile: required for pruner percentile"),
        ("pruner: {type: none, warmup_steps: 1}",
         "pruner.warmup_steps: pruner none takes no options"),
        ("sampler: 5", "sampler: must be a mapping like {type: ...} or a type name (got 5)"),
    ],
)
def test_sampler_and_pruner_options(tmp_path, section, fragment):
    assert fragment in error(tmp_path, BASE + section + "\n")


def test_sampler_and_pruner_shorthand_and_options(tmp_path):
    text = BASE + "sampler: random\npruner: {type: percentile, percentile: 25.0, warmup_steps: 2}\n"
    config = load_config(write(tmp_path, text))
    assert config.sampler == SamplerSpec("random", None, {})
    assert dict(config.pruner.options) == {"percentile": 25.0, "warmup_steps": 2}


MULTI = BASE.replace("metric: {name: loss, goal: minimize}",
                     "metrics: [{name: a, goal: max}, {name: b, goal: min}]")


def test_pruning_needs_a_single_metric(tmp_path):
    message = error(tmp_path, MULTI + "pruner: median\n")
    assert "pruner.type: pruning needs a single objective metric (got 'median')" in message
    assert load_config(write(tmp_path, MULTI + "pruner: none\n")).pruner.type == "none"


def test_cmaes_is_single_objective(tmp_path):
    message = error(tmp_path, MULTI + "sampler: cmaes\n")
    assert "sampler.type: cmaes supports a single objective metric only" in message


@pytest.mark.parametrize("sampler", ["gp", "qmc", "tpe", "random", "nsga2"])
def test_multi_objective_samplers_are_allowed(tmp_path, sampler):
    assert load_config(write(tmp_path, MULTI + f"sampler: {sampler}\n")).sampler.type == sampler


def test_grid_with_conditional_param(tmp_path):
    text = BASE.replace("x: {type: float, low: -5, high: 5}",
                        "x: {type: int, low: 1, high: 3, when: {kind: a}}")
    message = error(tmp_path, text + "sampler: grid\n")
    assert "space.x.when: not supported with sampler grid" in message


def test_grid_with_continuous_float(tmp_path):
    message = error(tmp_path, BASE + "sampler: grid\n")
    assert "space.x: sampler grid needs a finite grid" in message
    text = BASE.replace("high: 5}", "high: 5, step: 2.5}") + "sampler: grid\n"
    assert load_config(write(tmp_path, text)).space.grid_size() == 5 * 2


def test_grid_too_large(tmp_path):
    text = BASE.replace("x: {type: float, low: -5, high: 5}",
                        "x: {type: int, low: 0, high: 10000000}") + "sampler: grid\n"
    assert "space: grid has 20,000,002 points, more than 100,000" in error(tmp_path, text)


# -- durations, memory, resources, ray, tracking, report --------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(30, 30.0), (0.5, 0.5), ("30s", 30.0), ("10m", 600.0), ("1.5h", 5400.0), ("2d", 172800.0),
     ("500ms", 0.5), ("45", 45.0), (" 2 h ", 7200.0)],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value, "budget.timeout") == seconds


@pytest.mark.parametrize("value", ["soon", "10 minutes", "1e3s", "-5s", True, None, [1], "inf",
                                   float("inf"), float("nan"), "10M"])
def test_parse_duration_rejects(value):
    with pytest.raises(ConfigError, match=r"^<dict>: budget.timeout: not a duration like 30s"):
        parse_duration(value, "budget.timeout")


@pytest.mark.parametrize("value", [0, "0s", -3])
def test_parse_duration_must_be_positive(value):
    with pytest.raises(ConfigError, match="budget.timeout: must be > 0"):
        parse_duration(value, "budget.timeout")


def test_bad_duration_in_file(tmp_path):
    message = error(tmp_path, BASE + "budget: {timeout: soon}\n")
    assert "budget.timeout: not a duration like 30s, 10m, 2h (got 'soon')" in message
    message = error(tmp_path, BASE + "execution: {trial_timeout: 0}\n")
    assert "execution.trial_timeout: must be > 0 (got 0)" in message


@pytest.mark.parametrize(
    ("value", "size"),
    [(1024, 1024.0), ("4GB", 4e9), ("512MiB", 512 * 1024**2), ("1.5 GiB", 1.5 * 1024**3),
     ("100", 100.0), ("2kb", 2000.0), (0, 0.0)],
)
def test_parse_memory(value, size):
    assert parse_memory(value, "execution.resources.memory") == size


def test_bad_memory(tmp_path):
    message = error(tmp_path, BASE + "execution: {resources: {memory: lots}}\n")
    assert "execution.resources.memory: not a memory size like 512MiB, 4GB" in message
    assert "(got 'lots')" in message
    assert "not a memory size" in error(tmp_path, BASE + "execution: {resources: {memory: 4XB}}\n")
    assert "must be >= 0" in error(tmp_path, BASE + "execution: {resources: {memory: -1}}\n")


@pytest.mark.parametrize(
    ("resources", "fragment"),
    [
        ("{gpu: -1}", "execution.resources.gpu: must be >= 0 (got -1)"),
        ("{cpu: '2'}", "execution.resources.cpu: must be a finite number (got '2')"),
        ("{cpu: .inf}", "execution.resources.cpu: must be a finite number (got inf)"),
        ("{gpu: true}", "execution.resources.gpu: must be a finite number (got True)"),
        ("[cpu]", "execution.resources: must be a mapping"),
    ],
)
def test_bad_resources(tmp_path, resources, fragment):
    assert fragment in error(tmp_path, BASE + f"execution: {{resources: {resources}}}\n")


def test_resources_keep_default_cpu(tmp_path):
    config = load_config(write(tmp_path, BASE + "execution: {resources: {gpu: 0.25}}\n"))
    assert dict(config.execution.resources) == {"cpu": 1.0, "gpu": 0.25}


@pytest.mark.parametrize("address", ["auto", "10.0.0.1:6379", "head-node.local:6379",
                                     "ray://head:10001", "'[::1]:6379'"])
def test_good_ray_addresses(tmp_path, address):
    config = load_config(write(tmp_path, BASE + f"execution: {{ray: {{address: {address}}}}}\n"))
    assert config.execution.ray.address == address.strip("'")


@pytest.mark.parametrize("address", ["localhost", "http://head:6379", "head:0", "head:70000",
                                     "ray://", "'head:6379 '", "6379"])
def test_bad_ray_addresses(tmp_path, address):
    message = error(tmp_path, BASE + f"execution: {{ray: {{address: {address}}}}}\n")
    assert "execution.ray.address: must be null, 'auto', 'HOST:PORT' or 'ray://HOST:PORT'" \
        in message


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("tracking: {uri: 3}", "tracking.uri: must be a non-empty string (got 3)"),
        ("tracking: runs", "tracking: must be a mapping (got 'runs')"),
        ("report: {path: out.pdf}", "report.path: must end with .html (got 'out.pdf')"),
        ("report: {path: 3}", "report.path: must be a non-empty string (got 3)"),
        ("report: yes please", "report: must be a mapping (got 'yes please')"),
    ],
)
def test_tracking_and_report(tmp_path, line, fragment):
    assert fragment in error(tmp_path, BASE + line + "\n")


# -- space errors through the config ----------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "fragment"),
    [
        ("{type: float, low: 5, high: 1}", "space.p.high: must be >= low 5 (got 1)"),
        ("{type: float, low: 0, high: 1, log: true}",
         "space.p.low: must be > 0 when log: true (got 0)"),
        ("{type: int, low: -2, high: 4, log: true}",
         "space.p.low: must be > 0 when log: true (got -2)"),
        ("[]", "space.p: needs at least one choice (got [])"),
        ("{type: categorical, choices: []}", "space.p.choices: needs at least one choice"),
        ("{type: uniform, low: 0, high: 1}",
         "space.p.type: unknown parameter type; valid: categorical, float, int (got 'uniform')"),
        ("{type: float, low: 0, hi: 1}", "space.p.hi: unknown key; did you mean 'high'?"),
    ],
)
def test_space_rules_through_config(tmp_path, param, fragment):
    assert fragment in error(tmp_path, BASE + f"  p: {param}\n")


def test_empty_space(tmp_path):
    text = BASE.split("space:")[0] + "space: {}\n"
    assert error(tmp_path, text).endswith("space: needs at least one parameter")


def test_when_missing_param_and_cycle(tmp_path):
    message = error(tmp_path, BASE + "  p: {type: int, low: 1, high: 2, when: {kinf: a}}\n")
    assert "space.p.when.kinf: unknown parameter; did you mean 'kind'?" in message
    text = BASE + ("  p: {type: int, low: 1, high: 2, when: {q: 1}}\n"
                   "  q: {type: int, low: 1, high: 2, when: {p: 1}}\n")
    assert "space.p.when: cyclic dependency p -> q -> p" in error(tmp_path, text)


# -- overrides --------------------------------------------------------------------------------


def test_overrides(tmp_path):
    path = write(tmp_path, FULL)
    config = load_config(path, ["budget.trials=100", "space.max_depth.high=64",
                                "execution.workers=4", "sampler.seed=7", "report=false",
                                "metric.goal=min"])
    assert config.budget.trials == 100
    assert config.space["max_depth"].high == 64
    assert config.execution.workers == 4
    assert config.sampler.seed == 7
    assert config.report_enabled is False
    assert config.metrics[0].goal is Goal.MINIMIZE
    assert config.raw["budget"]["trials"] == 100  # the config as run


def test_override_values_are_validated(tmp_path):
    message = error(tmp_path, BASE, ("budget.trials=ten",))
    assert "budget.trials: must be an integer (got 'ten')" in message
    message = error(tmp_path, BASE, ("budget.trails=10",))
    assert "budget.trails: unknown key; did you mean 'trials'?" in message


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("budget.trials", "override 'budget.trials' is not KEY=VALUE"),
        ("=3", "override '=3' is not KEY=VALUE"),
        ("budget..trials=3", "override 'budget..trials=3' is not KEY=VALUE"),
        ("space.kind.x=1", "space.kind: override 'space.kind.x=1' goes through a list"),
        ("objective.x=1", "objective: override 'objective.x=1' goes through a str"),
        ("budget.trials=[1, 2", "invalid YAML"),
        ("budget.trials=!!python/object/apply:os.system [ls]", "unsupported YAML tag"),
    ],
)
def test_bad_overrides(tmp_path, override, fragment):
    assert fragment in error(tmp_path, BASE, (override,))


def test_apply_overrides_copies_and_indexes_lists():
    data = {"metrics": [{"name": "a", "goal": "max"}], "budget": {"trials": 5}}
    out = apply_overrides(data, ["metrics.0.goal=min", "budget.timeout=10m", "new.deep.key=1"])
    assert out == {"metrics": [{"name": "a", "goal": "min"}],
                   "budget": {"trials": 5, "timeout": "10m"}, "new": {"deep": {"key": 1}}}
    assert data["budget"] == {"trials": 5}  # input untouched


@pytest.mark.parametrize("section, fragment", [
    ("pruner: {type: [a]}", "pruner.type: unknown pruner"),
    ("pruner: {type: {a: 1}}", "pruner.type: unknown pruner"),
    ("sampler: {type: [tpe]}", "sampler.type: unknown sampler"),
    ("sampler: {type: {a: 1}}", "sampler.type: unknown sampler"),
    ("budget: {trials: !!float abc}", ":6:18: budget.trials: not a valid float: 'abc'"),
    ("budget: {trials: !!int 0xZZ}", ":6:18: budget.trials: not a valid int: '0xZZ'"),
    ("budget: {trials: !!bool maybe}", "budget.trials: not a valid bool"),
    ("budget: {trials: " + "9" * 4301 + "}", "budget.trials: integer too large (more than "
     "4,300 digits)"),
    ("budget: {trials: 0x" + "f" * 4000 + "}", "budget.trials: integer too large"),
])
def test_unhashable_types_and_bad_scalars_are_one_line(tmp_path, section, fragment):
    assert fragment in error(tmp_path, BASE + section + "\n")


def test_a_huge_integer_in_an_override_is_one_line(tmp_path):
    message = error(tmp_path, BASE, ("budget.trials=" + "9" * 4301,))
    assert "integer too large" in message and len(message) < 300


@pytest.mark.parametrize("special", ["/dev/null", "fifo", "folder"])
def test_only_a_regular_file_is_read(tmp_path, special):
    path = tmp_path / special
    if special == "fifo":
        os.mkfifo(path)  # a FIFO without a writer blocked the reader forever
    elif special == "folder":
        path.mkdir()
    else:
        path = Path(special)
    with pytest.raises(ConfigError, match="cannot read: not a regular file"):
        load_config(path)


def test_a_long_plain_list_says_it_is_too_long(tmp_path):
    message = error(tmp_path, BASE + "  big: [" + ",".join(["1"] * 100_001) + "]\n")
    assert "space.big: too long: this list holds more than 100,000 values" in message
    assert "alias" not in message


def test_a_misplaced_section_key_suggests_its_section(tmp_path):
    assert "trails: unknown key; did you mean 'budget.trials'?" in error(
        tmp_path, BASE + "trails: 5\n")
    assert "workres: unknown key; did you mean 'execution.workers'?" in error(
        tmp_path, BASE + "workres: 2\n")


def test_a_second_document_says_where_both_are(tmp_path):
    message = error(tmp_path, BASE + "---\nx: 1\n")
    assert (":6:1: invalid YAML: expected a single document in the stream (line 1, column 1), "
            "but found another document") in message


def test_a_type_override_drops_the_options_the_new_type_does_not_take(tmp_path):
    path = write(tmp_path, BASE + "pruner: {type: median, warmup_steps: 3}\n"
                 "sampler: {type: tpe, seed: 1, n_startup_trials: 5}\n")
    config = load_config(path, ["pruner.type=none", "sampler.type=random"])
    assert config.pruner == PrunerSpec("none", {})
    assert config.sampler == SamplerSpec("random", 1, {})
    assert config.notes == (
        "sampler.type is now random (was 'tpe'): dropped the options random does not take: "
        "n_startup_trials",
        "pruner.type is now none (was 'median'): dropped the options none does not take: "
        "warmup_steps")
    kept = load_config(path, ["pruner.type=percentile", "pruner.percentile=30"])
    assert kept.pruner == PrunerSpec("percentile", {"warmup_steps": 3, "percentile": 30})
    assert kept.notes == ()
    # an option given in the same overrides is the user's: checked, never dropped
    assert "pruner.warmup_steps: pruner none takes no options" in error(
        tmp_path, BASE, ("pruner.type=none", "pruner.warmup_steps=2"))


# -- metric.use, stop_when, seed and budget.repeats ---------------------------------------------

CHOICES = BASE + "  rs: {type: int, low: 0, high: 99}\n  lucky: [7, 13]\n"


def test_use_stop_when_seed_and_repeats_parse_read_back_and_take_overrides(tmp_path):
    text = CHOICES.replace("metric: {name: loss, goal: minimize}", (
        "metrics: [{name: loss, goal: min, use: best},\n"
        "          {name: acc, goal: max, use: mean_last_k, k: 2}]")) + (
        "seed: rs\nbudget: {repeats: 3}\nstop_when: {metric: acc, reaches: 0.99}\n")
    config = load_config(write(tmp_path, text))
    assert [(m.use, m.k) for m in config.metrics] == [("best", 3), ("mean_last_k", 2)]
    assert config.stop_when == StopWhen("acc", 0.99, Goal.MAXIMIZE)  # acc's own goal
    assert (config.seed_param, config.budget.repeats) == ("rs", 3)
    data = config.to_dict()
    assert data["metrics"] == [{"name": "loss", "goal": "minimize", "use": "best"},
                               {"name": "acc", "goal": "maximize", "use": "mean_last_k", "k": 2}]
    assert (data["seed"], data["budget"]["repeats"]) == ({"param": "rs"}, 3)
    assert data["stop_when"] == {"metric": "acc", "reaches": 0.99, "goal": "maximize"}
    assert parse_config(data) == config
    changed = load_config(write(tmp_path, text), [
        "metrics.0.use=last", "seed=lucky", "stop_when={metric: f1, reaches: 0.5, "
        "goal: max}", "budget.repeats=1"])
    assert changed.metrics[0].use == "last" and changed.seed_param == "lucky"
    assert changed.stop_when == StopWhen("f1", 0.5, Goal.MAXIMIZE)
    assert "repeats" not in changed.to_dict()["budget"]  # shown only when set
    plain = load_config(write(tmp_path, BASE)).to_dict()
    assert not {"seed", "stop_when"} & set(plain) and set(plain["metrics"][0]) == {"name", "goal"}


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        ("metric: {name: loss, goal: min, use: worst}",
         "metric.use: must be one of last, best, mean_last_k (got 'worst')"),
        ("metrics: [{name: loss, goal: min, use: best, k: 2}]",
         "metrics.0.k: only used with use: mean_last_k (got 2)"),
        ("metric: {name: loss, goal: min, use: mean_last_k, k: 0}", "metric.k: must be >= 1"),
        ("stop_when: {metric: acc, reaches: 0.9}",
         "stop_when.goal: required: 'acc' is not an objective metric; say maximize or minimize"),
        ("stop_when: {metric: loss, reaches: 0.1, goal: max}",
         "stop_when.goal: 'loss' is an objective metric to minimize (got 'max')"),
        ("stop_when: {metric: loss, reaches: .nan}", "stop_when.reaches: must be a finite"),
        ("stop_when: {reaches: 1}", "stop_when.metric: required"),
        ("metric: {name: loss, goal: min, target: 0.1}\nstop_when: {metric: loss, reaches: 0}",
         "stop_when: give stop_when or metric.target, not both"),
        ("seed: {param: x}", "seed.param: must name an int param, an int constant or a list "
         "of ints (got 'x')"),
        ("seed: r", "seed: not a parameter of the space; did you mean 'rs'? (got 'r')"),
        ("seed: 42", "seed: must be {param: NAME} or a param's name (the sampler's own seed"),
        ("budget: {repeats: 0}", "budget.repeats: must be >= 1 (got 0)"),
        ("budget: {repeats: 2}\npruner: median",
         "budget.repeats: pruning needs one run per trial; set pruner: none (pruner is median)"),
    ],
)
def test_use_stop_when_seed_and_repeats_rules(tmp_path, lines, fragment):
    text = CHOICES.replace("metric: {name: loss, goal: minimize}\n", "")
    if not lines.startswith("metric"):  # else the case gives its own
        text = "metric: {name: loss, goal: minimize}\n" + text
    assert fragment in error(tmp_path, text + lines + "\n")


def test_repeats_need_a_declared_space():
    with pytest.raises(ConfigError, match="budget.repeats: needs a declared space"):
        parse_config({"experiment": "e", "objective": "m:f", "budget": {"repeats": 2},
                      "metric": {"name": "loss", "goal": "minimize"}})
