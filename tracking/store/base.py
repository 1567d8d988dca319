"""The store contract: what every tracking store does, whatever it is built on.

A store keeps experiments, runs, params, metrics, tags and notes. Artifacts are files
under the store's `artifact_root` and are handled by `tracking.artifacts`, not by the store.
Stores are made by `tracking.store.open_store(uri)`.

Contract (checked by `tracking.testing`, the contract suite, against every store):
- Thread-safe within a process; many processes may write one store at once and lose nothing.
- `apply(batch)` is atomic: all of a batch is written, or none of it.
- Params are immutable: a batch that logs a param again with another value raises
  `ParamConflictError` and writes nothing; the same value again is a no-op.
- Metric values are stored exactly, NaN and +/-inf included; the same point may be logged twice.
- Methods that fetch one thing (`get_*`) raise `NotFoundError`; `search_*` may return [].
- Entities go out as `tracking.entities` values; no database row ever leaves the store.
- Registry: a model version is the next integer for its name, assigned in the transaction
  that records it and never given again (not after a delete, not under concurrent writers);
  an alias names one version, and every set, move and removal of an alias is appended to
  the alias history. Names, aliases and tags arrive validated (`tracking.registry`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tracking.entities import (
    ChildStats,
    Experiment,
    ExperimentStats,
    Metric,
    MetricStats,
    Run,
    RunGroups,
    RunIds,
    RunInfo,
    RunKeys,
    RunStatus,
)
from tracking.registry import AliasMove, ModelVersion, RegisteredModel


@dataclass
class Batch:
    """Writes gathered for one transaction, across any number of runs."""

    new_runs: list[RunInfo] = field(default_factory=list)
    metrics: list[tuple[str, str, float, int, int]] = field(default_factory=list)
    """(run_id, key, value, step, timestamp_ms)"""
    params: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(run_id, key, text value, value type: int | float | bool | str | none)"""
    tags: list[tuple[str, str, str]] = field(default_factory=list)
    """(run_id, key, value)"""
    notes: dict[str, str] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    """run_id -> start_time_ms: a QUEUED run began; it is RUNNING from then. Applied
    after the other writes, before `ends`."""
    ends: dict[str, tuple[RunStatus, int | None]] = field(default_factory=dict)
    """run_id -> (status, end_time_ms); applied after everything else in the batch."""

    def __len__(self) -> int:
        return (len(self.new_runs) + len(self.metrics) + len(self.params) + len(self.tags)
                + len(self.notes) + len(self.starts) + len(self.ends))

    def extend(self, other: Batch) -> None:
        """Append `other`'s writes after this batch's (later notes and ends win)."""
        self.new_runs += other.new_runs
        self.metrics += other.metrics
        self.params += other.params
        self.tags += other.tags
        self.notes.update(other.notes)
        self.starts.update(other.starts)
        self.ends.update(other.ends)

    def by_run(self) -> list[Batch]:
        """This batch as one batch per run, in the order the runs first appear (new runs
        first, so a parent made in this batch comes before its children)."""
        parts: dict[str, Batch] = {}

        def part(run_id: str) -> Batch:
            return parts.setdefault(run_id, Batch())

        for info in self.new_runs:
            part(info.run_id).new_runs.append(info)
        for point in self.metrics:
            part(point[0]).metrics.append(point)
        for param in self.params:
            part(param[0]).params.append(param)
        for tag in self.tags:
            part(tag[0]).tags.append(tag)
        for run_id, text in self.notes.items():
            part(run_id).notes[run_id] = text
        for run_id, start in self.starts.items():
            part(run_id).starts[run_id] = start
        for run_id, end in self.ends.items():
            part(run_id).ends[run_id] = end
        return list(parts.values())


class Store(abc.ABC):
    """Experiments and runs, kept durably. See the module docstring for the contract."""

    root: str
    """Where the store is, for messages and `Client.tracking_uri`: the tracking root
    folder (SQLite) or the database URI without its password (PostgreSQL)."""
    artifact_root: str
    """The folder under which each run's artifact folder `<experiment_id>/<run_id>` lives."""
    read_only: bool
    """True when the store refuses writes (a StoreError names the store)."""

    @abc.abstractmethod
    def create_experiment(self, name: str, tags: dict[str, str] | None = None) -> str:
        """Create an experiment; a duplicate name raises InvalidInputError. Returns its id."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""

    @abc.abstractmethod
    def search_experiments(self) -> list[Experiment]: ...

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def apply(self, batch: Batch) -> None:
        """Write a batch in one transaction (see the contract)."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, ordered by step then timestamp."""

    @abc.abstractmethod
    def get_metric_histories(self, run_ids: Sequence[str]) -> list[tuple[str, Metric]]:
        """Every metric point of many runs as (run_id, Metric), for reports."""

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int | None = None,
        include_deleted: bool = False,
    ) -> list[Run]:
        """Runs matching a filter (see tracking.query), ordered, at most max_results."""

    @abc.abstractmethod
    def param_types(self, run_ids: Sequence[str]) -> dict[tuple[str, str], str]:
        """(run_id, key) -> the logged value's type name, for typed tables and plots."""

    @abc.abstractmethod
    def set_lifecycle(self, run_id: str, stage: str) -> None:
        """Mark a run 'deleted' or 'active' (soft delete)."""

    # -- reads for tables: pages, counts and keys without loading whole runs ---------------
    # They see active runs only. A run is *top-level* in its experiment when it has no
    # parent there: its parent_run_id is None or names no active run of that experiment.

    @abc.abstractmethod
    def experiment_stats(self, filter_string: str = "") -> dict[str, ExperimentStats]:
        """Every experiment's run counts by id (zeros for one without runs);
        `matching_count` counts the runs that match `filter_string`."""

    @abc.abstractmethod
    def search_run_groups(self, experiment_id: str, filter_string: str = "",
                          order_by: Sequence[str] | None = None, *, offset: int = 0,
                          max_results: int = 50, children: int = 20) -> RunGroups:
        """A page of groups (a top-level run and its direct children), counted in groups so
        that a group is never split. A group is listed when its top-level run or any of its
        children matches; groups sort by `order_by` over the top-level runs, and each holds
        the ids of its first `children` matching children in the same order."""

    @abc.abstractmethod
    def search_run_ids(self, experiment_ids: Sequence[str], filter_string: str = "",
                       order_by: Sequence[str] | None = None, *,
                       parent_run_id: str | None = None, offset: int = 0,
                       max_results: int | None = None) -> RunIds:
        """Like `search_runs`, ids only, from `offset`, with the number of matching runs;
        `parent_run_id` keeps only that run's direct children."""

    @abc.abstractmethod
    def run_summaries(self, run_ids: Sequence[str], *, params: Sequence[str] | None = None,
                      metrics: Sequence[str] | None = None,
                      tags: Sequence[str] | None = None) -> list[Run]:
        """The runs among `run_ids` that exist (deleted ones too), in that order and once
        each, holding only the named params, metrics and tags (None: every key; []: none)."""

    @abc.abstractmethod
    def search_run_keys(self, experiment_id: str, filter_string: str = "") -> RunKeys:
        """Every param, metric and tag key of the runs matching `filter_string`, by key.
        A metric `varies` when its latest values differ (NaN differs from any number)."""

    @abc.abstractmethod
    def metric_stats(self, run_ids: Sequence[str]) -> dict[tuple[str, str], MetricStats]:
        """(run_id, key) -> the size of that metric's history."""

    @abc.abstractmethod
    def child_stats(self, run_id: str) -> ChildStats:
        """Counts and latest times of a run and its direct children (see ChildStats)."""

    # -- the model registry (see tracking.registry; names arrive validated) ---------------

    @abc.abstractmethod
    def create_registered_model(self, name: str, description: str = "",
                                tags: Mapping[str, str] | None = None) -> RegisteredModel:
        """A new registered model; an existing name raises InvalidInputError."""

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abc.abstractmethod
    def search_registered_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""

    @abc.abstractmethod
    def update_registered_model(self, name: str, description: str) -> RegisteredModel: ...

    @abc.abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Remove the model with its versions, tags, aliases and alias history."""

    @abc.abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def create_model_version(self, name: str, source: str, run_id: str | None,
                             tags: Mapping[str, str], description: str,
                             user: str) -> ModelVersion:
        """The next version of `name` (the model is created when missing)."""

    @abc.abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    @abc.abstractmethod
    def search_model_versions(self, name: str | None = None,
                              run_id: str | None = None) -> list[ModelVersion]:
        """Versions of `name` and/or from `run_id` (None: any), by name then version."""

    @abc.abstractmethod
    def update_model_version(self, name: str, version: int, description: str) -> ModelVersion: ...

    @abc.abstractmethod
    def delete_model_version(self, name: str, version: int, user: str) -> None:
        """Remove a version; its aliases are removed too, each removal recorded."""

    @abc.abstractmethod
    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: int, user: str,
                                   reason: str = "") -> None:
        """Point `alias` at `version`; a change is recorded (setting the same is a no-op)."""

    @abc.abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str, user: str,
                                      reason: str = "") -> None: ...

    @abc.abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    @abc.abstractmethod
    def get_alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every recorded alias change of `name` (or of one alias), oldest first."""
