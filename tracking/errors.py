"""The exceptions tracking raises, in one place.

    MlflowException                  (tracking.exceptions: `.message`, `.error_code`)
    └── TrackingError
        ├── NotFoundError            (also a KeyError: a missing experiment, run or artifact)
        ├── ParamConflictError       (also a ValueError: a param logged again with another value)
        ├── InvalidInputError        (also a ValueError: a bad key, value, name or argument)
        │   ├── ArtifactPathError    (an artifact path that would leave the run's folder)
        │   └── FilterSyntaxError    (a malformed search filter or order_by, with its position)
        └── StoreError               (the store cannot be opened or written)
"""

from __future__ import annotations

from tracking.exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    MlflowException,
)


class TrackingError(MlflowException):
    """Base of every error tracking raises on purpose."""


class NotFoundError(TrackingError, KeyError):
    """An experiment, run or artifact that does not exist."""

    error_code = RESOURCE_DOES_NOT_EXIST

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ParamConflictError(TrackingError, ValueError):
    """A param logged again with a different value (params are immutable)."""

    error_code = INVALID_PARAMETER_VALUE


class InvalidInputError(TrackingError, ValueError):
    """A key, value, name or argument that tracking refuses."""

    error_code = INVALID_PARAMETER_VALUE


class ArtifactPathError(InvalidInputError):
    """An artifact path that is absolute, escapes the run folder or is otherwise unsafe."""


class FilterSyntaxError(InvalidInputError):
    """A malformed filter or order_by clause; `position` is the 0-based offset of the bad token."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at position {position})")
        self.position = position


class StoreError(TrackingError):
    """The store cannot be opened, migrated or written."""
