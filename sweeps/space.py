"""The search space: a small closed vocabulary of parameters, converted to optuna.

Four kinds of parameter, all frozen dataclasses: `FloatParam` and `IntParam` (inclusive
bounds, optional ``log`` or ``step``), `CategoricalParam` (a tuple of scalar choices) and
`FixedParam` (a constant passed to every trial); and ``type: wandb``, a W&B distribution
optuna lacks, sampled as a latent uniform (`sweeps.compat.wandb_space.WandbParam`). A
sampled parameter may carry ``when``, a mapping ``{other_param: (allowed values...)}``: it
is sampled only in trials where every named parameter took one of the allowed values.

    space = Space.from_mapping({"kernel": ["linear", "rbf"],
                                "gamma": {"type": "float", "low": 1e-4, "high": 1.0,
                                          "log": True, "when": {"kernel": "rbf"}}},
                               source="<dict>")
    params = space.suggest(trial)      # {"kernel": "rbf", "gamma": 0.003} or {"kernel": "linear"}

`to_distribution` is the one place a parameter becomes an optuna distribution.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sweeps.compat.wandb_space import WandbParam, parse_param
from sweeps.errors import ConfigError

Scalar = None | bool | int | float | str
When = Mapping[str, tuple]

PARAM_TYPES = ("categorical", "float", "int")  # and "wandb", written by sweeps.compat
MAX_GRID_SIZE = 100_000
_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_NUMERIC_KEYS = ("type", "low", "high", "log", "step", "when")
_CATEGORICAL_KEYS = ("type", "choices", "when")


@dataclass(frozen=True)
class FloatParam:
    """A float in ``[low, high]``; ``log`` samples on a log scale, ``step`` discretizes."""

    name: str
    low: float
    high: float
    log: bool = False
    step: float | None = None
    when: When | None = None


@dataclass(frozen=True)
class IntParam:
    """An integer in ``[low, high]``; ``step`` None means 1."""

    name: str
    low: int
    high: int
    log: bool = False
    step: int | None = None
    when: When | None = None


@dataclass(frozen=True)
class CategoricalParam:
    """One of ``choices`` (None, bool, int, float or str values)."""

    name: str
    choices: tuple
    when: When | None = None


@dataclass(frozen=True)
class FixedParam:
    """A constant given to every trial; never sampled."""

    name: str
    value: Scalar


Param = FloatParam | IntParam | CategoricalParam | FixedParam | WandbParam


def to_distribution(param: Param) -> BaseDistribution:
    """The optuna distribution of a sampled parameter (the only place this mapping lives)."""
    if isinstance(param, FloatParam):
        return FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    if isinstance(param, IntParam):
        return IntDistribution(param.low, param.high, log=param.log, step=param.step or 1)
    if isinstance(param, CategoricalParam):
        return CategoricalDistribution(param.choices)
    if isinstance(param, WandbParam):
        return param.latent_distribution()
    raise TypeError(f"{param.name}: a {type(param).__name__} has no distribution")


def freeze(value: Any) -> Any:
    """Plain data made immutable: mappings → MappingProxyType, lists → tuples (recursively)."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of `freeze`: mappings → dict, tuples/lists → list (recursively)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


@dataclass(frozen=True)
class Space:
    """The ordered parameters of a sweep (declared order is kept everywhere)."""

    params: tuple[Param, ...]
    _by_name: Mapping[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({p.name: p for p in self.params}))

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, source: str = "<dict>") -> Space:
        """Validate the ``space:`` section of a config; errors use ``space.<name>.<field>``."""
        if data is None or (isinstance(data, Mapping) and not data):
            raise ConfigError("needs at least one parameter", path="space", source=source)
        if not isinstance(data, Mapping):
            raise ConfigError(
                "must be a mapping of parameter name to spec", path="space", source=source,
                value=data,
            )
        params = []
        for name, spec in data.items():
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ConfigError(
                    "parameter names must match [A-Za-z_][A-Za-z0-9_.-]*",
                    path=f"space.{name}", source=source, value=name,
                )
            params.append(_parse_param(name, spec, source))
        space = cls(tuple(params))
        space._check_conditions(source)
        return space

    def _check_conditions(self, source: str) -> None:
        for param in self.params:
            for other, allowed in (getattr(param, "when", None) or {}).items():
                path = f"space.{param.name}.when.{other}"
                if other == param.name:
                    raise ConfigError("a parameter cannot depend on itself", path=path,
                                      source=source)
                target = self._by_name.get(other)
                if target is None:
                    raise ConfigError(
                        "unknown parameter" + _did_you_mean(other, self.names), path=path,
                        source=source,
                    )
                if not isinstance(target, (CategoricalParam, IntParam)):
                    kind = "fixed" if isinstance(target, FixedParam) else "float"
                    raise ConfigError(
                        f"must refer to a sampled categorical or int parameter, "
                        f"and {other!r} is {kind}", path=path, source=source,
                    )
                for value in allowed:
                    _check_when_value(target, value, path, source)
        _find_cycles(self, source)

    # -- queries ------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Every parameter name, in declared order."""
        return tuple(self._by_name)

    @property
    def fixed(self) -> dict[str, Scalar]:
        """The fixed parameters' values."""
        return {p.name: p.value for p in self.params if isinstance(p, FixedParam)}

    @property
    def conditional(self) -> tuple[str, ...]:
        """Names of the parameters that carry a ``when``."""
        return tuple(p.name for p in self.params if getattr(p, "when", None))

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna distributions of the sampled (non-fixed) parameters, in declared order,
        under their optuna names (a W&B parameter's latent is ``<name>~u``)."""
        return {_optuna_name(p): to_distribution(p) for p in self.params
                if not isinstance(p, FixedParam)}

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample every active parameter from an optuna trial; add the fixed values.

        Parameters are suggested in dependency order (a conditional one after those it
        depends on); one whose ``when`` does not hold is left out. The result is in
        declared order. `trial` is an ``optuna.trial.BaseTrial``. A W&B parameter gives
        its value and, under ``<name>~u``, the latent it was computed from.
        """
        values: dict[str, Any] = {}
        for param in self._dependency_order():
            if isinstance(param, FixedParam) or not _active(param, values):
                continue
            values[param.name] = _suggest_one(trial, param)
        out: dict[str, Any] = {}
        for param in self.params:
            if isinstance(param, FixedParam):
                out[param.name] = param.value
            elif isinstance(param, WandbParam):
                latent = values[param.name]
                out[param.name], out[param.latent_name] = param.value(latent), latent
            elif param.name in values:
                out[param.name] = values[param.name]
        return out

    def grid(self) -> dict[str, list]:
        """Every value of each sampled parameter, for ``optuna.samplers.GridSampler``.

        Raises ValueError for a float without ``step`` (its grid is infinite).
        """
        return {_optuna_name(p): _grid_values(p) for p in self.params
                if not isinstance(p, FixedParam)}

    def grid_size(self) -> int | None:
        """How many points the full grid has; None when some parameter is continuous."""
        size = 1
        for param in self.params:
            if isinstance(param, FixedParam):
                continue
            count = _grid_count(param)
            if count is None:
                return None
            size *= count
        return size

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows ``(name, kind, details)`` for display, e.g.
        ``("gamma", "float", "[0.0001, 1] log, when kernel=rbf")``."""
        return [(p.name, _kind(p), _details(p)) for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        """The space in config form (plain, JSON-able); `from_mapping` reads it back."""
        out: dict[str, Any] = {}
        for p in self.params:
            if isinstance(p, FixedParam):
                out[p.name] = p.value
                continue
            if isinstance(p, WandbParam):
                out[p.name] = p.to_dict()
                continue
            if isinstance(p, CategoricalParam):
                spec: dict[str, Any] = {"type": "categorical", "choices": list(p.choices)}
            else:
                spec = {"type": _kind(p), "low": p.low, "high": p.high, "log": p.log,
                        "step": p.step}
            if p.when:
                spec["when"] = {k: list(v) for k, v in p.when.items()}
            out[p.name] = spec
        return out

    def _dependency_order(self) -> list[Param]:
        """Params ordered so each comes after the params its ``when`` names (stable)."""
        done: set[str] = set()
        order: list[Param] = []
        pending = list(self.params)
        while pending:
            ready = [p for p in pending
                     if all(d in done for d in (getattr(p, "when", None) or {}))]
            if not ready:
                raise ValueError("space: cyclic 'when' dependencies")
            for p in ready:
                done.add(p.name)
                order.append(p)
            pending = [p for p in pending if p.name not in done]
        return order


# -- parsing ----------------------------------------------------------------------------------


def _parse_param(name: str, spec: Any, source: str) -> Param:
    path = f"space.{name}"
    if isinstance(spec, (list, tuple)):
        return CategoricalParam(name, _choices(spec, path, source))
    if not isinstance(spec, Mapping):
        if not _is_scalar(spec):
            raise ConfigError("must be a scalar, a list of choices or a mapping", path=path,
                              source=source, value=spec)
        if isinstance(spec, (int, float)) and not _finite(spec):
            raise ConfigError("a fixed value must be finite", path=path, source=source,
                              value=spec)
        return FixedParam(name, spec)
    kind = spec.get("type")
    if "type" not in spec:
        raise ConfigError(f"required; one of {', '.join(PARAM_TYPES)}", path=f"{path}.type",
                          source=source)
    if kind == "wandb":
        return parse_param(name, spec, path=path, source=source)
    if kind not in PARAM_TYPES:
        raise ConfigError(f"unknown parameter type; valid: {', '.join(PARAM_TYPES)}",
                          path=f"{path}.type", source=source, value=kind)
    allowed = _CATEGORICAL_KEYS if kind == "categorical" else _NUMERIC_KEYS
    _check_keys(spec, allowed, path, source)
    when = _when(spec.get("when"), f"{path}.when", source)
    if kind == "categorical":
        if "choices" not in spec:
            raise ConfigError("required", path=f"{path}.choices", source=source)
        return CategoricalParam(name, _choices(spec["choices"], f"{path}.choices", source), when)
    if kind == "int":
        return _int_param(name, spec, when, path, source)
    return _float_param(name, spec, when, path, source)


def _float_param(name: str, spec: Mapping, when: When | None, path: str, source: str) -> Param:
    low = _bound(spec, "low", path, source, integer=False)
    high = _bound(spec, "high", path, source, integer=False)
    log = _bool(spec.get("log", False), f"{path}.log", source)
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not _finite(step):
            raise ConfigError("must be a finite number", path=f"{path}.step", source=source,
                              value=step)
        if step <= 0:
            raise ConfigError("must be > 0", path=f"{path}.step", source=source, value=step)
    _check_order(low, high, path, source)
    if log and step is not None:
        raise ConfigError("cannot be combined with log: true", path=f"{path}.step",
                          source=source, value=step)
    if log and low <= 0:
        raise ConfigError("must be > 0 when log: true", path=f"{path}.low", source=source,
                          value=low)
    if step is not None and (Decimal(str(high)) - Decimal(str(low))) % Decimal(str(step)) != 0:
        raise ConfigError(f"high - low must be a multiple of step {step}", path=f"{path}.high",
                          source=source, value=high)
    return FloatParam(name, float(low), float(high), log, None if step is None else float(step),
                      when)


def _int_param(name: str, spec: Mapping, when: When | None, path: str, source: str) -> Param:
    low = _bound(spec, "low", path, source, integer=True)
    high = _bound(spec, "high", path, source, integer=True)
    log = _bool(spec.get("log", False), f"{path}.log", source)
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int):
            raise ConfigError("must be an integer", path=f"{path}.step", source=source,
                              value=step)
        if step < 1:
            raise ConfigError("must be >= 1", path=f"{path}.step", source=source, value=step)
    _check_order(low, high, path, source)
    if log and step not in (None, 1):
        raise ConfigError("cannot be combined with log: true (only step 1)",
                          path=f"{path}.step", source=source, value=step)
    if log and low <= 0:
        raise ConfigError("must be > 0 when log: true", path=f"{path}.low", source=source,
                          value=low)
    if step is not None and (high - low) % step:
        raise ConfigError(f"high - low must be a multiple of step {step}", path=f"{path}.high",
                          source=source, value=high)
    return IntParam(name, low, high, log, None if step in (None, 1) else step, when)


def _bound(spec: Mapping, key: str, path: str, source: str, *, integer: bool) -> Any:
    if key not in spec:
        raise ConfigError("required", path=f"{path}.{key}", source=source)
    value = spec[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "an integer" if integer else "a number"
        raise ConfigError(f"must be {what}", path=f"{path}.{key}", source=source, value=value)
    if integer and not -(2**63) <= value < 2**63:
        raise ConfigError("must fit in 64 bits", path=f"{path}.{key}", source=source,
                          value=value)
    if not integer and not _finite(value):
        raise ConfigError("must be finite", path=f"{path}.{key}", source=source, value=value)
    return value


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _check_order(low: Any, high: Any, path: str, source: str) -> None:
    if low > high:
        raise ConfigError(f"must be >= low {low}", path=f"{path}.high", source=source,
                          value=high)


def _bool(value: Any, path: str, source: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", path=path, source=source, value=value)
    return value


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _choices(values: Any, path: str, source: str) -> tuple:
    if not isinstance(values, (list, tuple)):
        raise ConfigError("must be a list", path=path, source=source, value=values)
    if not values:
        raise ConfigError("needs at least one choice", path=path, source=source, value=values)
    seen: set = set()
    for value in values:
        if not _is_scalar(value):
            raise ConfigError("choices must be null, bool, int, float or str", path=path,
                              source=source, value=value)
        if isinstance(value, (int, float)) and not _finite(value):
            raise ConfigError("choices must be finite", path=path, source=source, value=value)
        if value in seen:  # 1, 1.0 and True are the same choice to optuna
            raise ConfigError("duplicate choice", path=path, source=source, value=value)
        seen.add(value)
    return tuple(values)


def _when(data: Any, path: str, source: str) -> When | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or not data:
        raise ConfigError("must be a non-empty mapping of parameter name to value(s)",
                          path=path, source=source, value=data)
    out: dict[str, tuple] = {}
    for other, allowed in data.items():
        values = tuple(allowed) if isinstance(allowed, (list, tuple)) else (allowed,)
        if not values:
            raise ConfigError("needs at least one value", path=f"{path}.{other}",
                              source=source, value=allowed)
        for value in values:
            if not _is_scalar(value):
                raise ConfigError("values must be scalars", path=f"{path}.{other}",
                                  source=source, value=value)
        out[str(other)] = values
    return MappingProxyType(out)


def _check_when_value(target: Param, value: Any, path: str, source: str) -> None:
    if isinstance(target, CategoricalParam):
        if value not in target.choices:
            raise ConfigError(f"not one of {target.name}'s choices {list(target.choices)}",
                              path=path, source=source, value=value)
        return
    assert isinstance(target, IntParam)
    step = target.step or 1
    if (isinstance(value, bool) or not isinstance(value, int)
            or not target.low <= value <= target.high or (value - target.low) % step):
        raise ConfigError(f"not a value {target.name} can take", path=path, source=source,
                          value=value)


def _find_cycles(space: Space, source: str) -> None:
    """Raise on the first cycle of ``when`` dependencies (one depth-first pass)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    chain: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        chain.append(name)
        for other in getattr(space[name], "when", None) or {}:
            if state.get(other) == 1:
                cycle = " -> ".join([*chain[chain.index(other):], other])
                raise ConfigError(f"cyclic dependency {cycle}", path=f"space.{other}.when",
                                  source=source)
            if other not in state:
                visit(other)
        chain.pop()
        state[name] = 2

    for param in space.params:
        if param.name not in state:
            visit(param.name)


def _check_keys(data: Mapping, allowed: tuple[str, ...], path: str, source: str) -> None:
    for key in data:
        if key not in allowed:
            hint = _did_you_mean(str(key), allowed) or f"; valid keys: {', '.join(allowed)}"
            raise ConfigError("unknown key" + hint, path=f"{path}.{key}", source=source)


def _did_you_mean(word: str, options: Any) -> str:
    match = difflib.get_close_matches(word, list(options), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


# -- sampling ---------------------------------------------------------------------------------


def _active(param: Param, values: Mapping[str, Any]) -> bool:
    when = getattr(param, "when", None) or {}
    return all(name in values and values[name] in allowed for name, allowed in when.items())


def _optuna_name(param: Param) -> str:
    return param.latent_name if isinstance(param, WandbParam) else param.name


def _suggest_one(trial: Any, param: Param) -> Any:
    dist, name = to_distribution(param), _optuna_name(param)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)


def _grid_count(param: Param) -> int | None:
    if isinstance(param, CategoricalParam):
        return len(param.choices)
    if isinstance(param, WandbParam):
        return len(param.options["values"]) if param.indexed else None
    if isinstance(param, IntParam):
        return (param.high - param.low) // (param.step or 1) + 1
    if isinstance(param, FloatParam) and param.step is not None:
        span = Decimal(str(param.high)) - Decimal(str(param.low))
        return int(span / Decimal(str(param.step))) + 1
    return None


def _grid_values(param: Param) -> list:
    if isinstance(param, CategoricalParam):
        return list(param.choices)
    if isinstance(param, IntParam):
        return list(range(param.low, param.high + 1, param.step or 1))
    count = _grid_count(param)
    if isinstance(param, WandbParam) and count is not None:
        return list(range(count))
    if count is None:
        raise ValueError(f"{param.name}: a float without step (or a continuous W&B "
                         "distribution) has no finite grid")
    low, step = Decimal(str(param.low)), Decimal(str(param.step))
    return [float(low + i * step) for i in itertools.islice(itertools.count(), count)]


# -- describing -------------------------------------------------------------------------------


def _kind(param: Param) -> str:
    return {FloatParam: "float", IntParam: "int", CategoricalParam: "categorical",
            FixedParam: "fixed", WandbParam: "wandb"}[type(param)]


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _details(param: Param) -> str:
    if isinstance(param, FixedParam):
        return repr(param.value)
    if isinstance(param, WandbParam):
        return param.describe()
    if isinstance(param, CategoricalParam):
        text = ", ".join(repr(c) for c in param.choices)
    else:
        text = f"[{_num(param.low)}, {_num(param.high)}]"
        if param.log:
            text += " log"
        if param.step is not None:
            text += f" step {_num(param.step)}"
    if param.when:
        conditions = []
        for other, allowed in param.when.items():
            if len(allowed) == 1:
                conditions.append(f"{other}={allowed[0]}")
            else:
                conditions.append(f"{other} in ({', '.join(str(a) for a in allowed)})")
        text += ", when " + " and ".join(conditions)
    return text
