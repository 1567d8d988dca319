"""sweeps.search: sampler and pruner registries and builders."""

from __future__ import annotations

import importlib.util

import optuna
import pytest

from sweeps.compat.hyperband import WandbHyperbandPruner
from sweeps.compat.wandb_grid import WandbGridSampler
from sweeps.config import PrunerSpec, SamplerSpec
from sweeps.errors import ConfigError
from sweeps.search import (
    PRUNERS,
    SAMPLERS,
    build_pruner,
    build_sampler,
    missing_requirement,
    pruner_options,
    sampler_options,
)
from sweeps.space import Space

optuna.logging.set_verbosity(optuna.logging.WARNING)

HAS_TORCH = importlib.util.find_spec("torch") is not None

SPACE = Space.from_mapping(
    {"x": {"type": "float", "low": -2.0, "high": 2.0, "step": 0.5},
     "n": {"type": "int", "low": 1, "high": 3},
     "c": ["a", "b"],
     "seed": 0},
    source="s",
)


def params_of(sampler: optuna.samplers.BaseSampler, n_trials: int = 12) -> list[dict]:
    def objective(trial: optuna.Trial) -> float:
        params = SPACE.suggest(trial)
        return params["x"] ** 2 + params["n"]

    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return [t.params for t in study.trials]


def test_registries_name_the_optuna_classes():
    assert SAMPLERS == {
        "random": optuna.samplers.RandomSampler, "grid": optuna.samplers.GridSampler,
        "tpe": optuna.samplers.TPESampler, "cmaes": optuna.samplers.CmaEsSampler,
        "qmc": optuna.samplers.QMCSampler, "gp": optuna.samplers.GPSampler,
        "nsga2": optuna.samplers.NSGAIISampler, "wandb_grid": WandbGridSampler,
    }
    assert PRUNERS == {
        "none": optuna.pruners.NopPruner, "median": optuna.pruners.MedianPruner,
        "percentile": optuna.pruners.PercentilePruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "wandb_hyperband": WandbHyperbandPruner,
    }


@pytest.mark.parametrize("kind", ["random", "grid", "tpe", "qmc", "nsga2", "wandb_grid"])
def test_samplers_build_and_run(kind):
    sampler = build_sampler(SamplerSpec(kind, 3), SPACE)  # no warning escapes (warnings=error)
    assert isinstance(sampler, SAMPLERS[kind])
    assert len(params_of(sampler, 5)) == 5


def test_grid_sampler_gets_the_space_grid():
    sampler = build_sampler(SamplerSpec("grid", 0), SPACE)
    seen = params_of(sampler, SPACE.grid_size())
    assert len({tuple(sorted(p.items())) for p in seen}) == SPACE.grid_size() == 9 * 3 * 2


def test_cmaes_builds():  # cmaes is a core dependency
    sampler = build_sampler(SamplerSpec("cmaes", 0, {"n_startup_trials": 2}), SPACE)
    assert isinstance(sampler, optuna.samplers.CmaEsSampler)


def test_gp_builds_or_explains_missing_torch():
    spec = SamplerSpec("gp", 0)
    if HAS_TORCH:
        assert isinstance(build_sampler(spec, SPACE), optuna.samplers.GPSampler)
        assert missing_requirement("gp") is None
        return
    with pytest.raises(ConfigError) as info:
        build_sampler(spec, SPACE)
    assert str(info.value) == "<config>: sampler.type: gp needs PyTorch; pip install torch"
    assert missing_requirement("gp") == "gp needs PyTorch; pip install torch"


def test_sampler_options_are_passed():
    sampler = build_sampler(SamplerSpec("tpe", 0, {"n_startup_trials": 3}), SPACE)
    assert sampler._n_startup_trials == 3
    sampler = build_sampler(SamplerSpec("nsga2", 0, {"population_size": 8}), SPACE)
    assert sampler._population_size == 8


def test_experimental_options_do_not_warn():
    sampler = build_sampler(SamplerSpec("tpe", 0, {"multivariate": True, "group": True}), SPACE)
    assert isinstance(sampler, optuna.samplers.TPESampler)


@pytest.mark.parametrize("kind", ["random", "tpe", "qmc", "nsga2"])
def test_same_seed_same_sequence(kind):
    first = params_of(build_sampler(SamplerSpec(kind, 42), SPACE))
    second = params_of(build_sampler(SamplerSpec(kind, 42), SPACE))
    other = params_of(build_sampler(SamplerSpec(kind, 43), SPACE))
    assert first == second
    assert first != other


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        (PrunerSpec("none"), optuna.pruners.NopPruner),
        (PrunerSpec("median", {"warmup_steps": 3}), optuna.pruners.MedianPruner),
        (PrunerSpec("percentile", {"percentile": 25.0}), optuna.pruners.PercentilePruner),
        (PrunerSpec("successive_halving", {"reduction_factor": 3}),
         optuna.pruners.SuccessiveHalvingPruner),
        (PrunerSpec("hyperband", {"max_resource": 27}), optuna.pruners.HyperbandPruner),
    ],
)
def test_every_pruner_builds(spec, cls):
    assert type(build_pruner(spec)) is cls


def test_warmup_steps_alias():
    assert build_pruner(PrunerSpec("median", {"warmup_steps": 3}))._n_warmup_steps == 3
    pruner = build_pruner(PrunerSpec("percentile", {"percentile": 10.0, "warmup_steps": 2}))
    assert pruner._n_warmup_steps == 2


def test_median_pruner_prunes_a_bad_trial():
    pruner = build_pruner(PrunerSpec("median", {"n_startup_trials": 2}))
    study = optuna.create_study(pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        value = 10.0 if trial.number >= 2 else float(trial.number)
        trial.report(value, step=0)
        if trial.should_prune():
            raise optuna.TrialPruned()
        return value

    study.optimize(objective, n_trials=3)
    assert study.trials[2].state == optuna.trial.TrialState.PRUNED


def test_unknown_types_list_valid_ones():
    with pytest.raises(ConfigError, match="unknown sampler; valid: cmaes, gp, grid"):
        build_sampler(SamplerSpec("bayes"), SPACE)
    with pytest.raises(ConfigError, match="unknown pruner; valid: hyperband, median, none"):
        build_pruner(PrunerSpec("asha"))


def test_option_introspection():
    tpe = sampler_options("tpe")
    assert "seed" not in tpe and tpe["gamma"] is None  # a callable: not settable
    assert tpe["n_startup_trials"].accepts(5) and not tpe["n_startup_trials"].accepts(True)
    assert "search_space" not in sampler_options("grid")
    assert pruner_options("percentile")["percentile"].required
    assert pruner_options("none") == {}
