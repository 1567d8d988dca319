"""Checks on what callers log. Each failure is one InvalidInputError naming the field."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from tracking.errors import InvalidInputError

MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 8000
MAX_TAG_LENGTH = 8000
MAX_NOTE_LENGTH = 1_000_000
MAX_NAME_LENGTH = 500
_STEP_RANGE = (-(2**63), 2**63 - 1)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f]")  # control characters other than tab


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def key(value: Any, what: str = "key") -> str:
    """A metric, param or tag key: a non-empty string without control characters."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what}: must be a non-empty string (got {_short(value)})")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidInputError(f"{what}: longer than {MAX_KEY_LENGTH} characters "
                                f"(got {len(value)}: {_short(value)})")
    if _has_control(value):
        raise InvalidInputError(f"{what}: control characters are not allowed (got {_short(value)})")
    return value


def name(value: Any, what: str) -> str:
    """An experiment or run name."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what}: must be a non-empty string (got {_short(value)})")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"{what}: longer than {MAX_NAME_LENGTH} characters "
                                f"(got {len(value)})")
    if _has_control(value):
        raise InvalidInputError(f"{what}: control characters are not allowed (got {_short(value)})")
    return value


def metric_value(metric_key: str, value: Any) -> float:
    """A real number (bools, strings and None refused); NaN and +/-inf are kept as they are."""
    if type(value) is float:  # the common case, first
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"metric {metric_key!r}: value must be a number "
                                f"(got {_short(value)})")
    try:
        return float(value)
    except (OverflowError, ValueError):
        raise InvalidInputError(f"metric {metric_key!r}: value {_short(value)} does not fit "
                                "a 64-bit float") from None


def step(metric_key: str, value: Any) -> int:
    if type(value) is int and _STEP_RANGE[0] <= value <= _STEP_RANGE[1]:
        return value
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"metric {metric_key!r}: step must be an integer "
                                f"(got {_short(value)})")
    value = int(value)
    if not _STEP_RANGE[0] <= value <= _STEP_RANGE[1]:
        raise InvalidInputError(f"metric {metric_key!r}: step {_short(value)} is outside the "
                                "64-bit range")
    return value


def timestamp(metric_key: str, value: Any, now_ms: int) -> int:
    if value is None:
        return now_ms
    if type(value) is int and _STEP_RANGE[0] <= value <= _STEP_RANGE[1]:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidInputError(f"metric {metric_key!r}: timestamp must be milliseconds since "
                                f"the epoch (got {_short(value)})")
    value = int(value)
    if not _STEP_RANGE[0] <= value <= _STEP_RANGE[1]:
        raise InvalidInputError(f"metric {metric_key!r}: timestamp {_short(value)} is outside the "
                                "64-bit range")
    return value


def param_value(param_key: str, value: Any) -> tuple[str, str]:
    """(text, type name) of a param value; the type is kept for plots."""
    if value is None:
        kind = "none"
    elif isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, numbers.Integral):
        kind = "int"
    elif isinstance(value, numbers.Real):
        kind = "float"
    else:
        kind = "str"
    text = str(value) if kind != "float" else repr(float(value))
    if len(text) > MAX_PARAM_LENGTH:
        raise InvalidInputError(f"param {param_key!r}: value longer than {MAX_PARAM_LENGTH} "
                                f"characters (got {len(text)})")
    if "\x00" in text:
        raise InvalidInputError(f"param {param_key!r}: NUL characters are not allowed")
    return text, kind


PARAM_TYPES = ("int", "float", "bool", "str", "none")


def param_from_text(param_key: str, text: str, kind: str) -> Any:
    """The value `param_value` encoded as (text, kind): int, float, bool, None or str.

    >>> param_from_text("lr", *param_value("lr", 0.1))
    0.1
    """
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise InvalidInputError(f"param {param_key!r}: {text[:60]!r} is not a {kind}") from None
    if kind == "bool" and text in ("True", "False"):
        return text == "True"
    if kind == "none" and text == "None":
        return None
    if kind == "str":
        return text
    raise InvalidInputError(f"param {param_key!r}: {text[:60]!r} is not a {kind} (types: "
                            f"{', '.join(PARAM_TYPES)})")


def tag_value(tag_key: str, value: Any) -> str:
    text = str(value)
    if len(text) > MAX_TAG_LENGTH:
        raise InvalidInputError(f"tag {tag_key!r}: value longer than {MAX_TAG_LENGTH} characters "
                                f"(got {len(text)})")
    if "\x00" in text:
        raise InvalidInputError(f"tag {tag_key!r}: NUL characters are not allowed")
    return text


def note(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(f"note: must be a string (got {_short(text)})")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInputError(f"note: longer than {MAX_NOTE_LENGTH} characters (got {len(text)})")
    if "\x00" in text:
        raise InvalidInputError("note: NUL characters are not allowed")
    return text
