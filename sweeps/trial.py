"""What crosses between the coordinator and a backend: trial specs, events, results.

Everything here is a plain value, so it travels between processes and Ray nodes as it is;
nothing here knows optuna or SQLite. `Trial` is what an objective receives.
"""

from __future__ import annotations

import enum
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import tracking
from tracking import Metric, RunStatus
from tracking.host import (
    RunWriter,
    clean_artifact_path,
    log_artifact,
    log_artifacts,
    write_artifact,
)


class Outcome(str, enum.Enum):
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"
    KILLED = "killed"
    LOST = "lost"  # the infrastructure went away (a node left): retried, not counted as a failure


@dataclass(frozen=True)
class TrialSpec:
    """One attempt of one trial. `key` is the attempt's run id, unique across the sweep."""

    key: str
    number: int
    attempt: int
    params: Mapping[str, Any]
    objective: str | None  # "module:function"
    command: str | None  # command line with {param} placeholders
    cwd: str  # the project folder: objectives import and commands resolve from here
    env: Mapping[str, str]
    objective_metrics: tuple[str, ...]
    artifact_dir: str  # where this attempt's artifacts belong on the coordinator's machine
    tracking_uri: str
    resources: Mapping[str, float] = field(default_factory=dict)
    artifacts_travel: bool = False  # True: artifacts come back as bytes (remote workers)
    max_artifact_bytes: int = 1 << 30
    wandb: Mapping[str, Any] | None = None  # a W&B program/command (sweeps.compat.macros)
    # an optuna objective f(trial), whose params are questions (SuggestQuery): set to the
    # study's read-only view (study_name, directions, best_value, user_attrs)
    study_view: Mapping[str, Any] | None = None
    function: bytes | None = None  # that objective, cloudpickled (one from a __main__ script)
    # the function's digest: a backend sends its bytes once to each worker, whose next
    # specs carry only this (`function` None)
    function_id: str | None = None
    seed: int | None = None  # the attempt's seed (`Trial.seed`, $SWEEPS_TRIAL_SEED)
    # define-by-run with a sampler that ignores history: values drawn ahead, {name:
    # (distribution JSON, value)}, taken without a round trip when asked for (`Suggested`)
    drawn: Mapping[str, tuple[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialResult:
    outcome: Outcome
    values: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None  # one line
    traceback: str | None = None
    # what the objective raised: its class's and base classes' qualified names (see
    # `exception_names`), most derived first; () when it raised nothing
    exception: tuple[str, ...] = ()


def exception_names(kind: type[BaseException]) -> tuple[str, ...]:
    """`module.QualName` of an exception class and of each class it derives from, as
    `TrialResult.exception` carries them: `catch` matches a class by its first name.

    >>> exception_names(KeyError)[:2]
    ('builtins.KeyError', 'builtins.LookupError')
    """
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in kind.__mro__)


@dataclass(frozen=True)
class Started:
    key: str
    worker: str
    host: str
    pid: int
    time: float
    gpu_ids: tuple[str, ...] = ()
    node_id: str | None = None


@dataclass(frozen=True)
class Logged:
    """Writes the objective made to its run, in order."""

    key: str
    metrics: tuple[Metric, ...] = ()
    params: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class ArtifactData:
    """An artifact file's bytes, for workers that do not share the coordinator's disk."""

    key: str
    relative_file: str
    data: bytes


@dataclass(frozen=True)
class PruneQuery:
    key: str


@dataclass(frozen=True)
class SuggestQuery:
    """A define-by-run trial asks for a param's value; `distribution` is optuna's JSON."""

    key: str
    name: str
    distribution: str


@dataclass(frozen=True)
class Suggested:
    """A define-by-run trial took the value drawn ahead for a param (`TrialSpec.drawn`)."""

    key: str
    name: str
    distribution: str


@dataclass(frozen=True)
class UserAttr:
    """A define-by-run trial's `set_user_attr`, for the coordinator's optuna trial."""

    key: str
    name: str
    value: Any


@dataclass(frozen=True)
class StopAsked:
    """A define-by-run trial called `trial.study.stop()`: no new trials are asked for."""

    key: str


@dataclass(frozen=True)
class SuggestFailed:
    """The answer to a SuggestQuery the study refused (optuna's message)."""

    message: str


@dataclass(frozen=True)
class Finished:
    key: str
    result: TrialResult
    time: float


Event = (Started | Logged | ArtifactData | PruneQuery | SuggestQuery | Suggested | UserAttr
         | StopAsked | Finished)


class Channel(Protocol):
    """How a running trial talks to the coordinator (a pipe, a Ray actor, ...)."""

    def send(self, event: Event) -> None: ...

    def ask_prune(self, key: str) -> bool: ...

    def ask_suggest(self, query: SuggestQuery) -> Any:
        """The value the coordinator's study suggests, or a SuggestFailed."""


class TrialWriter(RunWriter):
    """Sends what the objective logs to the coordinator, which writes it.

    Logged values wait in a small buffer, sent when a prune question is asked, when the
    trial ends, or when more than `max_delay` seconds have passed since the last send.
    """

    def __init__(self, spec: TrialSpec, channel: Channel, max_delay: float = 0.25) -> None:
        self.run_id = spec.key
        self._spec = spec
        self._channel = channel
        self._max_delay = max_delay
        self._metrics: list[Metric] = []
        self._tags: dict[str, str] = {}
        self._sent = time.monotonic()  # last send: a value after a quiet spell goes at once

    def _touch(self) -> None:
        if time.monotonic() - self._sent > self._max_delay:
            self.flush()

    def flush(self) -> None:
        if self._metrics or self._tags:
            self._channel.send(Logged(self.run_id, tuple(self._metrics), {}, dict(self._tags)))
            self._metrics, self._tags = [], {}
        self._sent = time.monotonic()

    def log_metrics(self, metrics: list[Metric] | tuple[Metric, ...]) -> None:
        self._metrics.extend(metrics)
        self._touch()

    def log_params(self, params: Mapping[str, tuple[str, str]]) -> None:
        self.flush()
        self._channel.send(Logged(self.run_id, params=dict(params)))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._tags.update(tags)
        self._touch()

    def set_note(self, text: str) -> None:
        self.flush()
        self._channel.send(Logged(self.run_id, note=text))

    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None) -> None:
        if not self._spec.artifacts_travel:
            log_artifact(self._spec.artifact_dir, local_path, artifact_path)
            return
        name = os.path.basename(os.fspath(local_path))
        relative = f"{clean_artifact_path(artifact_path)}/{name}".lstrip("/")
        with open(local_path, "rb") as handle:
            self.write_artifact(relative, handle.read(self._spec.max_artifact_bytes + 1))

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None) -> None:
        if not self._spec.artifacts_travel:
            log_artifacts(self._spec.artifact_dir, local_dir, artifact_path)
            return
        base = clean_artifact_path(artifact_path)
        for folder, _dirs, files in os.walk(local_dir):
            for name in files:
                relative_dir = os.path.relpath(folder, local_dir).replace(os.sep, "/")
                parts = [p for p in (base, relative_dir, name) if p and p != "."]
                with open(os.path.join(folder, name), "rb") as handle:
                    self.write_artifact("/".join(parts),
                                        handle.read(self._spec.max_artifact_bytes + 1))

    def write_artifact(self, relative_file: str, data: bytes) -> None:
        if not self._spec.artifacts_travel:
            write_artifact(self._spec.artifact_dir, relative_file, data)
            return
        if len(data) > self._spec.max_artifact_bytes:
            raise ValueError(
                f"artifact {relative_file!r}: larger than execution.max_artifact_bytes "
                f"({self._spec.max_artifact_bytes} bytes)")
        clean_artifact_path(relative_file)
        self.flush()
        self._channel.send(ArtifactData(self.run_id, relative_file, data))

    def end(self, status: RunStatus) -> None:
        self.flush()


class Trial:
    """What an objective `f(params, trial)` receives.

    >>> def train(params, trial):
    ...     for epoch in range(10):
    ...         trial.report({"val_loss": loss}, step=epoch)
    ...         if trial.should_prune():
    ...             raise sweeps.TrialPruned()
    """

    def __init__(self, spec: TrialSpec, writer: TrialWriter, channel: Channel) -> None:
        self.params: Mapping[str, Any] = spec.params
        self.number = spec.number
        self.attempt = spec.attempt
        self.run_id = spec.key
        self.seed = spec.seed
        """The seed to run with: the seed param's value where the config names one, a new
        one for each `sweeps recheck` repeat, the recorded one for `sweeps reproduce`."""
        self._drawn = dict(spec.drawn)  # each taken once, for a param's first question
        self._objective_metric = spec.objective_metrics[0]
        self._writer = writer
        self._channel = channel

    def report(self, metrics: Mapping[str, float] | float, step: int) -> None:
        """Log metric values at `step`; the objective metric's values drive pruning.
        A bare number is the (first) objective metric."""
        if not isinstance(metrics, Mapping):
            metrics = {self._objective_metric: metrics}
        tracking.log_metrics(metrics, step=step)

    def should_prune(self) -> bool:
        """Ask the coordinator whether the pruner stops this trial now."""
        self._writer.flush()
        return self._channel.ask_prune(self.run_id)

    def suggest(self, name: str, distribution: str) -> Any:
        """Ask the coordinator's study for param `name` drawn from `distribution` (optuna's
        JSON); raises ValueError with the study's message when it refuses. A value drawn
        ahead for it is taken at once (the coordinator hears of it, in order)."""
        drawn = self._drawn.pop(name, None)
        if drawn is not None and drawn[0] == distribution:
            self._channel.send(Suggested(self.run_id, name, distribution))
            return drawn[1]
        answer = self._channel.ask_suggest(SuggestQuery(self.run_id, name, distribution))
        if isinstance(answer, SuggestFailed):
            raise ValueError(answer.message)
        return answer

    def set_user_attr(self, name: str, value: Any) -> None:
        """An optuna user attr: set on the coordinator's optuna trial (its value must
        pickle), and stored as a tag of the run (a non-text value as JSON)."""
        self._channel.send(UserAttr(self.run_id, name, value))
        tracking.set_tag(name, value if isinstance(value, str) else json.dumps(value))

    def stop_sweep(self) -> None:
        """Ask the coordinator to ask for no more trials (optuna's `study.stop()`); the
        trials running go on to their end."""
        self._channel.send(StopAsked(self.run_id))

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        tracking.log_metric(key, value, step=step)

    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
        tracking.log_artifact(local_path, artifact_path)

    def set_tag(self, key: str, value: Any) -> None:
        tracking.set_tag(key, value)

    def set_note(self, text: str) -> None:
        tracking.set_note(text)

    def set_eval_data(self, X: Any, y: Any) -> None:
        """Keep an evaluation set with the trial (artifact `eval/data.json`: X in pandas'
        "split" JSON, y as a list). `sweeps promote` computes the permutation importance of
        the promoted model on it.

        >>> trial.set_eval_data(X_test, y_test)
        """
        import json

        import pandas as pd

        from sweeps.records import EVAL_DATA_ARTIFACT
        frame = json.loads(pd.DataFrame(X).to_json(orient="split", index=False))
        tracking.log_text(json.dumps({"X": frame, "y": pd.Series(y).tolist()}),
                          EVAL_DATA_ARTIFACT)
