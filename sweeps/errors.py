"""The exceptions sweeps raises, in one place.

    SweepsError
    ├── ConfigError      (also a ValueError: a sweep config that breaks a rule)
    ├── SweepError       (a sweep that cannot start or go on)
    └── TrialPruned      (raised by an objective to stop its trial early)
"""

from __future__ import annotations

import reprlib
from typing import Any

_NO_VALUE: Any = object()
_REPR_LIMIT = 60

_repr = reprlib.Repr()
_repr.maxstring = _REPR_LIMIT
_repr.maxother = _REPR_LIMIT
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


def short_repr(value: Any) -> str:
    """`repr(value)` on one line and cut to about 60 characters (cheap on huge values)."""
    text = _repr.repr(value)
    if len(text) > _REPR_LIMIT:
        text = text[: _REPR_LIMIT - 3] + "..."
    return _one_line(text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class SweepsError(Exception):
    """Base of every error sweeps raises on purpose."""


class ConfigError(SweepsError, ValueError):
    """A sweep config that breaks a rule; the message is one line.

    ``str(error)`` reads ``<source>[:line:col]: <path>: <problem> (got <value>)``, e.g.
    ``configs/x.yaml: space.lr.low: must be > 0 when log: true (got 0)``.

    Attributes: ``source`` (file name or ``"<dict>"``), ``path`` (dotted field path, ``""``
    for the whole file), ``problem`` (the rule broken), ``value`` (the bad value, or absent),
    ``line`` and ``column`` (1-based, where the YAML parser reported a position).
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str = "",
        source: str = "<dict>",
        value: Any = _NO_VALUE,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problem = _one_line(problem)
        self.path = path
        self.source = source
        self.line = line
        self.column = column
        self.has_value = value is not _NO_VALUE
        self.value = value if self.has_value else None
        where = source if line is None else f"{source}:{line}:{column}"
        parts = [part for part in (where, _one_line(path), self.problem) if part]
        message = ": ".join(parts)
        if self.has_value:
            message += f" (got {short_repr(value)})"
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # keyword-only __init__: pickle the state, not the args
        return (_rebuild_config_error, (type(self), self.__dict__))


def _rebuild_config_error(cls: type[ConfigError], state: dict[str, Any]) -> ConfigError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (state["message"],)
    return error


class SweepError(SweepsError):
    """A sweep that cannot start or go on (a one-line reason for the user)."""


class TrialPruned(SweepsError):
    """Raised by an objective to stop its trial early (optuna's TrialPruned works too)."""
