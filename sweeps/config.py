"""Sweep configs: YAML → one validated, frozen `SweepConfig`, or one-line `ConfigError`s.

    config = load_config("configs/iris_rf.yaml", overrides=["budget.trials=100"])
    config.space.names          # ('n_estimators', 'max_depth', ...)
    config.to_dict()            # resolved, JSON-able: what `sweeps validate` prints

Every rule broken reads ``<source>: <dotted.path>: <rule> (got <value>)``. YAML is read with
a safe loader that also refuses duplicate keys, non-plain tags, alias bombs, deep nesting
and files over 1 MB. Two YAML 1.1 quirks are smoothed: ``1e-4`` is a float (PyYAML would
read a string) and dates stay strings.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import os
import re
import stat
import string
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sweeps import search
from sweeps.compat import wandb_config
from sweeps.errors import ConfigError, short_repr
from sweeps.space import (
    MAX_GRID_SIZE,
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    Space,
    freeze,
    thaw,
)

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 100
MAX_NAME_LENGTH = 250
MAX_INT_DIGITS = 4300  # Python's own limit for turning an int into text
MAX_INT_BITS = int(MAX_INT_DIGITS * math.log2(10))
DEFAULT_MAX_ARTIFACT_BYTES = 100 * 1024**2  # per artifact file sent back from a remote worker
DEFAULT_TRIALS = 20
BACKENDS = ("local", "ray")
FORMATS = ("sweepbook", "wandb")  # a W&B sweep file is found by its keys, or named
METRIC_USES = ("last", "best", "mean_last_k")  # which reported value a trial's objective is

_TOP_KEYS = ("experiment", "name", "objective", "metric", "metrics", "space", "sampler",
             "pruner", "budget", "execution", "tracking", "report", "register", "seed",
             "stop_when")
# keys of the top-level sections with fixed keys, by name: "trials" -> "budget.trials"
_SECTION_KEYS = {
    "budget": ("trials", "timeout", "max_failures", "repeats"),
    "execution": ("backend", "workers", "trial_timeout", "retries", "resources", "ray",
                  "max_artifact_bytes"),
    "tracking": ("uri",),
    "report": ("path",),
    "register": ("name", "alias", "model_path"),
}
_NESTED_KEYS = {key: f"{section}.{key}" for section, keys in _SECTION_KEYS.items()
                for key in keys}
_CALLABLE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALIAS = re.compile(r"[\w\-]{1,255}")
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_MEMORY = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")
_MEMORY_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
                 "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_HOST_PORT = re.compile(
    r"(?:ray://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})"
)


# -- the config -------------------------------------------------------------------------------


class Goal(enum.Enum):
    """Which way a metric should go."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


@dataclass(frozen=True)
class MetricSpec:
    """A metric the sweep optimizes; once a finished trial reaches `target` (a single
    metric only), no new trials start (W&B's ``metric.target``)."""

    name: str
    goal: Goal
    target: float | None = None
    use: str = "last"  # which reported value is the objective: last | best | mean_last_k
    k: int = 3  # mean_last_k: how many of the last reported values

    def value(self, reported: Sequence[float], final: float) -> float:
        """A trial's objective value by `use`, from the values it reported for this metric
        (in order); `final` (the last reported or the returned value) for ``last`` or when
        it reported none. ``best`` is the best of them and `final`, NaN and infinities
        left out.

            MetricSpec("loss", Goal.MINIMIZE, use="best").value([3.0, 1.0, 2.0], 2.0)  # 1.0
        """
        if self.use == "best":
            finite = [v for v in (*reported, final) if math.isfinite(v)]
            if finite:
                return min(finite) if self.goal is Goal.MINIMIZE else max(finite)
        elif self.use == "mean_last_k" and reported:
            last = reported[-self.k:]
            return math.fsum(last) / len(last)
        return final


@dataclass(frozen=True)
class ObjectiveSpec:
    """What a trial runs: a ``module:function`` callable or a command line (exactly one).
    A W&B sweep's ``program``/``command`` is `wandb` (`command` then shows its template)."""

    callable: str | None
    command: str | None
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    wandb: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SamplerSpec:
    """A sampler name from `search.SAMPLERS`, its seed and extra keyword options."""

    type: str = "tpe"
    seed: int | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class PrunerSpec:
    """A pruner name from `search.PRUNERS` and its keyword options (aliases kept as given)."""

    type: str = "none"
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Budget:
    """When the sweep stops: trials and/or seconds; max_failures None means unlimited."""

    trials: int | None = DEFAULT_TRIALS
    timeout: float | None = None
    max_failures: int | None = None
    repeats: int = 1  # runs of each trial (new seeds); optuna is told their mean


@dataclass(frozen=True)
class RaySpec:
    """Where the Ray runtime is: None (start a local one), "auto", "HOST:PORT", "ray://..."."""

    address: str | None = None


@dataclass(frozen=True)
class Execution:
    """Where and how trials run; resources are per trial, in Ray's names (memory in bytes)."""

    backend: str = "local"
    workers: int = 1
    trial_timeout: float | None = None
    retries: int = 0
    resources: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"cpu": 1.0})
    )
    ray: RaySpec = field(default_factory=RaySpec)
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES


@dataclass(frozen=True)
class RegisterSpec:
    """`register:`: at the sweep's end, register the best trial's model at `model_path` as
    a version of `name` (None: the experiment's name) and point `alias` at it."""

    name: str | None = None
    alias: str = "champion"
    model_path: str = "model"


@dataclass(frozen=True)
class StopWhen:
    """`stop_when: {metric, reaches}`: once a finished trial's `metric` reaches `value` (at
    least it for `goal` maximize, at most for minimize), no new trials start."""

    metric: str
    value: float
    goal: Goal


@dataclass(frozen=True)
class SweepConfig:
    """A whole validated sweep config. `raw` is the input after overrides (frozen); `notes`
    says what an override changed beyond its own key (options of a replaced pruner dropped);
    `report_path` None means the default place, one file per sweep (see sweeps.report)."""

    experiment: str
    name: str | None
    objective: ObjectiveSpec
    metrics: tuple[MetricSpec, ...]
    space: Space
    sampler: SamplerSpec
    pruner: PrunerSpec
    budget: Budget
    execution: Execution
    tracking_uri: str | None
    report_path: str | None
    report_enabled: bool
    register: RegisterSpec | None = None
    seed_param: str | None = None  # `seed: {param: NAME}`: the param that is the seed
    stop_when: StopWhen | None = None
    source: str = field(default="<dict>", compare=False)
    raw: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every resolved value, plain and JSON-able; `parse_config` reads it back."""
        objective: Any = self.objective.callable
        if self.objective.wandb is not None:
            objective = {"wandb": thaw(self.objective.wandb), "cwd": self.objective.cwd,
                         "env": dict(self.objective.env)}
        elif self.objective.command is not None:
            objective = {"command": self.objective.command, "cwd": self.objective.cwd,
                         "env": dict(self.objective.env)}
        return {
            "experiment": self.experiment,
            "name": self.name,
            "objective": objective,
            "metrics": [{"name": m.name, "goal": m.goal.value,
                         **({} if m.target is None else {"target": m.target}),
                         **({} if m.use == "last" else {"use": m.use}),
                         **({"k": m.k} if m.use == "mean_last_k" else {})}
                        for m in self.metrics],
            "space": self.space.to_dict() or None,  # None: define-by-run
            "sampler": {"type": self.sampler.type, "seed": self.sampler.seed,
                        **thaw(self.sampler.options)},
            "pruner": {"type": self.pruner.type, **thaw(self.pruner.options)},
            "budget": {"trials": self.budget.trials, "timeout": self.budget.timeout,
                       "max_failures": self.budget.max_failures,
                       **({"repeats": self.budget.repeats} if self.budget.repeats > 1 else {})},
            "execution": {
                "backend": self.execution.backend,
                "workers": self.execution.workers,
                "trial_timeout": self.execution.trial_timeout,
                "retries": self.execution.retries,
                "resources": dict(self.execution.resources),
                "ray": {"address": self.execution.ray.address},
                "max_artifact_bytes": self.execution.max_artifact_bytes,
            },
            "tracking": {"uri": self.tracking_uri},
            "report": {"path": self.report_path} if self.report_enabled else False,
            **({} if self.register is None else {"register": {
                "name": self.register.name, "alias": self.register.alias,
                "model_path": self.register.model_path}}),
            **({} if self.seed_param is None else {"seed": {"param": self.seed_param}}),
            **({} if self.stop_when is None else {"stop_when": {
                "metric": self.stop_when.metric, "reaches": self.stop_when.value,
                "goal": self.stop_when.goal.value}}),
        }


# -- public functions -------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = (), *,
                format: str | None = None) -> SweepConfig:
    """Read, check and resolve a YAML sweep config (a W&B sweep file is translated: see
    `parse_config`).

        load_config("configs/quickstart.yaml", ["budget.trials=5"])
    """
    source = os.fspath(path)
    data = _read_yaml(source)
    return parse_config(data, source=source, overrides=overrides, format=format)


def parse_config(
    data: Mapping[str, Any], *, source: str = "<dict>", overrides: Sequence[str] = (),
    format: str | None = None,
) -> SweepConfig:
    """Check and resolve a config given as plain data (e.g. ``yaml.safe_load`` output).

    A W&B sweep file (``method`` and ``parameters``, no ``objective``; or `format`
    ``"wandb"``) is first translated by `sweeps.compat.wandb_config.translate`.

        parse_config({"experiment": "q", "objective": "examples.quadratic:objective",
                      "metric": {"name": "loss", "goal": "minimize"},
                      "space": {"x": {"type": "float", "low": -5, "high": 5}}})
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"top level must be a mapping, not {_type_name(data)}", source=source)
    plain = _plain(data, source)
    if format not in (None, *FORMATS):
        raise ConfigError(f"unknown format {format!r}; valid: {', '.join(FORMATS)}",
                          source=source)
    if format == "wandb" or (format is None and wandb_config.is_wandb(plain)):
        plain = wandb_config.translate(plain, source=source)
    overridden = apply_overrides(plain, overrides, source=source)
    notes = _drop_replaced_options(plain, overridden)
    return dataclasses.replace(_Parser(source).config(overridden), notes=tuple(notes))


def apply_overrides(
    data: dict[str, Any], overrides: Sequence[str], *, source: str = "<dict>"
) -> dict[str, Any]:
    """A copy of `data` with ``dotted.key=value`` overrides applied (values are YAML).

        apply_overrides({"budget": {"trials": 5}}, ["budget.trials=100"])
        # {"budget": {"trials": 100}}
    """
    result = _plain(data, source)
    for override in overrides:
        key, sep, text = str(override).partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ConfigError(f"override {override!r} is not KEY=VALUE (e.g. budget.trials=100)",
                              source=source)
        try:
            value = _plain(_load_yaml_text(text, "<override>"), "<override>")
        except ConfigError as error:
            raise ConfigError(f"override {short_repr(override)}: {error.problem}",
                              path=error.path,
                              source=source) from None
        target: Any = result
        for depth, part in enumerate(parts[:-1]):
            here = ".".join(parts[: depth + 1])
            if isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            elif isinstance(target, dict):
                if target.get(part) is None:
                    target[part] = {}
                target = target[part]
            else:
                raise ConfigError(f"override {override!r} goes through a {_type_name(target)}",
                                  path=here.rpartition(".")[0] or here, source=source)
        last = parts[-1]
        if isinstance(target, list) and last.isdigit() and int(last) < len(target):
            target[int(last)] = value
        elif isinstance(target, dict):
            target[last] = value
        else:
            raise ConfigError(f"override {override!r} goes through a {_type_name(target)}",
                              path=".".join(parts[:-1]), source=source)
    return result


def _drop_replaced_options(before: Mapping[str, Any], after: dict[str, Any]) -> list[str]:
    """Where an override changed ``sampler.type`` or ``pruner.type``, remove from `after` the
    options kept from `before` that the new type does not take; one note per section."""
    notes = []
    for section, default, registry in (("sampler", "tpe", search.SAMPLERS),
                                       ("pruner", "none", search.PRUNERS)):
        old, new = before.get(section), after.get(section)
        if not isinstance(old, Mapping) or not isinstance(new, dict):
            continue
        kind, old_kind = new.get("type", default), old.get("type", default)
        if kind == old_kind or not isinstance(kind, str) or kind not in registry:
            continue
        if section == "sampler":
            takes = {"type", "seed", *search.sampler_options(kind)}
        else:
            takes = {"type", *search.pruner_options(kind), *search.PRUNER_ALIASES.get(kind, {})}
        dropped = [k for k in new if k not in takes and k in old and new[k] == old[k]]
        for key in dropped:
            del new[key]
        if dropped:
            notes.append(f"{section}.type is now {kind} (was {short_repr(old_kind)}): dropped "
                         f"the options {kind} does not take: {', '.join(dropped)}")
    return notes


def parse_duration(value: Any, path: str, *, source: str = "<dict>") -> float:
    """Seconds from a positive number or a string like ``500ms``, ``30s``, ``10m``, ``1.5h``,
    ``2d``.

        parse_duration("10m", "budget.timeout")  # 600.0
    """
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, (int, float)):
        seconds = float(value) if _finite(value) else None
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        seconds = None
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError("not a duration like 30s, 10m, 2h", path=path, source=source,
                          value=value)
    if seconds <= 0:
        raise ConfigError("must be > 0", path=path, source=source, value=value)
    return seconds


def parse_memory(value: Any, path: str, *, source: str = "<dict>") -> float:
    """Bytes from a number or a string like ``512MiB``, ``4GB`` or ``1048576``.

        parse_memory("512MiB", "execution.resources.memory")  # 536870912.0
    """
    size: float | None = None
    if isinstance(value, bool):
        size = None
    elif isinstance(value, (int, float)):
        size = float(value) if _finite(value) else None
    elif isinstance(value, str) and (match := _MEMORY.fullmatch(value)):
        unit = _MEMORY_UNITS.get(match.group(2).lower())
        size = None if unit is None else float(match.group(1)) * unit
    if size is None or not math.isfinite(size):
        raise ConfigError("not a memory size like 512MiB, 4GB or a number of bytes",
                          path=path, source=source, value=value)
    if size < 0:
        raise ConfigError("must be >= 0", path=path, source=source, value=value)
    return size


# -- YAML -------------------------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "map",
                                              "seq", "merge"))
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _is_callable(objective: Any) -> bool:
    """Whether an objective section names a Python callable."""
    return isinstance(objective, str) or (isinstance(objective, Mapping)
                                          and "callable" in objective)


class _Loader(yaml.SafeLoader):
    """SafeLoader with a nesting limit, ``1e-4`` read as a float and dates kept as strings."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers
                if tag not in (_TAG + "timestamp", _TAG + "float")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(problem=f"nested deeper than {MAX_DEPTH} levels",
                                           problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.add_implicit_resolver(_TAG + "float", _FLOAT, list("-+0123456789."))


def _read_yaml(source: str) -> Any:
    try:  # non-blocking open: a FIFO without a writer must not hang us before the check
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}", source=source) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ConfigError(f"cannot read: not a regular file (a {_file_kind(mode)})",
                          source=source)
    with os.fdopen(fd, "rb") as handle:
        try:
            raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise ConfigError(f"cannot read: {error.strerror or error}",
                              source=source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"file is larger than {MAX_FILE_BYTES:,} bytes", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not valid UTF-8 (bad byte at offset {error.start})",
                          source=source) from None
    data = _load_yaml_text(text, source)
    if data is None:
        raise ConfigError("empty config file", source=source)
    return data


def _file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _load_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document safely; every problem is a one-line ConfigError."""
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, source, loader)
        return loader.construct_document(node)
    except ConfigError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        if error.problem and error.context:  # "expected X (line 1, column 1), but found Y"
            where = error.context_mark
            at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
            problem = f"{error.context}{at}, {error.problem}"
        if mark is None:
            raise ConfigError(f"invalid YAML: {problem}", source=source) from None
        raise ConfigError(f"invalid YAML: {problem}", source=source, line=mark.line + 1,
                          column=mark.column + 1) from None
    except yaml.reader.ReaderError as error:
        raise ConfigError(
            f"invalid YAML: unacceptable character #x{error.character:04x} "
            f"at offset {error.position}", source=source,
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML: {error}", source=source) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_nodes(root: Node, source: str, loader: _Loader) -> None:
    """Refuse before building anything: unknown tags, duplicate keys, recursive aliases,
    scalars that are not what their tag says (``!!int 0xZZ``), integers too long to print,
    and documents whose (alias-expanded) size exceeds MAX_NODES nodes or MAX_DEPTH levels."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, expanded depth)
    active: set[int] = set()
    aliased = [False]  # whether some node is reached twice (an alias)

    def fail(problem: str, node: Node, path: str = "") -> None:
        mark = node.start_mark
        raise ConfigError(problem, path=path, source=source, line=mark.line + 1,
                          column=mark.column + 1)

    def visit(node: Node, path: str) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            aliased[0] = True
            return sizes[key]
        if key in active:
            fail("recursive alias", node, path)
        if node.tag not in _ALLOWED_TAGS:
            tag = node.tag.replace(_TAG, "!!")
            fail(f"unsupported YAML tag {tag!r}; only plain YAML is allowed", node, path)
        active.add(key)
        count, depth = 1, 0
        if isinstance(node, SequenceNode):
            children = [(child, f"{path}.{index}" if path else str(index))
                        for index, child in enumerate(node.value)]
        elif isinstance(node, MappingNode):
            children, seen = [], set()
            for key_node, value_node in node.value:
                label = key_node.value if isinstance(key_node, ScalarNode) else "?"
                if isinstance(key_node, ScalarNode) and key_node.tag != _TAG + "merge":
                    ident = (key_node.tag, key_node.value)
                    if ident in seen:
                        fail(f"duplicate key {key_node.value!r}", key_node, path)
                    seen.add(ident)
                child_path = f"{path}.{label}" if path else str(label)
                children += [(key_node, child_path), (value_node, child_path)]
        else:
            children = []
            scalar(node, path)
        for child, child_path in children:
            child_count, child_depth = visit(child, child_path)
            count += child_count
            depth = max(depth, child_depth)
            if count > MAX_NODES:
                if aliased[0]:
                    fail(f"too many values once aliases are expanded (over {MAX_NODES:,})",
                         node, path)
                kind = "list" if isinstance(node, SequenceNode) else "mapping"
                fail(f"too long: this {kind} holds more than {MAX_NODES:,} values, the limit "
                     "for a config", node, path)
        if depth + 1 > MAX_DEPTH:
            fail(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded", node, path)
        active.discard(key)
        sizes[key] = (count, depth + 1)
        return sizes[key]

    def scalar(node: Node, path: str) -> None:
        kind = node.tag.replace(_TAG, "")
        if kind not in ("int", "float", "bool"):
            return
        if kind == "int" and len(node.value) > MAX_INT_DIGITS:
            fail(f"integer too large (more than {MAX_INT_DIGITS:,} digits)", node, path)
        try:
            value = loader.construct_object(node)
        except (ValueError, KeyError, TypeError):
            fail(f"not a valid {kind}: {node.value[:40]!r}", node, path)
        if kind == "int" and value.bit_length() > MAX_INT_BITS:
            fail(f"integer too large (more than {MAX_INT_DIGITS:,} digits)", node, path)

    visit(root, "")


def _plain(data: Any, source: str) -> Any:
    """A deep copy as plain dicts and lists, refusing more than MAX_NODES values, nesting
    deeper than MAX_DEPTH and non-string keys."""
    budget = [MAX_NODES]

    def copy(value: Any, path: str, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"more than {MAX_NODES:,} values", source=source)
        if depth > MAX_DEPTH:
            raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", path=path,
                              source=source)
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ConfigError("keys must be strings", path=path, source=source,
                                      value=key)
                out[key] = copy(item, f"{path}.{key}" if path else key, depth + 1)
            return out
        if isinstance(value, (list, tuple)):
            return [copy(item, f"{path}.{i}" if path else str(i), depth + 1)
                    for i, item in enumerate(value)]
        return value

    return copy(data, "", 0)


# -- validation -------------------------------------------------------------------------------


class _Parser:
    """Checks one config's plain data; raises ConfigError at the first broken rule."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str, *value: Any) -> None:
        if value:
            raise ConfigError(problem, path=path, source=self.source, value=value[0])
        raise ConfigError(problem, path=path, source=self.source)

    # generic checks

    def mapping(self, value: Any, path: str, allowed: Sequence[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping", value)
        for key in value:
            if key not in allowed:
                # at the top level, a known section's key written one level too high counts
                nested = {} if path else _NESTED_KEYS
                match = difflib.get_close_matches(key, [*allowed, *nested], n=1)
                hint = (f"; did you mean {nested.get(match[0], match[0])!r}?" if match
                        else f"; valid keys: {', '.join(allowed)}")
                self.fail(f"{path}.{key}" if path else key, "unknown key" + hint)
        return dict(value)

    def integer(self, value: Any, path: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be an integer", value)
        if value < minimum:
            self.fail(path, f"must be >= {minimum}", value)
        return value

    def text(self, value: Any, path: str, *, limit: int | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty string", value)
        if limit is not None and len(value) > limit:
            self.fail(path, f"must be at most {limit} characters", value)
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            self.fail(path, "must not contain control characters or newlines", value)
        return value

    def optional_text(self, value: Any, path: str) -> str | None:
        return None if value is None else self.text(value, path)

    # sections

    def config(self, data: dict[str, Any]) -> SweepConfig:
        self.mapping(data, "", _TOP_KEYS)
        if data.get("objective") is None:
            self.fail("objective", "required")
        define_by_run = data.get("space") is None  # f(trial) asks the study for each param
        if define_by_run and not _is_callable(data["objective"]):
            self.fail("space", "required (only a module:function objective may define its "
                      "params by run, as optuna's trial.suggest_* do)")
        if "experiment" in data:
            experiment = self.text(data["experiment"], "experiment", limit=MAX_NAME_LENGTH)
        elif self.source.startswith("<"):
            self.fail("experiment", "required (no file name to default to)")
        else:
            experiment = self.text(Path(self.source).stem, "experiment", limit=MAX_NAME_LENGTH)
        name = data.get("name")
        if name is not None:
            name = self.text(name, "name", limit=MAX_NAME_LENGTH)
        space = Space(()) if define_by_run else Space.from_mapping(data["space"],
                                                                    source=self.source)
        metrics = self.metrics(data)
        objective = self.objective(data["objective"], space)
        sampler = self.sampler(data.get("sampler"), space, metrics)
        pruner = self.pruner(data.get("pruner"), metrics)
        budget = self.budget(data.get("budget"), pruner, space)
        execution = self.execution(data.get("execution"))
        tracking = self.mapping(data.get("tracking"), "tracking", _SECTION_KEYS["tracking"])
        uri = self.optional_text(tracking.get("uri"), "tracking.uri")
        report_path, report_enabled = self.report(data.get("report", True))
        return SweepConfig(
            experiment=experiment, name=name, objective=objective, metrics=metrics,
            space=space, sampler=sampler, pruner=pruner, budget=budget, execution=execution,
            tracking_uri=uri, report_path=report_path, report_enabled=report_enabled,
            register=self.register(data.get("register"), metrics),
            seed_param=self.seed(data.get("seed"), space),
            stop_when=self.stop_when(data.get("stop_when"), metrics), source=self.source,
            raw=freeze(data),
        )

    def metrics(self, data: dict[str, Any]) -> tuple[MetricSpec, ...]:
        has_one, has_many = data.get("metric") is not None, data.get("metrics") is not None
        if has_one and has_many:
            self.fail("metrics", "give either metric or metrics, not both")
        if not has_one and not has_many:
            self.fail("metric", "required (or metrics: a list)")
        if has_one:
            items, base = [data["metric"]], "metric"
        else:
            items, base = data["metrics"], "metrics"
            if not isinstance(items, list) or not items:
                self.fail("metrics", "must be a non-empty list of {name, goal}", items)
        out: list[MetricSpec] = []
        for index, item in enumerate(items):
            path = base if has_one else f"metrics.{index}"
            item = self.mapping(item, path, ("name", "goal", "target", "use", "k"))
            if "name" not in item:
                self.fail(f"{path}.name", "required")
            if "goal" not in item:
                self.fail(f"{path}.goal", "required: maximize or minimize")
            name = self.text(item["name"], f"{path}.name", limit=MAX_NAME_LENGTH)
            if any(m.name == name for m in out):
                self.fail(f"{path}.name", "duplicate metric name", name)
            goal = self.goal(item["goal"], f"{path}.goal")
            target = item.get("target")
            if target is not None:
                target = self.finite(target, f"{path}.target")
            use = item.get("use", "last")
            if use not in METRIC_USES:
                self.fail(f"{path}.use", f"must be one of {', '.join(METRIC_USES)}", use)
            if "k" in item and use != "mean_last_k":
                self.fail(f"{path}.k", "only used with use: mean_last_k", item["k"])
            k = self.integer(item.get("k", 3), f"{path}.k", 1)
            out.append(MetricSpec(name, goal, target, use, k))
        return tuple(out)

    def goal(self, value: Any, path: str) -> Goal:
        goal = {"maximize": Goal.MAXIMIZE, "max": Goal.MAXIMIZE, "minimize": Goal.MINIMIZE,
                "min": Goal.MINIMIZE}.get(value) if isinstance(value, str) else None
        if goal is None:
            self.fail(path, "must be maximize or minimize", value)
        return goal

    def finite(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            self.fail(path, "must be a finite number", value)
        return float(value)

    def stop_when(self, value: Any, metrics: tuple[MetricSpec, ...]) -> StopWhen | None:
        """`stop_when:`, W&B's target for any metric; an objective metric's goal is its own."""
        if value is None:
            return None
        data = self.mapping(value, "stop_when", ("metric", "reaches", "goal"))
        for key in ("metric", "reaches"):
            if key not in data:
                self.fail(f"stop_when.{key}", "required (stop_when: {metric: NAME, reaches: "
                          "NUMBER})")
        name = self.text(data["metric"], "stop_when.metric", limit=MAX_NAME_LENGTH)
        reaches = self.finite(data["reaches"], "stop_when.reaches")
        goal = None if data.get("goal") is None else self.goal(data["goal"], "stop_when.goal")
        objective = next((m for m in metrics if m.name == name), None)
        if objective is not None:
            if goal not in (None, objective.goal):
                self.fail("stop_when.goal", f"{name!r} is an objective metric to "
                          f"{objective.goal.value}", data["goal"])
            goal = objective.goal
        elif goal is None:
            self.fail("stop_when.goal", f"required: {name!r} is not an objective metric; "
                      "say maximize or minimize")
        if any(m.target is not None for m in metrics):
            self.fail("stop_when", "give stop_when or metric.target, not both")
        return StopWhen(name, reaches, goal)

    def seed(self, value: Any, space: Space) -> str | None:
        """`seed: {param: NAME}` (or `seed: NAME`): the param that is a trial's seed."""
        if value is None:
            return None
        if not isinstance(value, (str, Mapping)):
            self.fail("seed", "must be {param: NAME} or a param's name (the sampler's own "
                      "seed is sampler.seed)", value)
        path = "seed" if isinstance(value, str) else "seed.param"
        data = {"param": value} if isinstance(value, str) else \
            self.mapping(value, "seed", ("param",))
        if "param" not in data:
            self.fail(path, "required: the name of the param that is the seed")
        name = self.text(data["param"], path, limit=MAX_NAME_LENGTH)
        if not len(space):  # define-by-run: the objective suggests it
            return name
        if name not in space:
            hint = difflib.get_close_matches(name, list(space.names), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            self.fail(path, f"not a parameter of the space{extra}", name)
        if name in space.conditional:
            self.fail(path, "names a conditional parameter, absent when its condition fails",
                      name)
        param = space[name]
        values = (param.choices if isinstance(param, CategoricalParam)
                  else (param.value,) if isinstance(param, FixedParam) else None)
        if not isinstance(param, IntParam) and (values is None or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values)):
            self.fail(path, "must name an int param, an int constant or a list of ints", name)
        return name

    def objective(self, value: Any, space: Space) -> ObjectiveSpec:
        if isinstance(value, str):
            if not _CALLABLE.fullmatch(value):
                self.fail("objective", "must be 'module:function' or {command: ...}", value)
            return ObjectiveSpec(callable=value, command=None)
        data = self.mapping(value, "objective", ("callable", "command", "cwd", "env", "wandb"))
        if "wandb" in data:  # a W&B sweep's program/command (sweeps.compat); cwd and env
            # are checked as a command's are
            if "callable" in data or "command" in data:
                self.fail("objective.wandb", "cannot be combined with callable or command")
            plain = self.objective({"command": "wandb", **{k: data[k] for k in ("cwd", "env")
                                                          if k in data}}, space)
            wandb = wandb_config.parse_objective(data["wandb"], source=self.source)
            return ObjectiveSpec(callable=None, command=wandb_config.describe_command(wandb),
                                 cwd=plain.cwd, env=plain.env, wandb=wandb)
        if ("callable" in data) == ("command" in data):
            self.fail("objective", "needs exactly one of callable or command", value)
        if "callable" in data:
            for key in ("cwd", "env"):
                if key in data:
                    self.fail(f"objective.{key}", "only valid with command")
            return self.objective(data["callable"], space)
        command = self.text(data["command"], "objective.command")
        self.placeholders(command, space)
        cwd = self.optional_text(data.get("cwd"), "objective.cwd")
        env = data.get("env") or {}
        if not isinstance(env, Mapping):
            self.fail("objective.env", "must be a mapping of NAME: value", env)
        for key, item in env.items():
            if not _ENV_NAME.fullmatch(key):
                self.fail(f"objective.env.{key}", "not a valid environment variable name", key)
            if not isinstance(item, str):
                self.fail(f"objective.env.{key}", "must be a string (quote it)", item)
            if "\0" in item:
                self.fail(f"objective.env.{key}", "must not contain NUL", item)
        return ObjectiveSpec(callable=None, command=command, cwd=cwd,
                             env=MappingProxyType(dict(env)))

    def placeholders(self, command: str, space: Space) -> None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(command) if f is not None]
        except ValueError as error:
            self.fail("objective.command", f"bad braces: {error}; write {{{{ }}}} for literal "
                      "braces", command)
        for name in fields:
            if name not in space:
                hint = difflib.get_close_matches(name, list(space.names), n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                self.fail("objective.command",
                          f"placeholder {{{name}}} is not a parameter of the space{extra}",
                          command)
            if name in space.conditional:
                self.fail("objective.command",
                          f"placeholder {{{name}}} names a conditional parameter, absent "
                          "when its condition fails", command)

    def typed_section(self, value: Any, path: str) -> dict[str, Any]:
        """``sampler:``/``pruner:`` as a mapping; a bare string is shorthand for its type."""
        if value is None:
            return {}
        if isinstance(value, str):
            return {"type": value}
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping like {type: ...} or a type name", value)
        return dict(value)

    def sampler(self, value: Any, space: Space, metrics: tuple[MetricSpec, ...]) -> SamplerSpec:
        data = self.typed_section(value, "sampler")
        kind = data.pop("type", "tpe")
        if not isinstance(kind, str) or kind not in search.SAMPLERS:
            valid = ", ".join(sorted(search.SAMPLERS))
            self.fail("sampler.type", f"unknown sampler; valid: {valid}", kind)
        seed = data.pop("seed", None)
        if seed is not None:
            self.integer(seed, "sampler.seed", 0)
            if seed >= 2**32:
                self.fail("sampler.seed", "must be < 2**32", seed)
        self.options(data, search.sampler_options(kind), "sampler", kind)
        if kind in search.SINGLE_OBJECTIVE_SAMPLERS and len(metrics) > 1:
            self.fail("sampler.type", f"{kind} supports a single objective metric only "
                      f"({len(metrics)} metrics given)", kind)
        if kind in ("grid", "wandb_grid"):
            self.grid(space)
        spec = SamplerSpec(kind, seed, freeze(data))
        if kind != "grid" and data and search.missing_requirement(kind) is None:
            self.probe("sampler", lambda: search.build_sampler(spec, space, source=self.source))
        return spec

    def grid(self, space: Space) -> None:
        if not len(space):
            self.fail("sampler.type", "grid needs a declared space (a define-by-run objective "
                      "has none; pass optuna's GridSampler to sweeps.create_study)", "grid")
        for param in space:
            if getattr(param, "when", None):
                self.fail(f"space.{param.name}.when", "not supported with sampler grid")
            if isinstance(param, FloatParam) and param.step is None:
                self.fail(f"space.{param.name}",
                          "sampler grid needs a finite grid: give a float a step, or use "
                          "int or categorical")
        size = space.grid_size()
        if size is None:
            self.fail("space", "sampler grid needs a finite grid (a continuous W&B "
                      "distribution has none)")
        if size > MAX_GRID_SIZE:
            self.fail("space", f"grid has {size:,} points, more than {MAX_GRID_SIZE:,}")

    def pruner(self, value: Any, metrics: tuple[MetricSpec, ...]) -> PrunerSpec:
        data = self.typed_section(value, "pruner")
        kind = data.pop("type", "none")
        if not isinstance(kind, str) or kind not in search.PRUNERS:
            valid = ", ".join(sorted(search.PRUNERS))
            self.fail("pruner.type", f"unknown pruner; valid: {valid}", kind)
        aliases = search.PRUNER_ALIASES.get(kind, {})
        for alias, real in aliases.items():
            if alias in data and real in data:
                self.fail(f"pruner.{alias}", f"give {alias} or {real}, not both")
        self.options(data, search.pruner_options(kind), "pruner", kind, aliases)
        if kind != "none" and len(metrics) > 1:
            self.fail("pruner.type", "pruning needs a single objective metric", kind)
        spec = PrunerSpec(kind, freeze(data))
        self.probe("pruner", lambda: search.build_pruner(spec))
        return spec

    def options(self, data: dict[str, Any], known: Mapping[str, Any], section: str,
                kind: str, aliases: Mapping[str, str] | None = None) -> None:
        aliases = aliases or {}
        for given, value in data.items():
            path = f"{section}.{given}"
            key = aliases.get(given, given)
            if key not in known:
                valid = ", ".join(sorted(k for k, o in known.items() if o is not None))
                if not valid:
                    only = " but seed" if section == "sampler" else ""
                    self.fail(path, f"{section} {kind} takes no options{only}")
                match = difflib.get_close_matches(key, [k for k in known if known[k]], n=1)
                hint = f"; did you mean {match[0]!r}?" if match else ""
                self.fail(path, f"unknown option for {section} {kind}{hint} "
                          f"(valid: {valid or 'none'})")
            option = known[key]
            if option is None:
                self.fail(path, "takes a Python object; not settable from a config")
            if not option.accepts(value):
                self.fail(path, f"must be {option.type_names()}", value)
        for key, option in known.items():
            given = {aliases.get(k, k) for k in data}
            if option is not None and option.required and key not in given:
                self.fail(f"{section}.{key}", f"required for {section} {kind}")

    def probe(self, section: str, build: Any) -> None:
        """Build the object once so optuna's own argument checks run now, not mid-sweep."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build()
        except (ValueError, TypeError) as error:
            self.fail(section, f"rejected by optuna: {error}")

    def budget(self, value: Any, pruner: PrunerSpec, space: Space) -> Budget:
        data = self.mapping(value, "budget", _SECTION_KEYS["budget"])
        trials = data.get("trials")
        if trials is not None:
            trials = self.integer(trials, "budget.trials", 1)
        timeout = data.get("timeout")
        if timeout is not None:
            timeout = parse_duration(timeout, "budget.timeout", source=self.source)
        if trials is None and timeout is None:
            trials = DEFAULT_TRIALS
        failures = data.get("max_failures")
        if failures is not None:
            failures = self.integer(failures, "budget.max_failures", 0)
        repeats = self.integer(data.get("repeats", 1), "budget.repeats", 1)
        if repeats > 1 and pruner.type != "none":
            self.fail("budget.repeats", "pruning needs one run per trial; set pruner: none "
                      f"(pruner is {pruner.type})")
        if repeats > 1 and not len(space):
            self.fail("budget.repeats", "needs a declared space: a define-by-run objective "
                      "draws its params as it runs, so its repeats could not share them")
        return Budget(trials, timeout, failures, repeats)

    def execution(self, value: Any) -> Execution:
        data = self.mapping(value, "execution", _SECTION_KEYS["execution"])
        backend = data.get("backend", "local")
        if backend not in BACKENDS:
            self.fail("execution.backend", f"unknown backend; valid: {', '.join(BACKENDS)}",
                      backend)
        workers = self.integer(data.get("workers", 1), "execution.workers", 1)
        retries = self.integer(data.get("retries", 0), "execution.retries", 0)
        trial_timeout = data.get("trial_timeout")
        if trial_timeout is not None:
            trial_timeout = parse_duration(trial_timeout, "execution.trial_timeout",
                                           source=self.source)
        resources = self.resources(data.get("resources"))
        ray = self.mapping(data.get("ray"), "execution.ray", ("address",))
        address = ray.get("address")
        if address is not None:
            self.address(address)
        cap = data.get("max_artifact_bytes", DEFAULT_MAX_ARTIFACT_BYTES)
        cap = int(parse_memory(cap, "execution.max_artifact_bytes", source=self.source))
        return Execution(backend, workers, trial_timeout, retries, resources, RaySpec(address),
                         cap)

    def resources(self, value: Any) -> Mapping[str, float]:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.fail("execution.resources", "must be a mapping like {cpu: 1, gpu: 0.5}", value)
        out = {"cpu": 1.0}
        for key, item in value.items():
            path = f"execution.resources.{key}"
            if not key.strip():
                self.fail(path, "resource names must be non-empty", key)
            if key == "memory":
                out[key] = parse_memory(item, path, source=self.source)
                continue
            if isinstance(item, bool) or not isinstance(item, (int, float)) \
                    or not _finite(item):
                self.fail(path, "must be a finite number", item)
            if item < 0:
                self.fail(path, "must be >= 0", item)
            out[key] = float(item)
        return MappingProxyType(out)

    def address(self, value: Any) -> None:
        path = "execution.ray.address"
        if not isinstance(value, str):
            self.fail(path, "must be null, 'auto', 'HOST:PORT' or 'ray://HOST:PORT'", value)
        if value == "auto":
            return
        match = _HOST_PORT.fullmatch(value)
        if not match or not 1 <= int(match.group(2)) <= 65535:
            self.fail(path, "must be null, 'auto', 'HOST:PORT' or 'ray://HOST:PORT'", value)

    def report(self, value: Any) -> tuple[str | None, bool]:
        if value is False:
            return None, False
        if value is True or value is None:
            value = {}
        data = self.mapping(value, "report", _SECTION_KEYS["report"])
        path = data.get("path")
        if path is None:  # the report's default place is per sweep (sweeps.report)
            return None, True
        path = self.text(path, "report.path")
        if not path.lower().endswith(".html"):
            self.fail("report.path", "must end with .html", path)
        return path, True

    def register(self, value: Any, metrics: tuple[MetricSpec, ...]) -> RegisterSpec | None:
        """The registry's own rules (tracking.registry), checked before the sweep runs."""
        if value is None or value is False:
            return None
        if len(metrics) > 1:
            self.fail("register", "needs a single objective (with several, promote one trial "
                      "of the Pareto set: sweeps promote SWEEP --trial N)")
        data = self.mapping({} if value is True else value, "register",
                            _SECTION_KEYS["register"])
        name = self.optional_text(data.get("name"), "register.name")
        if name is not None and any(c in name for c in "/:"):
            self.fail("register.name", "a model name cannot contain '/' or ':'", name)
        alias = self.text(data.get("alias", "champion"), "register.alias")
        if not _ALIAS.fullmatch(alias) or alias.lower() == "latest" \
                or re.fullmatch(r"[vV]\d+", alias):
            self.fail("register.alias", "must be letters, digits, '_' and '-', and not "
                      "'latest' or 'v<N>'", alias)
        return RegisterSpec(name, alias, self.text(data.get("model_path", "model"),
                                                   "register.model_path"))


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    if value is None:
        return "null"
    return type(value).__name__
