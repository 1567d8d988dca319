"""The store contract: what every tracking store does, whatever it is built on.

A store keeps experiments, runs, params, metrics, tags and notes. Artifacts are files
under the store's root and are handled by `tracking.artifacts`, not by the store.

Contract (checked by tests/tracking/test_store_contract.py against every store):
- Thread-safe within a process; many processes may write one store at once and lose nothing.
- `apply(batch)` is atomic: all of a batch is written, or none of it.
- Params are immutable: a batch that logs a param again with another value raises
  `ParamConflictError` and writes nothing; the same value again is a no-op.
- Metric values are stored exactly, NaN and +/-inf included; the same point may be logged twice.
- Methods that fetch one thing (`get_*`) raise `NotFoundError`; `search_*` may return [].
- Entities go out as `tracking.entities` values; no database row ever leaves the store.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

from tracking.entities import Experiment, Metric, Run, RunInfo, RunStatus


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
    ends: dict[str, tuple[RunStatus, int | None]] = field(default_factory=dict)
    """run_id -> (status, end_time_ms); applied after everything else in the batch."""

    def __len__(self) -> int:
        return (len(self.new_runs) + len(self.metrics) + len(self.params) + len(self.tags)
                + len(self.notes) + len(self.ends))

    def extend(self, other: Batch) -> None:
        """Append `other`'s writes after this batch's (later notes and ends win)."""
        self.new_runs += other.new_runs
        self.metrics += other.metrics
        self.params += other.params
        self.tags += other.tags
        self.notes.update(other.notes)
        self.ends.update(other.ends)


class Store(abc.ABC):
    """Experiments and runs, kept durably. See the module docstring for the contract."""

    root: str
    """The tracking root folder; artifacts live under `<root>/artifacts/`."""

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
