"""Samplers and pruners: name → optuna class registries, and builders from config specs.

    sampler = build_sampler(config.sampler, config.space)   # e.g. TPESampler(seed=0)
    pruner = build_pruner(config.pruner)                     # e.g. MedianPruner(n_warmup_steps=3)

Options a config gives beyond ``type`` (and ``seed``) are keyword arguments of the optuna
class; `sampler_options` / `pruner_options` say which ones a config may set (those whose
values YAML can express). ``warmup_steps`` is accepted as an alias of ``n_warmup_steps`` for
the median and percentile pruners.
"""

from __future__ import annotations

import importlib.util
import inspect
import warnings
from typing import TYPE_CHECKING, Any

import optuna
from optuna.pruners import (
    BasePruner,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
)
from optuna.samplers import (
    BaseSampler,
    CmaEsSampler,
    GPSampler,
    GridSampler,
    NSGAIISampler,
    QMCSampler,
    RandomSampler,
    TPESampler,
)

from sweeps.compat.hyperband import WandbHyperbandPruner
from sweeps.compat.wandb_grid import WandbGridSampler
from sweeps.errors import ConfigError
from sweeps.space import thaw

if TYPE_CHECKING:
    from sweeps.config import PrunerSpec, SamplerSpec
    from sweeps.space import Space

SAMPLERS: dict[str, type[BaseSampler]] = {
    "random": RandomSampler,
    "grid": GridSampler,
    "wandb_grid": WandbGridSampler,  # W&B's grid: its order, no combination twice
    "tpe": TPESampler,
    "cmaes": CmaEsSampler,
    "qmc": QMCSampler,
    "gp": GPSampler,
    "nsga2": NSGAIISampler,
}

PRUNERS: dict[str, type[BasePruner]] = {
    "none": NopPruner,
    "median": MedianPruner,
    "percentile": PercentilePruner,
    "successive_halving": SuccessiveHalvingPruner,
    "hyperband": HyperbandPruner,
    "wandb_hyperband": WandbHyperbandPruner,  # W&B's early_terminate: hyperband, exactly
}

#: Samplers that refuse a study with more than one objective (checked in optuna 5.0).
SINGLE_OBJECTIVE_SAMPLERS = frozenset({"cmaes"})

#: Config option aliases per pruner: alias → optuna keyword.
PRUNER_ALIASES: dict[str, dict[str, str]] = {
    "median": {"warmup_steps": "n_warmup_steps"},
    "percentile": {"warmup_steps": "n_warmup_steps"},
}

# sampler → (module to find, what it is, pip package)
_REQUIREMENTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "gp": (("torch", "PyTorch", "torch"), ("scipy", "SciPy", "scipy")),
    "cmaes": (("cmaes", "the cmaes package", "cmaes"),),
}
_RESERVED = frozenset({"seed", "search_space"})  # set by the builder, never an option
_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "None": (type(None),),
    "dict[str, Any]": (dict,),
}


def missing_requirement(sampler_type: str) -> str | None:
    """Why `sampler_type` cannot run here (a package it needs is not installed), or None."""
    for module, what, package in _REQUIREMENTS.get(sampler_type, ()):
        if importlib.util.find_spec(module) is None:
            return f"{sampler_type} needs {what}; pip install {package}"
    return None


class Option:
    """One keyword a config may set: its name, accepted types (None: any) and if required."""

    def __init__(self, name: str, types: tuple[type, ...] | None, required: bool) -> None:
        self.name, self.types, self.required = name, types, required

    def accepts(self, value: Any) -> bool:
        if self.types is None:
            return True
        if isinstance(value, bool) and bool not in self.types:
            return False
        return isinstance(value, self.types)

    def type_names(self) -> str:
        names = sorted({t.__name__.replace("NoneType", "null") for t in self.types or ()})
        return " or ".join(names)


def sampler_options(sampler_type: str) -> dict[str, Option | None]:
    """Keywords of the sampler class; None marks one a config cannot set (a Python object)."""
    return _options(SAMPLERS[sampler_type])


def pruner_options(pruner_type: str) -> dict[str, Option | None]:
    """Keywords of the pruner class; None marks one a config cannot set (a Python object)."""
    return _options(PRUNERS[pruner_type])


def _options(cls: type) -> dict[str, Option | None]:
    out: dict[str, Option | None] = {}
    for name, param in inspect.signature(cls).parameters.items():
        if name in _RESERVED or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        required = param.default is param.empty
        if param.annotation is param.empty:
            out[name] = Option(name, None, required)
            continue
        annotation = param.annotation
        text = annotation if isinstance(annotation, str) else annotation.__name__
        parts = [part.strip() for part in text.split("|")]
        if all(part in _PLAIN_TYPES for part in parts):
            types = tuple(t for part in parts for t in _PLAIN_TYPES[part])
            out[name] = Option(name, types, required)
        else:
            out[name] = None
    return out


def pruner_kwargs(spec: PrunerSpec) -> dict[str, Any]:
    """The pruner's keyword arguments: its options with aliases resolved."""
    aliases = PRUNER_ALIASES.get(spec.type, {})
    return {aliases.get(key, key): thaw(value) for key, value in spec.options.items()}


def build_sampler(spec: SamplerSpec, space: Space, *, source: str = "<config>") -> BaseSampler:
    """An optuna sampler for `spec`; grid gets ``search_space=space.grid()``, wandb_grid
    the space.

    Raises ConfigError (``sampler.type: gp needs PyTorch; pip install torch``) when a
    package the sampler needs is missing. Optuna's ExperimentalWarning is silenced here.

        build_sampler(SamplerSpec("random", 0, {}), space)   # RandomSampler(seed=0)
    """
    cls = SAMPLERS.get(spec.type)
    if cls is None:
        raise ConfigError(f"unknown sampler; valid: {', '.join(sorted(SAMPLERS))}",
                          path="sampler.type", source=source, value=spec.type)
    problem = missing_requirement(spec.type)
    if problem:
        raise ConfigError(problem, path="sampler.type", source=source)
    kwargs = {key: thaw(value) for key, value in spec.options.items()}
    if spec.type == "grid":
        kwargs["search_space"] = space.grid()
    elif spec.type == "wandb_grid":
        kwargs["search_space"] = space
    kwargs["seed"] = spec.seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(**kwargs)


def build_pruner(spec: PrunerSpec) -> BasePruner:
    """An optuna pruner for `spec` (``warmup_steps`` → ``n_warmup_steps`` for median and
    percentile).

        build_pruner(PrunerSpec("median", {"warmup_steps": 3}))  # MedianPruner(n_warmup_steps=3)
    """
    cls = PRUNERS.get(spec.type)
    if cls is None:
        raise ConfigError(f"unknown pruner; valid: {', '.join(sorted(PRUNERS))}",
                          path="pruner.type", source="<config>", value=spec.type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(**pruner_kwargs(spec))
