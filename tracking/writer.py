"""Where the fluent API sends what it logs for the active run.

The default writer (`tracking.client.ClientWriter`) writes to a store. A host that runs
code on someone else's behalf (a sweep's trial worker, a subprocess printing event lines)
provides its own writer, so the same `tracking.log_metric` lands in the right run.
Values reach a writer already validated.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping, Sequence

from tracking.entities import Metric, RunStatus


class RunWriter(abc.ABC):
    """Receives one run's validated writes. Not shared between threads."""

    run_id: str

    @abc.abstractmethod
    def log_metrics(self, metrics: Sequence[Metric]) -> None:
        """Append metric points."""

    @abc.abstractmethod
    def log_params(self, params: Mapping[str, tuple[str, str]]) -> None:
        """key -> (text, type name). Raises ParamConflictError where the store can tell."""

    @abc.abstractmethod
    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    @abc.abstractmethod
    def set_note(self, text: str) -> None: ...

    @abc.abstractmethod
    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None) -> None: ...

    @abc.abstractmethod
    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None) -> None: ...

    @abc.abstractmethod
    def write_artifact(self, relative_file: str, data: bytes) -> None:
        """Store `data` as the artifact file at `relative_file`."""

    @abc.abstractmethod
    def end(self, status: RunStatus) -> None:
        """End the run; for a store, durable before this returns."""

    def flush(self) -> None:  # noqa: B027 - an optional hook, not a primitive
        """Push buffered writes out now (optional)."""
