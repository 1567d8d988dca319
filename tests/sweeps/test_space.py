"""sweeps.space: parameter specs, validation, optuna distributions, suggest, grid."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from sweeps.errors import ConfigError
from sweeps.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    Space,
    to_distribution,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {
    "n_estimators": {"type": "int", "low": 10, "high": 300, "log": True},
    "max_depth": {"type": "int", "low": 2, "high": 32, "step": 2},
    "criterion": ["gini", "entropy", "log_loss"],
    "max_features": {"type": "float", "low": 0.1, "high": 1.0},
    "random_state": 42,
    "kernel": {"type": "categorical", "choices": ["linear", "rbf"]},
    "gamma": {"type": "float", "low": 1e-4, "high": 1.0, "log": True,
              "when": {"kernel": "rbf"}},
}


def space_error(data) -> str:
    with pytest.raises(ConfigError) as info:
        Space.from_mapping(data, source="s.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("s.yaml: ")
    return message


def run_study(space: Space, sampler: optuna.samplers.BaseSampler, n_trials: int) -> list[dict]:
    seen: list[dict] = []

    def objective(trial: optuna.Trial) -> float:
        seen.append(space.suggest(trial))
        return 0.0

    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return seen


# -- parsing ----------------------------------------------------------------------------------


def test_from_mapping_builds_params_in_order():
    space = Space.from_mapping(SPACE, source="s.yaml")
    assert space.names == tuple(SPACE)
    assert space.params[0] == IntParam("n_estimators", 10, 300, log=True)
    assert space["max_features"] == FloatParam("max_features", 0.1, 1.0)
    assert space["criterion"] == CategoricalParam("criterion", ("gini", "entropy", "log_loss"))
    assert space["random_state"] == FixedParam("random_state", 42)
    assert space.fixed == {"random_state": 42}
    assert space.conditional == ("gamma",)
    assert "gamma" in space and "nope" not in space and len(space) == 7


def test_when_lists_mean_any_of():
    space = Space.from_mapping(
        {"k": ["a", "b", "c"], "n": {"type": "int", "low": 1, "high": 5},
         "g": {"type": "float", "low": 0, "high": 1, "when": {"k": ["a", "b"], "n": 3}}},
        source="s.yaml")
    assert dict(space["g"].when) == {"k": ("a", "b"), "n": (3,)}


def test_fixed_values_of_every_scalar_type():
    space = Space.from_mapping({"a": None, "b": True, "c": 1.5, "d": "x", "e": 0}, source="s")
    assert space.fixed == {"a": None, "b": True, "c": 1.5, "d": "x", "e": 0}
    assert space.distributions() == {}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "s.yaml: space: needs at least one parameter"),
        (None, "s.yaml: space: needs at least one parameter"),
        ([1, 2], "space: must be a mapping of parameter name to spec"),
        ({"lr": {"type": "float", "low": 1, "high": 0.5}},
         "space.lr.high: must be >= low 1 (got 0.5)"),
        ({"n": {"type": "int", "low": 5, "high": 1}}, "space.n.high: must be >= low 5 (got 1)"),
        ({"lr": {"type": "float", "low": 0, "high": 1, "log": True}},
         "space.lr.low: must be > 0 when log: true (got 0)"),
        ({"lr": {"type": "float", "low": -1.0, "high": 1, "log": True}},
         "space.lr.low: must be > 0 when log: true (got -1.0)"),
        ({"n": {"type": "int", "low": 0, "high": 10, "log": True}},
         "space.n.low: must be > 0 when log: true (got 0)"),
        ({"lr": {"type": "float", "low": 0.1, "high": 1, "log": True, "step": 0.1}},
         "space.lr.step: cannot be combined with log: true (got 0.1)"),
        ({"n": {"type": "int", "low": 1, "high": 9, "log": True, "step": 2}},
         "space.n.step: cannot be combined with log: true"),
        ({"n": {"type": "int", "low": 1, "high": 10, "step": 0}}, "space.n.step: must be >= 1"),
        ({"n": {"type": "int", "low": 1, "high": 10, "step": 1.5}},
         "space.n.step: must be an integer (got 1.5)"),
        ({"x": {"type": "float", "low": 0, "high": 1, "step": -0.1}},
         "space.x.step: must be > 0 (got -0.1)"),
        ({"n": {"type": "int", "low": 1, "high": 10, "step": 2}},
         "space.n.high: high - low must be a multiple of step 2 (got 10)"),
        ({"x": {"type": "float", "low": 0, "high": 1, "step": 0.3}},
         "space.x.high: high - low must be a multiple of step 0.3 (got 1)"),
        ({"x": {"type": "float", "low": float("-inf"), "high": 1}},
         "space.x.low: must be finite (got -inf)"),
        ({"x": {"type": "float", "low": float("nan"), "high": 1}},
         "space.x.low: must be finite (got nan)"),
        ({"x": {"type": "float", "low": True, "high": 1}},
         "space.x.low: must be a number (got True)"),
        ({"x": {"type": "float", "low": "0", "high": 1}},
         "space.x.low: must be a number (got '0')"),
        ({"n": {"type": "int", "low": 1.0, "high": 4}},
         "space.n.low: must be an integer (got 1.0)"),
        ({"n": {"type": "int", "low": 1, "high": 2**70}}, "space.n.high: must fit in 64 bits"),
        ({"x": {"type": "float", "low": 0, "high": 10**400}}, "space.x.high: must be finite"),
        ({"x": {"type": "float", "high": 1}}, "space.x.low: required"),
        ({"x": {"type": "float", "low": 0, "high": 1, "log": "yes"}},
         "space.x.log: must be true or false (got 'yes')"),
        ({"x": {"low": 0, "high": 1}}, "space.x.type: required; one of categorical, float, int"),
        ({"x": {"type": "uniform", "low": 0, "high": 1}},
         "space.x.type: unknown parameter type; valid: categorical, float, int (got 'uniform')"),
        ({"x": {"type": "float", "low": 0, "hihg": 1}},
         "space.x.hihg: unknown key; did you mean 'high'?"),
        ({"c": {"type": "categorical", "choices": [1], "low": 0}},
         "space.c.low: unknown key; valid keys: type, choices, when"),
        ({"c": []}, "space.c: needs at least one choice (got [])"),
        ({"c": {"type": "categorical", "choices": []}}, "space.c.choices: needs at least one"),
        ({"c": {"type": "categorical"}}, "space.c.choices: required"),
        ({"c": {"type": "categorical", "choices": "ab"}}, "space.c.choices: must be a list"),
        ({"c": ["a", "b", "a"]}, "space.c: duplicate choice (got 'a')"),
        ({"c": [1, True]}, "space.c: duplicate choice (got True)"),
        ({"c": [1, [2]]}, "space.c: choices must be null, bool, int, float or str (got [2])"),
        ({"c": [{"a": 1}]}, "space.c: choices must be null, bool, int, float or str"),
        ({"c": [1.0, float("nan")]}, "space.c: choices must be finite (got nan)"),
        ({"f": float("inf")}, "space.f: a fixed value must be finite (got inf)"),
        ({"f": {1, 2}}, "space.f: must be a scalar, a list of choices or a mapping"),
        ({"1x": [1, 2]}, "space.1x: parameter names must match"),
        ({"": [1, 2]}, "space.: parameter names must match"),
        ({"a b": [1, 2]}, "space.a b: parameter names must match"),
    ],
)
def test_validation_errors(data, fragment):
    assert fragment in space_error(data)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"when": {"kernal": "rbf"}}, "space.g.when.kernal: unknown parameter; did you mean "
                                      "'kernel'?"),
        ({"when": {"g": 1}}, "space.g.when.g: a parameter cannot depend on itself"),
        ({"when": {"seed": 1}}, "space.g.when.seed: must refer to a sampled categorical or int "
                                "parameter, and 'seed' is fixed"),
        ({"when": {"lr": 0.1}}, "space.g.when.lr: must refer to a sampled categorical or int "
                                "parameter, and 'lr' is float"),
        ({"when": {"kernel": "poly"}},
         "space.g.when.kernel: not one of kernel's choices ['linear', 'rbf'] (got 'poly')"),
        ({"when": {"kernel": ["rbf", "poly"]}}, "space.g.when.kernel: not one of"),
        ({"when": {"n": 4}}, "space.g.when.n: not a value n can take (got 4)"),
        ({"when": {"n": 13}}, "space.g.when.n: not a value n can take (got 13)"),
        ({"when": {"n": "3"}}, "space.g.when.n: not a value n can take (got '3')"),
        ({"when": {"kernel": []}}, "space.g.when.kernel: needs at least one value"),
        ({"when": {}}, "space.g.when: must be a non-empty mapping"),
        ({"when": "kernel=rbf"}, "space.g.when: must be a non-empty mapping"),
        ({"when": {"kernel": [["rbf"]]}}, "space.g.when.kernel: values must be scalars"),
    ],
)
def test_when_errors(extra, fragment):
    data = {
        "kernel": ["linear", "rbf"],
        "n": {"type": "int", "low": 1, "high": 11, "step": 2},
        "lr": {"type": "float", "low": 0.1, "high": 1},
        "seed": 3,
        "g": {"type": "float", "low": 0, "high": 1, **extra},
    }
    assert fragment in space_error(data)


def test_cyclic_when_is_refused():
    data = {
        "a": {"type": "categorical", "choices": [1, 2], "when": {"c": "x"}},
        "b": {"type": "categorical", "choices": [1, 2], "when": {"a": 1}},
        "c": {"type": "categorical", "choices": ["x", "y"], "when": {"b": 2}},
    }
    assert "space.a.when: cyclic dependency a -> c -> b -> a" in space_error(data)


# -- distributions ----------------------------------------------------------------------------


def test_distributions_match_the_specs():
    dists = Space.from_mapping(SPACE, source="s").distributions()
    assert list(dists) == ["n_estimators", "max_depth", "criterion", "max_features", "kernel",
                           "gamma"]  # fixed params have none
    assert dists["n_estimators"] == IntDistribution(10, 300, log=True)
    assert dists["max_depth"] == IntDistribution(2, 32, step=2)
    assert dists["criterion"] == CategoricalDistribution(["gini", "entropy", "log_loss"])
    assert dists["max_features"] == FloatDistribution(0.1, 1.0)
    assert dists["gamma"] == FloatDistribution(1e-4, 1.0, log=True)
    assert to_distribution(FloatParam("s", 0.0, 1.0, step=0.25)) == \
        FloatDistribution(0.0, 1.0, step=0.25)
    with pytest.raises(TypeError):
        to_distribution(FixedParam("f", 1))


# -- suggest ----------------------------------------------------------------------------------


def test_suggest_gives_conditional_params_only_when_their_condition_holds():
    space = Space.from_mapping(SPACE, source="s")
    seen = run_study(space, optuna.samplers.RandomSampler(seed=0), 50)
    kernels = {params["kernel"] for params in seen}
    assert kernels == {"linear", "rbf"}  # both branches were exercised
    for params in seen:
        assert ("gamma" in params) == (params["kernel"] == "rbf")
        assert params["random_state"] == 42
        order = [name for name in space.names if name in params]
        assert list(params) == order  # declared order
        assert 10 <= params["n_estimators"] <= 300
        assert params["max_depth"] % 2 == 0
        if "gamma" in params:
            assert 1e-4 <= params["gamma"] <= 1.0


def test_suggest_orders_dependencies_declared_later():
    space = Space.from_mapping(
        {"g": {"type": "float", "low": 0, "high": 1, "when": {"k": "on"}},
         "h": {"type": "int", "low": 0, "high": 3, "when": {"g2": [1, 2]}},
         "g2": {"type": "int", "low": 0, "high": 3, "when": {"k": "on"}},
         "k": ["on", "off"]},
        source="s")
    seen = run_study(space, optuna.samplers.RandomSampler(seed=1), 60)
    assert any("h" in params for params in seen)
    for params in seen:
        assert ("g" in params) == (params["k"] == "on")
        assert ("h" in params) == (params.get("g2") in (1, 2))
        assert list(params) == [n for n in ("g", "h", "g2", "k") if n in params]


# -- grid -------------------------------------------------------------------------------------


def test_grid_and_grid_size():
    space = Space.from_mapping(
        {"c": ["a", "b", "c"], "n": {"type": "int", "low": 2, "high": 8, "step": 2},
         "x": {"type": "float", "low": 0.0, "high": 0.3, "step": 0.1}, "seed": 7},
        source="s")
    assert space.grid() == {"c": ["a", "b", "c"], "n": [2, 4, 6, 8], "x": [0.0, 0.1, 0.2, 0.3]}
    assert space.grid_size() == 3 * 4 * 4


def test_grid_size_is_none_for_continuous_space():
    space = Space.from_mapping({"x": {"type": "float", "low": 0, "high": 1}}, source="s")
    assert space.grid_size() is None
    with pytest.raises(ValueError, match="no finite grid"):
        space.grid()


def test_grid_sampler_enumerates_every_point_once():
    space = Space.from_mapping(
        {"c": ["a", "b", "c"], "n": {"type": "int", "low": 1, "high": 4, "log": True},
         "x": {"type": "float", "low": 0.5, "high": 1.5, "step": 0.5}, "seed": 7},
        source="s")
    size = space.grid_size()
    assert size == 3 * 4 * 3
    seen = run_study(space, optuna.samplers.GridSampler(space.grid(), seed=0), size)
    combos = {(p["c"], p["n"], p["x"]) for p in seen}
    assert len(combos) == size
    assert all(p["seed"] == 7 for p in seen)


# -- describe and round trip ------------------------------------------------------------------


def test_describe_rows():
    rows = Space.from_mapping(SPACE, source="s").describe()
    assert rows == [
        ("n_estimators", "int", "[10, 300] log"),
        ("max_depth", "int", "[2, 32] step 2"),
        ("criterion", "categorical", "'gini', 'entropy', 'log_loss'"),
        ("max_features", "float", "[0.1, 1]"),
        ("random_state", "fixed", "42"),
        ("kernel", "categorical", "'linear', 'rbf'"),
        ("gamma", "float", "[0.0001, 1] log, when kernel=rbf"),
    ]


def test_to_dict_reads_back():
    space = Space.from_mapping(SPACE, source="s")
    assert Space.from_mapping(space.to_dict(), source="s") == space
