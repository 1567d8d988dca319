"""A stored sweep, read back from the tracking store into pandas frames and small records.

Everything the report shows comes from here, so it can be rebuilt for any past sweep and
tested without a browser:

    data = load_sweep(client, sweep_run_id)
    data.trials        # one row per attempt: status, times, worker, params.*, metrics.*
    data.final         # one row per trial number: its last attempt
    data.reruns        # `sweeps recheck` repeats (sweeps.verdict.sweep_verdict reads them)
    summarize(data)    # counts, wall time, measured parallelism, overhead share
    best_numbers(data) # the best trial, or the Pareto set
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sweeps import records
from sweeps.compat.wandb_space import WandbParam
from sweeps.errors import SweepError
from sweeps.failures import FailedAttempt
from sweeps.optuna_compat.distributions import from_json
from sweeps.space import Space
from tracking import Client, Run, TrackingError
from tracking.host import list_artifacts, open_artifact

RESERVED_TAG_PREFIXES = (*records.RESERVED_PREFIXES, "sys.")
STATUSES = ("FINISHED", "PRUNED", "FAILED", "KILLED", "RUNNING", "QUEUED")
MAX_USER_TAG_COLUMNS = 12


@dataclass(frozen=True)
class ArtifactFile:
    """One artifact file of a run: `path` is relative to the run's artifact folder."""

    run_id: str
    path: str
    size: int | None
    local_path: Path
    run_dir: Path

    def read(self, limit: int) -> bytes:
        """Up to `limit` bytes of the file, opened as every artifact is (never through a link,
        never a hard-linked file); b"" when it cannot be read."""
        try:
            handle, _, _ = open_artifact(self.run_dir, self.path)
        except (TrackingError, OSError):
            return b""
        with handle:
            return handle.read(limit)


@dataclass(frozen=True)
class SweepData:
    """One sweep as stored: the parent run's facts and a frame of its trial attempts."""

    run_id: str
    experiment: str
    run_name: str
    status: str
    start_ms: int
    end_ms: int | None
    tags: dict[str, str]
    note: str
    goals: tuple[tuple[str, str], ...]
    config: dict[str, Any] | None
    distributions: dict[str, BaseDistribution]
    log_params: frozenset[str]
    conditional: frozenset[str]
    trials: pd.DataFrame
    user_tags: tuple[str, ...]
    artifact_root: Path
    record: records.SweepRecord
    reruns: tuple[records.RerunRecord, ...] = ()
    """`sweeps recheck` repeats (child runs the study never sees), by trial then repeat."""
    latents: dict[str, str] = field(default_factory=dict)
    """A W&B param's latent (``x~u``) by its name: figures plot the value, tables list both."""
    stepped: tuple[str, ...] = ()
    """Metrics some trial logged at several steps: `trials` has their lowest and highest
    value in columns ``min.<metric>`` and ``max.<metric>``."""
    final: pd.DataFrame = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.trials):
            final = self.trials[self.trials["final"]].reset_index(drop=True)
        else:
            final = self.trials
        object.__setattr__(self, "final", final)

    @property
    def label(self) -> str:
        return f"{self.experiment} / {self.run_name}"

    @property
    def params(self) -> tuple[str, ...]:
        """The params figures plot (a W&B param by its value, never its latent)."""
        return tuple(self.distributions)

    @property
    def table_params(self) -> tuple[str, ...]:
        """`params`, each W&B param followed by its latent (``x``, ``x~u``), for tables."""
        return tuple(n for p in self.params for n in (p, self.latents.get(p)) if n)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric logged by any trial, objectives first."""
        names = [m for m, _ in self.goals]
        names += sorted(c[len("metrics."):] for c in self.trials.columns
                        if c.startswith("metrics.") and c[len("metrics."):] not in names)
        return tuple(names)

    @property
    def multi_objective(self) -> bool:
        return len(self.goals) > 1

    def artifact_dir(self, run_id: str, experiment_id: str) -> Path:
        return self.artifact_root / experiment_id / run_id


@dataclass(frozen=True)
class Summary:
    """Facts for the report's first section."""

    counts: dict[str, int]
    trials: int
    attempts: int
    wall_s: float | None
    workers: int | None
    workers_seen: int
    trial_s: float
    parallelism: float | None
    overhead_share: float | None
    mean_queue_wait_s: float | None
    stop_reason: str


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _read_config(client: Client, sweep: Run) -> dict[str, Any] | None:
    try:
        return records.read_config(client, sweep)
    except SweepError:  # an old or damaged sweep: the report infers what it can
        return None


def _space_of(config: dict[str, Any] | None) -> Space | None:
    if not config or not isinstance(config.get("space"), dict):
        return None
    try:
        return Space.from_mapping(config["space"], source=records.CONFIG_ARTIFACT)
    except Exception:  # noqa: BLE001 - an old or odd config: infer the space instead
        return None


def _infer_distribution(values: pd.Series) -> BaseDistribution | None:
    present = [v for v in values.tolist() if v is not None and not
               (isinstance(v, float) and math.isnan(v))]
    if not present:
        return None
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        low, high = min(present), max(present)
        if all(isinstance(v, int) for v in present):
            return IntDistribution(int(low), int(high))
        return FloatDistribution(float(low), float(high) if high > low else float(low) + 1e-12)
    choices = []
    for v in present:
        v = v if isinstance(v, (str, int, float, bool)) else json.dumps(v, default=str)
        if v not in choices:
            choices.append(v)
    return CategoricalDistribution(choices)


def load_sweep(client: Client, sweep_run_id: str) -> SweepData:
    """Read a sweep (its parent run, every trial attempt and its config) from the store."""
    sweep = client.get_run(sweep_run_id)
    if not records.is_sweep(sweep):
        raise ValueError(f"run {sweep_run_id} is not a sweep")
    sweep_record = records.SweepRecord.from_run(sweep)
    experiment = client.get_experiment(sweep.info.experiment_id).name
    goals = sweep_record.goals
    config = _read_config(client, sweep)
    space = _space_of(config)
    attempts = records.load_trials(client, sweep)

    rows = []
    param_names: list[str] = list(space.distributions()) if space else []
    user_tag_keys: dict[str, None] = {}
    suggested: dict[str, BaseDistribution] = {}  # define-by-run: as drawn (the last wins)
    for record in attempts:
        info, data = record.run.info, record.run.data
        tags = data.tags
        row: dict[str, Any] = {
            "run_id": info.run_id, "experiment_id": info.experiment_id,
            "number": record.number, "attempt": record.attempt, "run_name": info.run_name,
            "status": info.status.value, "start_ms": info.start_time,
            "end_ms": info.end_time if info.end_time is not None else math.nan,
            "queue_wait_s": _float(tags.get(records.QUEUE_WAIT)),
            "run_s": _float(tags.get(records.RUN_SECONDS)),
            "worker": tags.get(records.WORKER, ""), "host": tags.get(records.HOST, ""),
            "error": tags.get(records.ERROR, ""), "note": data.note or "",
        }
        if records.DISTRIBUTIONS in tags:
            suggested.update(from_json(tags[records.DISTRIBUTIONS]))
        for key, value in record.params.items():
            if key not in param_names:
                param_names.append(key)
            row[f"params.{key}"] = value
        for key, value in data.metrics.items():
            row[f"metrics.{key}"] = value
        for key, value in tags.items():
            if not key.startswith(RESERVED_TAG_PREFIXES):
                user_tag_keys.setdefault(key)
                row[f"tags.{key}"] = value
        rows.append(row)

    base = ["run_id", "experiment_id", "number", "attempt", "run_name", "status", "start_ms",
            "end_ms", "queue_wait_s", "run_s", "worker", "host", "error", "note"]
    frame = pd.DataFrame.from_records(rows, columns=base) if not rows else \
        pd.DataFrame.from_records(rows)
    for column in base:
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    frame["duration_s"] = (frame["end_ms"].astype(float) - frame["start_ms"].astype(float)) / 1e3
    frame["final"] = ~frame.duplicated("number", keep="last") if len(frame) else \
        pd.Series(dtype=bool)
    for name in param_names:
        if f"params.{name}" not in frame:
            frame[f"params.{name}"] = None
    for name, _ in goals:
        if f"metrics.{name}" not in frame:
            frame[f"metrics.{name}"] = math.nan
    stepped = _add_metric_ranges(client, frame)
    for column in frame.columns:
        if column.startswith("metrics."):
            frame[column] = frame[column].astype("float64")
        elif column.startswith("params."):
            frame[column] = frame[column].astype(object)

    distributions: dict[str, BaseDistribution] = {}
    latent_of = {p.latent_name: p.name for p in space or () if isinstance(p, WandbParam)}
    for name, dist in (space.distributions() if space is not None else {}).items():
        if name not in latent_of:
            distributions[name] = dist
        elif f"params.{latent_of[name]}" in frame:  # a W&B param is plotted by its value
            dist = _infer_distribution(frame[f"params.{latent_of[name]}"])
            if dist is not None:
                distributions[latent_of[name]] = dist
    for name in param_names:
        if name not in distributions and name not in latent_of and not (
                space is not None and name in space):
            dist = suggested.get(name) or _infer_distribution(frame[f"params.{name}"])
            if dist is not None:
                distributions[name] = dist
    log_params = frozenset(n for n, d in distributions.items() if getattr(d, "log", False))
    conditional = frozenset(space.conditional) if space is not None else frozenset(
        n for n in distributions if frame[f"params.{n}"].isna().any())
    user_tags = tuple(list(user_tag_keys)[:MAX_USER_TAG_COLUMNS])
    return SweepData(
        run_id=sweep.info.run_id, experiment=experiment, run_name=sweep.info.run_name,
        status=sweep.info.status.value, start_ms=sweep.info.start_time,
        end_ms=sweep.info.end_time, tags=dict(sweep.data.tags), note=sweep.data.note or "",
        goals=goals, config=config, distributions=distributions, log_params=log_params,
        conditional=conditional, trials=frame, user_tags=user_tags,
        artifact_root=client.artifact_root, record=sweep_record,
        reruns=tuple(records.load_reruns(client, sweep, records.RECHECK)), stepped=stepped,
        latents={name: latent for latent, name in latent_of.items() if name in distributions})


def _add_metric_ranges(client: Client, frame: pd.DataFrame) -> tuple[str, ...]:
    """Add ``min.<m>``/``max.<m>`` columns for each metric logged at several steps by some
    run of `frame` (one aggregate read); returns those metrics."""
    stats = client.metric_stats(list(frame["run_id"])) if len(frame) else {}
    lows: dict[str, dict[str, float]] = {}
    highs: dict[str, dict[str, float]] = {}
    stepped: set[str] = set()
    for (run_id, key), s in stats.items():
        lows.setdefault(key, {})[run_id] = s.min_value
        highs.setdefault(key, {})[run_id] = s.max_value
        if s.points > 1:
            stepped.add(key)
    for key in sorted(stepped):
        frame[f"min.{key}"] = frame["run_id"].map(lows[key]).astype("float64")
        frame[f"max.{key}"] = frame["run_id"].map(highs[key]).astype("float64")
    return tuple(sorted(stepped))


def summarize(data: SweepData) -> Summary:
    """Counts by status, wall time, workers, measured parallelism and overhead share.

    `run_s` is the time an attempt's objective ran. Parallelism is the summed run time over
    the sweep's wall time. The overhead share is the coordinator's cost: the share of the
    workers' time, from the first attempt's start to the last one's end, not spent running
    objectives (start-up, and the queue wait of trials sent ahead, are not in it).
    """
    final = data.final
    counts = {s: int((final["status"] == s).sum()) for s in STATUSES} if len(final) else \
        dict.fromkeys(STATUSES, 0)
    wall = data.record.wall_seconds if data.record.wall_seconds is not None else math.nan
    if not math.isfinite(wall) and data.end_ms is not None:
        wall = (data.end_ms - data.start_ms) / 1e3
    trials = data.trials
    run_s = trials["run_s"].astype(float)
    trial_s = float(run_s[run_s.notna()].sum())
    workers = _float(data.record.workers)
    queue = trials["queue_wait_s"].astype(float).dropna()
    started = trials.loc[queue.index]  # the attempts a worker started
    span = (float(started["end_ms"].astype(float).max())
            - float(started["start_ms"].astype(float).min())) / 1e3 if len(started) else math.nan
    capacity = workers * span
    busy = float(run_s[queue.index].sum())
    return Summary(
        counts=counts, trials=len(final), attempts=len(trials),
        wall_s=wall if math.isfinite(wall) else None,
        workers=int(workers) if math.isfinite(workers) else None,
        workers_seen=int(trials["worker"].replace("", np.nan).nunique()),
        trial_s=trial_s,
        parallelism=trial_s / wall if math.isfinite(wall) and wall > 0 else None,
        overhead_share=max(0.0, 1 - busy / capacity)
        if math.isfinite(capacity) and capacity > 0 else None,
        mean_queue_wait_s=float(queue.mean()) if len(queue) else None,
        stop_reason=data.record.stop_reason)


def objective_values(data: SweepData) -> pd.DataFrame:
    """Final attempts that finished with every objective metric finite: number + values."""
    final = data.final
    columns = [f"metrics.{m}" for m, _ in data.goals]
    if not len(final) or not columns:
        return pd.DataFrame(columns=["number", *columns])
    done = final[final["status"] == "FINISHED"][["number", *columns]]
    finite = np.isfinite(done[columns].to_numpy(dtype=float)).all(axis=1)
    return done[finite].reset_index(drop=True)


def best_numbers(data: SweepData) -> list[int]:
    """The best trial's number (single objective) or the Pareto set's numbers, best first."""
    done = objective_values(data)
    if not len(done):
        return []
    signs = np.array([1.0 if goal == "minimize" else -1.0 for _, goal in data.goals])
    values = done[[f"metrics.{m}" for m, _ in data.goals]].to_numpy(dtype=float) * signs
    numbers = done["number"].to_numpy()
    if len(signs) == 1:
        return [int(numbers[int(np.argmin(values[:, 0]))])]
    keep = []
    for i in range(len(values)):
        dominated = np.all(values <= values[i], axis=1) & np.any(values < values[i], axis=1)
        if not dominated.any():
            keep.append(i)
    keep.sort(key=lambda i: tuple(values[i]))
    return [int(numbers[i]) for i in keep]


def ranked_numbers(data: SweepData) -> list[int]:
    """Completed trial numbers, best first by the first objective."""
    done = objective_values(data)
    if not len(done) or not data.goals:
        return []
    name, goal = data.goals[0]
    done = done.sort_values(f"metrics.{name}", ascending=goal == "minimize", kind="stable")
    return [int(n) for n in done["number"]]


def sample_numbers(data: SweepData, limit: int, *, keep: Sequence[int] = (),
                   seed: int = 0) -> list[int]:
    """At most `limit` final trial numbers: all of `keep`, then a seeded random sample."""
    numbers = [int(n) for n in data.final["number"]]
    if len(numbers) <= limit:
        return numbers
    chosen = list(dict.fromkeys(int(n) for n in keep))[:limit]
    rest = sorted(set(numbers) - set(chosen))
    chosen += random.Random(seed).sample(rest, limit - len(chosen))
    return sorted(chosen)


def load_histories(client: Client, run_ids: Sequence[str]) -> pd.DataFrame:
    """Every metric point of these runs: columns run_id, key, step, value."""
    points = client.get_metric_histories(run_ids)
    return pd.DataFrame({"run_id": [r for r, _ in points], "key": [m.key for _, m in points],
                         "step": [m.step for _, m in points],
                         "value": [m.value for _, m in points]})


def list_run_artifacts(data: SweepData, run_ids: Sequence[str], *,
                       limit_per_run: int = 200) -> dict[str, list[ArtifactFile]]:
    """Artifact files of each run (recursively, at most `limit_per_run` each)."""
    experiment_of = dict(zip(data.trials["run_id"], data.trials["experiment_id"], strict=True))
    folders_of: dict[str, set[str]] = {}  # an experiment's run folders, listed once
    out: dict[str, list[ArtifactFile]] = {}
    for run_id in run_ids:
        experiment_id = str(experiment_of.get(run_id, ""))
        if experiment_id not in folders_of:
            folders_of[experiment_id] = _folders(data.artifact_root / experiment_id)
        if run_id not in folders_of[experiment_id]:
            continue
        run_dir = data.artifact_dir(run_id, experiment_id)
        files: list[ArtifactFile] = []
        folders = [None]
        while folders and len(files) < limit_per_run:
            folder = folders.pop(0)
            try:
                entries = list_artifacts(run_dir, folder)
            except (TrackingError, OSError):
                continue
            for entry in entries:
                if entry.is_dir:
                    folders.append(entry.path)
                elif len(files) < limit_per_run:
                    files.append(ArtifactFile(run_id, entry.path, entry.file_size,
                                              run_dir.joinpath(*entry.path.split("/")), run_dir))
        if files:
            out[run_id] = files
    return out


def _folders(path: Path) -> set[str]:
    """The names of the folders in `path` (none where it cannot be listed)."""
    try:
        with os.scandir(path) as entries:
            return {entry.name for entry in entries if entry.is_dir()}
    except OSError:
        return set()


def failed_attempts(data: SweepData) -> list[FailedAttempt]:
    """The sweep's failed and killed attempts, in order, each with its params and error text."""
    failed = data.trials[data.trials["status"].isin(["FAILED", "KILLED"])]
    out = []
    for _, row in failed.iterrows():
        values = {name: row[f"params.{name}"] for name in data.params}
        params = {name: value for name, value in values.items()  # inactive params are left out
                  if value is not None and not (isinstance(value, float) and math.isnan(value))}
        out.append(FailedAttempt(int(row["number"]), int(row["attempt"]), params,
                                 row["error"] or "", row["run_id"]))
    return out
