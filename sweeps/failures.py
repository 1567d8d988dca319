"""Failed attempts grouped by error: `KeyError: 4` and `KeyError: 5` are one group, `KeyError` × 2.

Pure functions over small records, used by the report and by `sweeps show SWEEP`:

    >>> groups = group_failures([FailedAttempt(0, 1, {"x": 4}, "KeyError: 4"),
    ...                          FailedAttempt(1, 1, {"x": 5}, "KeyError: 5")])
    >>> [(g.error_type, g.pattern, g.count) for g in groups]
    [('KeyError', 'KeyError: #', 2)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_ERROR", "FailedAttempt", "FailureGroup", "error_pattern", "group_failures"]

NO_ERROR = "(no error message was recorded)"

# Order matters: quoted text first (it may hold paths and numbers), then hex addresses, then
# paths, then numbers. Each alternative becomes one placeholder.
_BLANKS = [
    (re.compile(r"'[^'\n]*'|\"[^\"\n]*\""), "'…'"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "0x…"),
    (re.compile(r"(?<![\w.])(?:[A-Za-z]:\\|~?\.{0,2}/)[^\s'\"(),;:]*"), "<path>"),
    (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "#"),  # `3s` -> `#s`
]
_TYPE = re.compile(r"([A-Za-z_][\w.]*)\s*:")


def error_pattern(error: str) -> str:
    """`error` with what varies between alike failures blanked, whitespace collapsed.

    Quoted strings become `'…'`, hex addresses `0x…`, paths `<path>`, numbers `#`:

        >>> error_pattern("KeyError: 4 at 0x7f3a in '/tmp/run 1/x.py'")
        "KeyError: # at 0x… in '…'"
    """
    text = " ".join(error.split())
    for regex, placeholder in _BLANKS:
        text = regex.sub(placeholder, text)
    return text


def _error_type(error: str) -> str:
    """The exception name that opens `error` (`KeyError`, `pkg.MyError`), or ''."""
    match = _TYPE.match(error.strip())
    return match.group(1) if match else ""


@dataclass(frozen=True)
class FailedAttempt:
    """One failed (or killed) attempt of a trial, with the error text it recorded."""

    number: int
    attempt: int
    params: Mapping[str, Any]
    error: str
    run_id: str = ""


@dataclass(frozen=True)
class FailureGroup:
    """Attempts whose errors share one pattern; `example` is the first error as recorded."""

    error_type: str
    pattern: str
    example: str
    attempts: tuple[FailedAttempt, ...]

    @property
    def count(self) -> int:
        return len(self.attempts)

    @property
    def title(self) -> str:
        """`KeyError × 3`, or the pattern itself when no exception type opens the error."""
        return f"{self.error_type or self.pattern} × {self.count}"


def group_failures(attempts: Iterable[FailedAttempt]) -> list[FailureGroup]:
    """Group attempts by error type and pattern, the largest group first (ties: first seen).

    An attempt without an error text is grouped under NO_ERROR.

        >>> [g.title for g in group_failures([FailedAttempt(0, 1, {}, "")])]
        ['(no error message was recorded) × 1']
    """
    grouped: dict[str, list[FailedAttempt]] = {}
    for attempt in attempts:
        error = attempt.error.strip() or NO_ERROR
        grouped.setdefault(error_pattern(error), []).append(attempt)
    groups = [FailureGroup(_error_type(members[0].error), pattern,
                           members[0].error.strip() or NO_ERROR, tuple(members))
              for pattern, members in grouped.items()]
    return sorted(groups, key=lambda g: -g.count)  # sorted() is stable: ties stay first seen
