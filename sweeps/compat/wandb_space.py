"""W&B distributions that optuna has no equivalent for: a latent uniform mapped to the value.

W&B draws every random value as ``ppf(U(0, 1))`` (wandb/sweeps ``params.py``). A
`WandbParam` does the same: optuna samples a latent ``u`` (the param ``<name>~u``) and the
value is the distribution's inverse CDF at ``u``, rounded to a multiple of ``q`` for the
``q_`` kinds (an int when ``q`` is an int). Lists of choices that optuna cannot hold (lists,
dicts, repeated values) are an index into the list.

    param = parse_param("lr", {"type": "wandb", "distribution": "normal", "mu": 0,
                               "sigma": 1}, path="space.lr", source="<dict>")
    param.value(0.5)   # 0.0

In a config's ``space:`` such a parameter reads ``{type: wandb, distribution: ..., ...}``
with W&B's own keys (``min``, ``max``, ``q``, ``mu``, ``sigma``, ``a``, ``b``, ``values``,
``probabilities``); `sweeps.compat.wandb_config` writes them from a W&B sweep file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, NoReturn

from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from sweeps.errors import ConfigError

LATENT_SUFFIX = "~u"
EPSILON = 1e-6  # the latent of an unbounded distribution stays in [EPSILON, 1 - EPSILON]

#: distribution -> the option keys it takes (beyond ``distribution``)
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "categorical": ("values",),
    "categorical_w_probabilities": ("values", "probabilities"),
    "q_uniform": ("min", "max", "q"),
    "q_log_uniform": ("min", "max", "q"),
    "q_log_uniform_values": ("min", "max", "q"),
    "normal": ("mu", "sigma"),
    "q_normal": ("mu", "sigma", "q"),
    "log_normal": ("mu", "sigma"),
    "q_log_normal": ("mu", "sigma", "q"),
    "beta": ("a", "b"),
    "q_beta": ("a", "b", "q"),
}
#: every W&B distribution -> its option keys (those above, plus the ones optuna has)
ALL_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "int_uniform": ("min", "max"),
    "uniform": ("min", "max"),
    "log_uniform": ("min", "max"),
    "log_uniform_values": ("min", "max"),
    "inv_log_uniform": ("min", "max"),
    "inv_log_uniform_values": ("min", "max"),
    **DISTRIBUTIONS,
}
_DEFAULTS = {"mu": 0, "sigma": 1, "q": 1, "a": 1, "b": 1}
_UNBOUNDED = frozenset({"normal", "q_normal", "log_normal", "q_log_normal"})


@dataclass(frozen=True)
class WandbParam:
    """A W&B distribution sampled through the latent optuna param `latent_name`."""

    name: str
    distribution: str
    options: Mapping[str, Any]

    @property
    def latent_name(self) -> str:
        """The optuna param that holds the latent (``<name>~u``)."""
        return self.name + LATENT_SUFFIX

    @property
    def indexed(self) -> bool:
        """True when the latent is an index into ``values`` (plain categorical)."""
        return self.distribution == "categorical"

    def latent_distribution(self) -> BaseDistribution:
        """The optuna distribution of the latent."""
        if self.indexed:
            return IntDistribution(0, len(self.options["values"]) - 1)
        if self.distribution in _UNBOUNDED:
            return FloatDistribution(EPSILON, 1 - EPSILON)
        return FloatDistribution(0.0, 1.0)

    def value(self, latent: float) -> Any:
        """The parameter's value at latent `latent` (W&B's ``ppf``, then ``q`` rounding)."""
        opts = {**_DEFAULTS, **self.options}
        kind = self.distribution
        from sweeps.space import thaw  # sweeps.space imports this module

        if kind == "categorical":
            return thaw(opts["values"][int(latent)])
        if kind == "categorical_w_probabilities":
            cdf = list(_cumsum(opts["probabilities"]))
            index = sum(1 for edge in cdf if latent >= edge)  # W&B: argmin(x >= cdf)
            return thaw(opts["values"][min(index, len(cdf) - 1)])
        base = kind[2:] if kind.startswith("q_") else kind
        if base == "uniform":
            raw = opts["min"] + latent * (opts["max"] - opts["min"])
        elif base == "log_uniform":  # v1: min and max are natural-log exponents
            raw = math.exp(opts["min"] + latent * (opts["max"] - opts["min"]))
        elif base == "log_uniform_values":
            low, high = math.log(opts["min"]), math.log(opts["max"])
            raw = math.exp(low + latent * (high - low))
        elif base in ("normal", "log_normal"):  # scipy's norm / lognorm(s=sigma, e^mu)
            z = NormalDist().inv_cdf(latent)
            raw = opts["mu"] + opts["sigma"] * z
            if base == "log_normal":
                raw = math.exp(raw)
        else:
            from scipy import stats  # scipy comes with scikit-learn; loaded only for beta

            raw = float(stats.beta.ppf(latent, a=opts["a"], b=opts["b"]))
        if not kind.startswith("q_"):
            return raw
        q = opts["q"]
        steps = round(raw / q)  # numpy's round: half to even, like Python's
        return int(steps * q) if isinstance(q, int) else steps * q

    def to_dict(self) -> dict[str, Any]:
        """The config form, ``{type: wandb, distribution: ..., <options>}``."""
        from sweeps.space import thaw

        return {"type": "wandb", "distribution": self.distribution, **thaw(self.options)}

    def describe(self) -> str:
        """One line for tables, e.g. ``normal mu=0 sigma=1 (latent lr~u)``."""
        if self.indexed:
            text = "choice of " + ", ".join(repr(v) for v in self.options["values"])
        else:
            text = self.distribution + "".join(f" {k}={v!r}" for k, v in self.options.items()
                                               if k not in ("values", "probabilities"))
            if "probabilities" in self.options:
                text += " " + ", ".join(f"{v!r}: {p:g}" for v, p in zip(
                    self.options["values"], self.options["probabilities"], strict=True))
        return f"{text} (latent {self.latent_name})"


def parse_param(name: str, spec: Mapping[str, Any], *, path: str, source: str) -> WandbParam:
    """A `WandbParam` from its config form; errors name ``<path>.<key>``."""
    allowed = ("type", "distribution")
    kind = spec.get("distribution")
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"unknown W&B distribution; valid: {', '.join(DISTRIBUTIONS)}",
                          path=f"{path}.distribution", source=source, value=kind)
    for key in spec:
        if key not in allowed + DISTRIBUTIONS[kind]:
            raise ConfigError(f"unknown key for {kind}; valid: "
                              f"{', '.join(DISTRIBUTIONS[kind])}", path=f"{path}.{key}",
                              source=source)
    options = {k: v for k, v in spec.items() if k not in allowed}
    check(kind, options, path=path, source=source)
    from sweeps.space import freeze

    return WandbParam(name, kind, freeze(options))


def check(kind: str, options: Mapping[str, Any], *, path: str, source: str) -> None:
    """Raise a one-line ConfigError for what cannot run (W&B's own rules)."""

    def fail(key: str, problem: str, *value: Any) -> NoReturn:
        extra = {"value": value[0]} if value else {}
        raise ConfigError(problem, path=f"{path}.{key}" if key else path, source=source,
                          **extra)

    def number(key: str) -> float:
        value = options.get(key, _DEFAULTS.get(key))
        if value is None:
            fail(key, f"required for {kind}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            fail(key, "must be a finite number", value)
        return value

    keys = ALL_DISTRIBUTIONS.get(kind, ())
    if "values" in keys:
        values = options.get("values")
        if not isinstance(values, (list, tuple)) or not values:
            fail("values", "must be a non-empty list", values)
    if kind == "categorical_w_probabilities":
        probs = options.get("probabilities")
        if not isinstance(probs, (list, tuple)) or len(probs) != len(options["values"]):
            fail("probabilities", f"must be a list of {len(options['values'])} numbers, one "
                 "per value", probs)
        for p in probs:
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                fail("probabilities", "each must be a number in [0, 1]", p)
        if not math.isclose(sum(probs), 1.0, rel_tol=1e-5, abs_tol=1e-8):
            fail("probabilities", "must sum to 1", sum(probs))
    if "min" in keys:
        low, high = number("min"), number("max")
        if kind == "int_uniform" and not all(type(v) is int for v in (low, high)):
            fail("min" if type(low) is not int else "max", "must be an integer for int_uniform",
                 low if type(low) is not int else high)
        if low >= high:
            fail("max", f"must be > min {low}", high)
        if kind.endswith("_values") and low <= 0:
            fail("min", f"must be > 0 for {kind}", low)
    for key in ("sigma", "a", "b", "q"):
        if key in keys:
            value = number(key)
            if value < 0 or (value == 0 and key != "sigma"):
                fail(key, "must be > 0" if key != "sigma" else "must be >= 0", value)
    if "mu" in keys:
        number("mu")


def _cumsum(values: Any) -> Any:
    total = 0.0
    for value in values:
        total += value
        yield total
