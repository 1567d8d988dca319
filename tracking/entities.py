"""Frozen value objects returned by tracking, shaped like MLflow's entities."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tracking.errors import InvalidInputError


class RunStatus(str, enum.Enum):
    """Lifecycle of a run. PRUNED is for sweep trials stopped early by a pruner."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    PRUNED = "PRUNED"

    @classmethod
    def parse(cls, value: str | RunStatus) -> RunStatus:
        """`RunStatus.parse("finished")` -> RunStatus.FINISHED; unknown names raise
        InvalidInputError (a ValueError)."""
        if isinstance(value, RunStatus):
            return value
        try:
            return cls[str(value).upper()]
        except KeyError:
            valid = ", ".join(s.value for s in cls)
            raise InvalidInputError(
                f"status: unknown run status {value!r}; valid: {valid}") from None


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Metric:
    """One point of a metric's history. `timestamp` is milliseconds since the epoch."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    creation_time: int
    tags: Mapping[str, str] = field(default_factory=lambda: _frozen(None))


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    run_name: str
    experiment_id: str
    parent_run_id: str | None
    status: RunStatus
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = "active"

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass(frozen=True)
class RunData:
    """Params (as text), latest metric values, tags and the run's note."""

    params: Mapping[str, str]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    note: str = ""


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData


@dataclass(frozen=True)
class FileInfo:
    """An artifact: `path` is relative to the run's artifact folder, with '/' separators."""

    path: str
    is_dir: bool
    file_size: int | None
