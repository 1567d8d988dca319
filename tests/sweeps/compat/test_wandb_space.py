"""Every W&B distribution's samples against its definition (wandb/sweeps params.py)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from scipy import stats

from sweeps.compat.wandb_space import WandbParam
from sweeps.space import Space

from .conftest import draws


def ks(values: list[float], cdf) -> float:
    return stats.kstest(values, cdf).pvalue


def test_int_uniform_is_inclusive_at_both_ends():
    values = draws({"min": 1, "max": 3}, 600)
    assert set(values) == {1, 2, 3} and all(type(v) is int for v in values)


def test_uniform_spans_min_to_max():
    values = draws({"min": 0, "max": 2.5})
    assert 0 <= min(values) < 0.01 and 2.49 < max(values) <= 2.5
    assert ks(values, stats.uniform(0, 2.5).cdf) > 0.01


def test_q_uniform_rounds_to_multiples_of_q_and_ends_carry_half_weight():
    values = draws({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2})
    assert set(values) == {0, 2, 4, 6, 8, 10} and all(type(v) is int for v in values)
    counts = Counter(values)
    # round(U(0, 10) / 2) * 2: the inner points get 1/5 each, the ends 1/10
    assert 0.07 < counts[0] / len(values) < 0.13 and 0.17 < counts[4] / len(values) < 0.23


def test_q_uniform_with_a_float_q_gives_floats():
    values = draws({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25}, 500)
    assert set(values) == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert all(type(v) is float for v in values)


def test_log_uniform_bounds_are_natural_log_exponents():
    values = draws({"distribution": "log_uniform", "min": 0, "max": 2}, expect_warning=True)
    assert 1 <= min(values) < 1.01 and math.e ** 2 * 0.99 < max(values) <= math.e ** 2
    assert ks([math.log(v) for v in values], stats.uniform(0, 2).cdf) > 0.01


@pytest.mark.parametrize("kind", ["log_uniform_values", "inv_log_uniform_values"])
def test_log_uniform_values_take_the_values(kind):
    values = draws({"distribution": kind, "min": 0.001, "max": 1})
    assert 0.001 <= min(values) and max(values) <= 1
    assert ks([math.log(v) for v in values], stats.uniform(math.log(0.001),
                                                           -math.log(0.001)).cdf) > 0.01


def test_inv_log_uniform_is_exp_of_minus_uniform():
    values = draws({"distribution": "inv_log_uniform", "min": 1, "max": 3}, expect_warning=True)
    assert math.exp(-3) <= min(values) and max(values) <= math.exp(-1)
    assert ks([-math.log(v) for v in values], stats.uniform(1, 2).cdf) > 0.01


def test_q_log_uniform_values_rounds_a_log_uniform_value():
    values = draws({"distribution": "q_log_uniform_values", "min": 1, "max": 100, "q": 1})
    assert all(type(v) is int and 1 <= v <= 100 for v in values)
    assert Counter(values)[1] > Counter(values)[50] * 5  # log scale: small values are common


def test_q_log_uniform_v1_rounds_exp_of_the_exponents():
    values = draws({"distribution": "q_log_uniform", "min": 0, "max": math.log(50), "q": 5},
                   expect_warning=True)
    assert set(values) <= set(range(0, 55, 5)) and all(type(v) is int for v in values)


def test_normal_is_unbounded_n_mu_sigma():
    values = draws({"distribution": "normal", "mu": 1, "sigma": 2})
    assert ks(values, stats.norm(1, 2).cdf) > 0.01


def test_normal_defaults_are_mu_0_sigma_1():
    assert ks(draws({"distribution": "normal"}), stats.norm(0, 1).cdf) > 0.01


def test_q_normal_rounds():
    values = draws({"distribution": "q_normal", "mu": 0, "sigma": 3, "q": 0.5}, 1000)
    assert all(v / 0.5 == round(v / 0.5) for v in values)


def test_log_normal_is_exp_of_a_normal():
    values = draws({"distribution": "log_normal", "mu": 0.5, "sigma": 0.3})
    assert ks(values, stats.lognorm(s=0.3, scale=math.exp(0.5)).cdf) > 0.01


def test_q_log_normal_rounds_with_an_int_q():
    values = draws({"distribution": "q_log_normal", "mu": 2, "sigma": 0.5, "q": 1}, 500)
    assert all(type(v) is int and v >= 0 for v in values)


def test_beta_and_q_beta():
    values = draws({"distribution": "beta", "a": 2, "b": 5}, 1000)
    assert ks(values, stats.beta(2, 5).cdf) > 0.01
    rounded = draws({"distribution": "q_beta", "a": 2, "b": 5, "q": 0.1}, 200)
    assert {round(v, 9) for v in rounded} <= {round(0.1 * k, 9) for k in range(11)}


def test_weighted_choices_follow_their_probabilities():
    values = draws({"values": ["a", "b", "c"], "probabilities": [0.1, 0.6, 0.3]})
    counts = Counter(values)
    assert abs(counts["b"] / len(values) - 0.6) < 0.03
    assert abs(counts["a"] / len(values) - 0.1) < 0.02


def test_categorical_is_uniform_and_may_hold_lists_dicts_and_repeats():
    values = draws({"values": [[1, 2], {"lr": 0.1}, "x", "x"]}, 2000)
    counts = Counter(map(repr, values))
    assert set(counts) == {"[1, 2]", "{'lr': 0.1}", "'x'"}
    assert 0.45 < counts["'x'"] / 2000 < 0.55  # a repeated value counts twice, as in W&B


def test_constant_and_a_plain_categorical_need_no_latent():
    assert set(draws({"value": 3}, 10)) == {3}
    assert set(draws({"values": [True, None, "s"]}, 300)) == {True, None, "s"}


def test_a_latent_param_records_its_latent_and_round_trips_through_config():
    space = Space.from_mapping({"x": {"type": "wandb", "distribution": "normal", "mu": 0,
                                      "sigma": 1}})
    (param,) = space.params
    assert isinstance(param, WandbParam) and param.value(0.5) == 0.0
    import optuna
    trial = optuna.create_study().ask()
    values = space.suggest(trial)
    assert set(values) == {"x", "x~u"} and trial.params == {"x~u": values["x~u"]}
    assert Space.from_mapping(space.to_dict()) == space


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "wandb", "distribution": "gamma"}, "space.x.distribution: unknown W&B"),
    ({"type": "wandb", "distribution": "beta", "a": 0}, "space.x.a: must be > 0"),
    ({"type": "wandb", "distribution": "q_uniform", "min": 1, "max": 1},
     "space.x.max: must be > min 1"),
    ({"type": "wandb", "distribution": "normal", "q": 1}, "space.x.q: unknown key"),
])
def test_config_form_errors_name_the_field(spec, message):
    from sweeps.errors import ConfigError
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        Space.from_mapping({"x": spec})
