"""The event-line protocol: how a program in any language logs to a run by printing.

A line that starts with `@tracking ` followed by one JSON object is an event:

    @tracking {"metrics": {"loss": 0.25, "acc": 0.9}, "step": 3}
    @tracking {"params": {"lr": 0.01}}
    @tracking {"tags": {"stage": "warmup"}}
    @tracking {"note": "free text, Markdown allowed"}
    @tracking {"artifact": "/abs/or/relative/file.png", "artifact_path": "plots"}
    @tracking {"artifacts": "outputs/", "artifact_path": "outputs"}
    @tracking {"file": "notes/summary.txt", "from": "/tmp/tmpfile"}

JSON's `NaN`, `Infinity` and `-Infinity` are accepted for metric values. Every other line
is ordinary output. A Python program run with `TRACKING_EVENTS=stdout` and
`TRACKING_RUN_ID=<run id>` in its environment prints these lines through the ordinary
fluent API (`tracking.log_metric(...)`), so it needs no change at all.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import IO, Any

from tracking.entities import Metric, RunStatus
from tracking.errors import InvalidInputError
from tracking.writer import RunWriter

PREFIX = "@tracking "
RUN_ID_ENV = "TRACKING_RUN_ID"
EVENTS_ENV = "TRACKING_EVENTS"
_KINDS = {"metrics", "params", "tags", "note", "artifact", "artifacts", "file", "status"}
_EXTRA = {"step", "timestamp", "artifact_path", "from"}


def format_event(event: Mapping[str, Any]) -> str:
    """The line (without newline) that carries `event`."""
    return PREFIX + json.dumps(event, separators=(",", ":"), default=str)


def parse_line(line: str) -> dict[str, Any] | None:
    """The event on `line`, or None for an ordinary line; a malformed event line raises
    InvalidInputError saying what is wrong."""
    if not line.startswith(PREFIX):
        return None
    try:
        event = json.loads(line[len(PREFIX):])
    except ValueError as e:
        raise InvalidInputError(f"event line: not valid JSON ({e})") from None
    if not isinstance(event, dict):
        raise InvalidInputError("event line: must be one JSON object")
    kinds = _KINDS.intersection(event)
    unknown = set(event) - _KINDS - _EXTRA
    if len(kinds) != 1 or unknown:
        raise InvalidInputError(
            f"event line: needs exactly one of {sorted(_KINDS)}"
            + (f"; unknown keys {sorted(unknown)}" if unknown else ""))
    for key in ("metrics", "params", "tags"):
        if key in event and not isinstance(event[key], dict):
            raise InvalidInputError(f"event line: {key!r} must be an object")
    return event


class LineWriter(RunWriter):
    """Writes a run's events as lines on a stream (stdout by default)."""

    def __init__(self, run_id: str, stream: IO[str] | None = None) -> None:
        self.run_id = run_id
        self._stream = stream

    def _emit(self, event: Mapping[str, Any]) -> None:
        stream = self._stream or sys.stdout
        stream.write(format_event(event) + "\n")
        stream.flush()

    def log_metrics(self, metrics: Sequence[Metric]) -> None:
        by_step: dict[int, dict[str, float]] = {}
        for m in metrics:
            by_step.setdefault(m.step, {})[m.key] = m.value
        for step, values in by_step.items():
            self._emit({"metrics": values, "step": step})

    def log_params(self, params: Mapping[str, tuple[str, str]]) -> None:
        self._emit({"params": {k: text for k, (text, _kind) in params.items()}})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._emit({"tags": dict(tags)})

    def set_note(self, text: str) -> None:
        self._emit({"note": text})

    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None) -> None:
        self._emit({"artifact": os.path.abspath(local_path), "artifact_path": artifact_path})

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None) -> None:
        self._emit({"artifacts": os.path.abspath(local_dir), "artifact_path": artifact_path})

    def write_artifact(self, relative_file: str, data: bytes) -> None:
        with tempfile.NamedTemporaryFile(delete=False, prefix="tracking-") as handle:
            handle.write(data)
        self._emit({"file": relative_file, "from": handle.name})

    def end(self, status: RunStatus) -> None:
        self._emit({"status": status.value})
