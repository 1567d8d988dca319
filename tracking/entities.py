"""Frozen value objects returned by tracking, shaped like MLflow's entities."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tracking.errors import InvalidInputError


class RunStatus(str, enum.Enum):
    """Lifecycle of a run. QUEUED is a sweep trial sent to a busy worker, not started yet
    (it becomes RUNNING when it starts); PRUNED is for sweep trials stopped early by a pruner."""

    QUEUED = "QUEUED"
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


class ViewType(enum.IntEnum):
    """Which runs or experiments a search sees, by lifecycle stage (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @classmethod
    def parse(cls, value: str | int | ViewType | None) -> ViewType:
        """`ViewType.parse("all")` -> ViewType.ALL; None -> ACTIVE_ONLY."""
        if value is None:
            return cls.ACTIVE_ONLY
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                pass
        else:
            try:
                return cls(value)
            except ValueError:
                pass
        valid = ", ".join(v.name for v in cls)
        raise InvalidInputError(f"view type: unknown {value!r}; valid: {valid}")

    def sees(self, lifecycle_stage: str) -> bool:
        """Whether an entity in `lifecycle_stage` ('active' or 'deleted') is seen."""
        return self is ViewType.ALL or (lifecycle_stage == "deleted") == (
            self is ViewType.DELETED_ONLY)


LIFECYCLE_TAG = "sweepbook.lifecycle"
"""The experiment tag that marks a deleted experiment (`Client.delete_experiment`)."""


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

    @property
    def lifecycle_stage(self) -> str:
        """'deleted' after `Client.delete_experiment`, else 'active' (as MLflow)."""
        return "deleted" if self.tags.get(LIFECYCLE_TAG) == "deleted" else "active"


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


# -- summaries for tables (counts and pages, read without loading whole runs) ---------------


@dataclass(frozen=True)
class ExperimentStats:
    """Counts over an experiment's active runs; `last_activity` is the latest start or end
    time (ms), None without runs. `matching_count` counts the runs matching the filter asked."""

    experiment_id: str
    run_count: int
    top_level_count: int
    matching_count: int
    status_counts: Mapping[str, int]
    last_activity: int | None


@dataclass(frozen=True)
class RunGroup:
    """A top-level run with its direct children: `matched` is False when the run is listed
    only because a child matches; `children` are the first matching children's ids."""

    run_id: str
    matched: bool
    child_count: int
    child_matching: int
    children: tuple[str, ...]


@dataclass(frozen=True)
class RunGroups:
    """One page of run groups and the number of groups over every page."""

    total: int
    groups: tuple[RunGroup, ...]


@dataclass(frozen=True)
class RunIds:
    """One page of run ids and the number of matching runs over every page."""

    total: int
    run_ids: tuple[str, ...]


@dataclass(frozen=True)
class KeyStats:
    """A param, metric or tag key among some runs: in how many it is `present`, and whether
    its value `varies` (more than one value among them)."""

    key: str
    present: int
    varies: bool


@dataclass(frozen=True)
class RunKeys:
    """Every param, metric (latest value) and tag key of the runs matching a filter."""

    matching_runs: int
    params: tuple[KeyStats, ...]
    metrics: tuple[KeyStats, ...]
    tags: tuple[KeyStats, ...]


@dataclass(frozen=True)
class MetricStats:
    """The size of one metric's history in one run, and its lowest and highest value
    (NaN when every value is NaN)."""

    points: int
    min_step: int
    max_step: int
    last_timestamp: int
    min_value: float = math.nan
    max_value: float = math.nan


@dataclass(frozen=True)
class ChildStats:
    """Activity of a run and its direct children, for live progress: `status_counts` are the
    active children's; the others cover the run and its children (times in ms, or None)."""

    status_counts: Mapping[str, int]
    last_start: int | None
    last_end: int | None
    metric_points: int
    last_metric_timestamp: int | None
    tag_count: int
