"""A W&B sweep file → the plain config mapping that `sweeps.config` validates.

    data = yaml.safe_load(open("sweep.yaml"))
    if is_wandb(data):
        data = translate(data, source="sweep.yaml")   # {"space": ..., "sampler": ..., ...}

Lenient as W&B is: unknown keys, deprecated distributions and what sweepbook reads
differently warn (`WandbFormatWarning`, one line each); what cannot run is a one-line
`ConfigError` naming the W&B field (``parameters.lr.max: must be > min 1 (got 0)``).
The schema and the semantics are those of wandb/sweeps (``config/schema.json``,
``params.py``, ``grid_search.py``, ``hyperband_stopping.py``).
"""

from __future__ import annotations

import math
import shlex
import warnings
from collections.abc import Mapping
from typing import Any, NoReturn

from sweeps.compat import macros, wandb_space
from sweeps.compat.hyperband import hyperband_bands
from sweeps.compat.wandb_grid import yaml_hash
from sweeps.errors import ConfigError
from sweeps.search import missing_requirement

METHODS = ("grid", "random", "bayes", "custom")
_KNOWN = ("method", "metric", "metrics", "parameters", "early_terminate", "program", "command",
          "run_cap", "name", "description", "project", "entity", "controller", "scheduler",
          "job", "image_uri", "apiVersion", "kind", "compat")
_IGNORED = ("entity", "controller", "job", "image_uri", "apiVersion", "kind")
_PARAM_KEYS = ("distribution", "value", "values", "probabilities", "min", "max", "q", "mu",
               "sigma", "a", "b", "parameters")
_METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
_GRID_KINDS = ("constant", "categorical", "int_uniform", "q_uniform")
_DEPRECATED = ("log_uniform", "inv_log_uniform", "q_log_uniform")
IMPUTE = ("latest", "best", "worst")
_OBJECTIVE_KEYS = ("program", "command", "wandb_module", "paths", "impute")


class WandbFormatWarning(UserWarning):
    """A part of a W&B sweep file that sweepbook ignores or reads differently."""


def is_wandb(data: Mapping[str, Any]) -> bool:
    """Whether `data` looks like a W&B sweep file: ``method`` and ``parameters``, no
    ``objective``."""
    return "method" in data and "parameters" in data and "objective" not in data


def translate(data: Mapping[str, Any], *, source: str = "<dict>") -> dict[str, Any]:
    """The sweepbook config of the W&B sweep file `data` (see the module docstring)."""
    return _Translator(source).config(data)


def parse_objective(value: Any, *, source: str = "<dict>") -> Mapping[str, Any]:
    """Check ``objective.wandb`` ({program, command, wandb_module, paths, impute}); a
    frozen copy. ``impute`` (bayes only) is `metric.impute`: see `sweeps.compat.impute`."""
    from sweeps.space import freeze

    path = "objective.wandb"
    if not isinstance(value, Mapping):
        raise ConfigError(f"must be a mapping {{{', '.join(_OBJECTIVE_KEYS)}}}",
                          path=path, source=source, value=value)
    for key in value:
        if key not in _OBJECTIVE_KEYS:
            raise ConfigError(f"unknown key; valid keys: {', '.join(_OBJECTIVE_KEYS)}",
                              path=f"{path}.{key}", source=source)
    if value.get("impute") not in (None, *IMPUTE):
        raise ConfigError(f"must be one of {', '.join(IMPUTE)}", path=f"{path}.impute",
                          source=source, value=value["impute"])
    program, command = value.get("program"), value.get("command")
    if program is not None and (not isinstance(program, str) or not program.strip()):
        raise ConfigError("must be a non-empty string", path=f"{path}.program", source=source,
                          value=program)
    if command is not None and (not isinstance(command, (list, tuple)) or not all(
            isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in command)):
        raise ConfigError("must be a list of strings", path=f"{path}.command", source=source,
                          value=command)
    if program is None and "${program}" in [str(c) for c in command or
                                             macros.DEFAULT_COMMAND]:
        raise ConfigError("required: the command uses ${program}", path=f"{path}.program",
                          source=source)
    if not isinstance(value.get("wandb_module", True), bool):
        raise ConfigError("must be true or false", path=f"{path}.wandb_module", source=source,
                          value=value["wandb_module"])
    paths = value.get("paths") or {}
    if not isinstance(paths, Mapping) or not all(
            isinstance(keys, (list, tuple)) and keys and all(isinstance(k, str) for k in keys)
            for keys in paths.values()):
        raise ConfigError("must map a parameter name to its list of nested keys",
                          path=f"{path}.paths", source=source, value=paths)
    out = {"program": program, "command": None if command is None else list(command),
           "wandb_module": value.get("wandb_module", True), "paths": dict(paths)}
    if value.get("impute") is not None:
        out["impute"] = value["impute"]
    return freeze(out)


def describe_command(wandb: Mapping[str, Any]) -> str:
    """The command template on one line, e.g. ``${env} ${interpreter} train.py ${args}``."""
    program = wandb.get("program") or "${program}"
    return " ".join(program if str(c) == "${program}" else str(c)
                    for c in wandb.get("command") or macros.DEFAULT_COMMAND)


class _Translator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.impute: str | None = None  # metric.impute, given to bayes only (as W&B does)

    def fail(self, path: str, problem: str, *value: Any) -> NoReturn:
        extra = {"value": value[0]} if value else {}
        raise ConfigError(problem, path=path, source=self.source, **extra)

    def warn(self, path: str, message: str) -> None:
        warnings.warn(f"{self.source}: {path}: {message}", WandbFormatWarning, stacklevel=4)

    def config(self, data: Mapping[str, Any]) -> dict[str, Any]:
        for key in data:
            if key not in _KNOWN:
                self.warn(key, "unknown key in a W&B sweep file; ignored")
        for key in _IGNORED:
            if key in data:
                self.warn(key, "W&B hosting/launch setting; ignored offline")
        out: dict[str, Any] = {}
        if data.get("project") is not None:
            out["experiment"] = data["project"]
        elif self.source.startswith("<"):  # no file name to default to: W&B's own default
            out["experiment"] = "uncategorized"
        if data.get("name") is not None:
            out["name"] = data["name"]
        if data.get("description") is not None:
            self.warn("description", "not kept (sweepbook has no sweep description)")
        method = data.get("method")
        if method not in METHODS:
            self.fail("method", f"must be one of {', '.join(METHODS)}", method)
        out.update(self.metrics(data, method))
        paths: dict[str, list[str]] = {}
        space = self.parameters(data.get("parameters"), "parameters", [], paths, method)
        out["space"] = space
        out["sampler"] = self.sampler(data, method, space)
        if data.get("early_terminate") is not None:
            if "metrics" in out:
                self.fail("early_terminate", "needs a single metric")
            out["pruner"] = self.hyperband(data["early_terminate"])
        out["objective"] = {"wandb": self.objective(data, paths)}
        trials = self.run_cap(data.get("run_cap"))
        if trials is None and method == "grid":
            trials = math.prod(_grid_count(spec) for spec in space.values())
        elif trials is None:
            self.warn("run_cap", "absent: W&B runs until stopped; sweepbook runs "
                      "budget.trials (default 20; or --count N)")
        if trials is not None:
            out["budget"] = {"trials": trials}
        return out

    # -- metric ------------------------------------------------------------------------

    def metrics(self, data: Mapping[str, Any], method: str) -> dict[str, Any]:
        if data.get("metric") is not None and data.get("metrics") is not None:
            self.fail("metrics", "give either metric or metrics, not both")
        if data.get("metrics") is not None:
            items = data["metrics"]
            if not isinstance(items, list) or not items:
                self.fail("metrics", "must be a non-empty list of {name, goal}", items)
            if method != "custom":
                self.warn("metrics", "W&B accepts metrics only with method: custom; "
                          "sweepbook optimizes them together")
            return {"metrics": [self.metric(m, f"metrics.{i}") for i, m in enumerate(items)]}
        if data.get("metric") is None:
            self.fail("metric", "required: sweepbook optimizes a metric (W&B allows none "
                      "for grid and random); add metric: {name: ..., goal: ...}")
        return {"metric": self.metric(data["metric"], "metric")}

    def metric(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping {name, goal}", value)
        for key in value:
            if key not in _METRIC_KEYS:
                self.warn(f"{path}.{key}", "unknown key; ignored")
        if not isinstance(value.get("name"), str) or not value["name"].strip():
            self.fail(f"{path}.name", "required: the name of a metric the program logs",
                      value.get("name"))
        goal = value.get("goal", "minimize")
        if goal not in ("minimize", "maximize"):
            self.warn(f"{path}.goal", f"{goal!r} is not minimize or maximize; minimize is "
                      "used, as W&B does")
            goal = "minimize"
        if "impute" in value:
            if value["impute"] not in IMPUTE:
                self.fail(f"{path}.impute", f"must be one of {', '.join(IMPUTE)}",
                          value["impute"])
            if path != "metric":
                self.warn(f"{path}.impute", "ignored: sweepbook imputes a single metric only")
            else:
                self.impute = value["impute"]
        if "impute_while_running" in value:
            self.warn(f"{path}.impute_while_running", "ignored: running trials are pending "
                      "to the sampler")
        out = {"name": value["name"], "goal": goal}
        if "target" in value:
            out["target"] = value["target"]
        return out

    # -- parameters --------------------------------------------------------------------

    def parameters(self, value: Any, path: str, prefix: list[str],
                   paths: dict[str, list[str]], method: str) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not value:
            self.fail(path, "must be a non-empty mapping of parameter name to spec", value)
        space: dict[str, Any] = {}
        for key in sorted(value):  # W&B orders parameters by name at every level
            spec, here = value[key], f"{path}.{key}"
            if not isinstance(spec, Mapping):
                self.fail(here, "must be a mapping like {values: [...]} or {min: .., max: ..}",
                          spec)
            name = ".".join([*prefix, key])
            if "parameters" in spec and not set(spec) & (set(_PARAM_KEYS) - {"parameters"}):
                nested = self.parameters(spec["parameters"], f"{here}.parameters",
                                         [*prefix, key], paths, method)
                for inner in nested:
                    if inner in space:
                        self.fail(here, f"nested name {inner!r} collides with another "
                                  "parameter")
                space.update(nested)
                continue
            if name in space:
                self.fail(here, f"name {name!r} collides with a nested parameter")
            if prefix:
                paths[name] = [*prefix, key]
            space[name] = self.parameter(spec, here, method)
        return space

    def parameter(self, spec: Mapping[str, Any], path: str, method: str) -> Any:
        for key in spec:
            if key not in _PARAM_KEYS:
                self.warn(f"{path}.{key}", "unknown key; ignored")
        kind = spec.get("distribution") or self.infer(spec, path)
        if kind not in wandb_space.ALL_DISTRIBUTIONS:
            valid = ", ".join(wandb_space.ALL_DISTRIBUTIONS)
            self.fail(f"{path}.distribution", f"unknown distribution; valid: {valid}", kind)
        if kind in _DEPRECATED:
            self.warn(f"{path}.distribution", f"uses {kind}, where min/max are natural-log "
                      f"exponents; {kind}_values takes the values themselves")
        if method == "grid" and kind not in _GRID_KINDS:
            self.fail(f"{path}.distribution", f"{kind} is not allowed with method grid "
                      f"(only {', '.join(_GRID_KINDS)})", kind)
        options = {k: spec[k] for k in wandb_space.ALL_DISTRIBUTIONS[kind] if k in spec}
        for key in set(spec) & set(_PARAM_KEYS) - {"distribution", *options}:
            self.warn(f"{path}.{key}", f"not used by {kind}; ignored")
        if kind == "constant" and "value" not in spec:
            self.fail(f"{path}.value", "required for constant")
        wandb_space.check(kind, options, path=path, source=self.source)
        return self.space_spec(kind, options, path, method)

    def infer(self, spec: Mapping[str, Any], path: str) -> str:
        """W&B's inference when ``distribution`` is absent."""
        if "values" in spec:
            return "categorical_w_probabilities" if "probabilities" in spec else "categorical"
        if "value" in spec:
            return "constant"
        if "min" in spec or "max" in spec:
            for key in ("min", "max"):
                if key not in spec:
                    self.fail(f"{path}.{key}", "required (a range needs min and max)")
            both_int = all(type(spec[k]) is int for k in ("min", "max"))
            return "int_uniform" if both_int else "uniform"
        self.fail(path, "needs value, values, min/max or a distribution")

    def space_spec(self, kind: str, options: dict[str, Any], path: str, method: str) -> Any:
        """The sweepbook ``space:`` entry of one W&B parameter."""
        if kind == "constant":
            value = options["value"]
            if _plain(value):
                return value
            return {"type": "wandb", "distribution": "categorical", "values": [value]}
        if kind == "categorical":
            values = options["values"]
            if method == "grid":  # W&B runs a combination once: a repeated value is one
                values = self.distinct(values, f"{path}.values")
            if all(_plain(v) for v in values) and len(set(values)) == len(values):
                return {"type": "categorical", "choices": list(values)}
            return {"type": "wandb", "distribution": "categorical", "values": list(values)}
        if kind == "int_uniform":
            return {"type": "int", "low": options["min"], "high": options["max"]}
        if kind == "uniform":
            return {"type": "float", "low": options["min"], "high": options["max"]}
        if kind == "q_uniform" and method == "grid":  # W&B: np.arange(min, max, q)
            import numpy as np

            grid = np.arange(options["min"], options["max"], options.get("q", 1)).tolist()
            return {"type": "categorical", "choices": grid}
        low, high = options.get("min"), options.get("max")
        try:
            if kind in ("log_uniform_values", "inv_log_uniform_values"):
                return {"type": "float", "low": low, "high": high, "log": True}
            if kind == "log_uniform":
                return {"type": "float", "low": math.exp(low), "high": math.exp(high),
                        "log": True}
            if kind == "inv_log_uniform":
                return {"type": "float", "low": math.exp(-high), "high": math.exp(-low),
                        "log": True}
        except OverflowError:
            self.fail(f"{path}.max", "exp() of the bound overflows", high)
        return {"type": "wandb", "distribution": kind, **options}

    def distinct(self, values: list[Any], path: str) -> list[Any]:
        """`values` without those W&B's grid takes for an earlier one (1.0 for 1)."""
        seen: dict[str, Any] = {}
        for value in values:
            key = yaml_hash(value)
            if key in seen:
                self.warn(path, f"{value!r} is the same grid value as {seen[key]!r} to W&B; "
                          "run once")
            else:
                seen[key] = value
        return list(seen.values())

    # -- method, early termination, command ---------------------------------------------

    def sampler(self, data: Mapping[str, Any], method: str, space: Mapping[str, Any]
                ) -> dict[str, Any]:
        scheduler = data.get("scheduler")
        if method == "custom":
            if not isinstance(scheduler, Mapping) and data.get("metrics") is None:
                self.fail("scheduler", "method custom needs scheduler (engine: optuna) or "
                          "metrics")
            if isinstance(scheduler, Mapping):
                if scheduler.get("engine") != "optuna":
                    self.fail("scheduler.engine", "only optuna runs offline",
                              scheduler.get("engine"))
                for key in ("source", "optimizer", "search_space"):
                    if key in scheduler:
                        self.fail(f"scheduler.{key}", "not supported: write the study as a "
                                  "sweepbook define-by-run objective instead")
            return {"type": "tpe"}
        if scheduler is not None:
            self.warn("scheduler", f"used only with method custom; ignored for {method}")
        if method == "grid":
            return {"type": "wandb_grid"}
        if method == "random":
            return {"type": "random"}
        problem = missing_requirement("gp")
        if problem is not None:
            self.warn("method", f"bayes runs optuna's TPE sampler here ({problem} for the GP "
                      "sampler)")
            return {"type": "tpe"}
        return {"type": "gp"}

    def hyperband(self, value: Any) -> dict[str, Any]:
        path = "early_terminate"
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping {type: hyperband, min_iter: ...}", value)
        if value.get("type") != "hyperband":
            self.fail(f"{path}.type", "must be hyperband", value.get("type"))
        for key in value:
            if key not in _HYPERBAND_KEYS:
                self.warn(f"{path}.{key}", "unknown key; ignored (as W&B does)")
        out: dict[str, Any] = {"type": "wandb_hyperband"}
        for key in ("min_iter", "max_iter", "s"):
            if key in value and (type(value[key]) is not int or value[key] < 0):
                self.fail(f"{path}.{key}", "must be a whole number", value[key])
        if "max_iter" in value:  # W&B reads max_iter first
            if "s" not in value:
                self.fail(f"{path}.s", "required with max_iter")
            if "min_iter" in value:
                self.warn(f"{path}.min_iter", "ignored: max_iter and s are given (as W&B "
                          "does)")
            out.update(max_iter=value["max_iter"], s=value["s"])
        elif "min_iter" in value:
            out["min_iter"] = value["min_iter"]
        else:
            self.fail(path, "needs min_iter, or max_iter and s")
        eta = value.get("eta", 3)
        if isinstance(eta, bool) or not isinstance(eta, (int, float)):
            self.fail(f"{path}.eta", "must be a number > 1", eta)
        strict = value.get("strict", True)
        if not isinstance(strict, bool):
            self.fail(f"{path}.strict", "must be true or false", strict)
        out.update(eta=eta, strict=strict)
        try:
            hyperband_bands(**{k: v for k, v in out.items()
                               if k in ("min_iter", "max_iter", "s", "eta")})
        except ValueError as error:
            self.fail(path, str(error))
        return out

    def objective(self, data: Mapping[str, Any], paths: dict[str, list[str]]
                  ) -> dict[str, Any]:
        command = data.get("command")
        if isinstance(command, str):
            self.warn("command", "W&B wants a list; the string is split like a shell would")
            command = shlex.split(command)
        for name in macros.uses_envvar_fallback(command):
            self.warn("command", f"${{envvar:{name}}}: {name} is not set here; it expands to "
                      f"{name!r} (as W&B does) unless set when the sweep runs")
        compat = data.get("compat") or {}
        if not isinstance(compat, Mapping) or set(compat) - {"wandb_module"}:
            self.fail("compat", "must be a mapping {wandb_module: true|false}", compat)
        out = {"program": data.get("program"), "command": command,
               "wandb_module": compat.get("wandb_module", True), "paths": paths}
        if self.impute is not None and data.get("method") == "bayes":
            out["impute"] = self.impute
        parse_objective(out, source=self.source)
        return out

    def run_cap(self, value: Any) -> int | None:
        if value is None:
            return None
        if type(value) is not int or value < 1:
            self.fail("run_cap", "must be a whole number > 0", value)
        return value


def _plain(value: Any) -> bool:
    """A value optuna can hold as a choice: None, bool, str or a finite number."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int, str))


def _grid_count(spec: Any) -> int:
    if isinstance(spec, Mapping) and spec.get("type") == "int":
        return spec["high"] - spec["low"] + 1
    if isinstance(spec, Mapping) and spec.get("type") == "categorical":
        return len(spec["choices"])
    if isinstance(spec, Mapping):
        return len(spec["values"])
    return 1
