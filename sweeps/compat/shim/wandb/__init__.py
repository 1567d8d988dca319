"""A small offline ``wandb``: what W&B sweep programs call, logged through sweepbook.

sweepbook puts this folder first on the ``PYTHONPATH`` of W&B-format trials, so a program
that does ``import wandb`` runs unchanged:

    run = wandb.init(project="demo", config={"epochs": 10})
    for epoch in range(wandb.config.epochs):
        wandb.log({"loss": 1 / (epoch + 1)})
    wandb.finish()

``init`` reads the trial's params from ``$WANDB_SWEEP_PARAM_PATH``; ``log`` keeps W&B's step
rules and sends numbers as metrics through the ``tracking`` API (event lines on stdout in a
trial), so the coordinator sees every value at once and can prune. Media (``Image``,
``Histogram``, ``Table``) become artifacts; other values are ignored with one warning per
kind. Anything else W&B has raises a one-line ``NotImplementedError``.
"""

from __future__ import annotations

import atexit
import csv
import fnmatch
import io
import json
import numbers
import os
import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import tracking

__version__ = "0.0.0+sweepbook"
__all__ = ["Artifact", "Histogram", "Image", "Table", "alert", "config", "define_metric",
           "finish", "init", "log", "log_artifact", "login", "run", "summary", "watch"]


class WandbShimWarning(UserWarning):
    """Something a W&B program did that the offline module ignores."""


_warned: set[str] = set()


def _warn_once(kind: str, message: str) -> None:
    if kind not in _warned:
        _warned.add(kind)
        warnings.warn(f"wandb (sweepbook): {message}", WandbShimWarning, stacklevel=3)


# -- config and summary ---------------------------------------------------------------------


class Config:
    """``wandb.config``: attribute and item access, ``update``, ``keys``/``items``/``get``."""

    def __init__(self) -> None:
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_locked", set())  # the sweep's params: not overwritten

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"wandb.config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.update({name: value})

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.update({name: value})

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"wandb.Config({self._data!r})"

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def values(self) -> Any:
        return self._data.values()

    def get(self, name: str, default: Any = None) -> Any:
        return self._data.get(name, default)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def setdefaults(self, values: Mapping[str, Any]) -> None:
        self.update({k: v for k, v in _as_mapping(values).items() if k not in self._data})

    def update(self, values: Any, allow_val_change: bool | None = None) -> None:
        """Add keys (a dict, an argparse Namespace); the sweep's own params keep their
        values, as in W&B."""
        new = {}
        for key, value in _as_mapping(values).items():
            if key in self._locked:
                if value != self._data[key]:
                    _warn_once(f"locked-{key}", f"config.{key} is set by the sweep; "
                               f"{value!r} ignored")
                continue
            self._data[key] = value
            new[key] = value
        if new and run is not None:
            _log_params(new)

    def _set_sweep(self, values: Mapping[str, Any]) -> None:
        self._data.update(values)
        self._locked.update(values)


class Summary(dict):
    """``run.summary``: a dict; at finish, each logged key's last value (or the summary
    `define_metric` chose), except keys the program set itself."""

    def __setitem__(self, key: str, value: Any) -> None:
        if run is not None:
            run._explicit.add(key)
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


config = Config()
summary = Summary()
run: Run | None = None


def _as_mapping(values: Any) -> dict[str, Any]:
    if values is None:
        return {}
    if isinstance(values, Mapping):
        return dict(values)
    if hasattr(values, "__dict__"):  # argparse.Namespace, simple objects
        return {k: v for k, v in vars(values).items() if not k.startswith("_")}
    raise TypeError(f"wandb config: expected a dict or a Namespace, got {type(values).__name__}")


def _log_params(values: Mapping[str, Any]) -> None:
    flat = _flatten(values)
    try:
        tracking.log_params({k: v if v is None or isinstance(v, (bool, int, float, str))
                             else json.dumps(v, default=str) for k, v in flat.items()})
    except tracking.TrackingError as e:
        _warn_once(f"params-{e}", f"config not logged: {e}")


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _read_sweep_params() -> dict[str, Any]:
    path = os.environ.get("WANDB_SWEEP_PARAM_PATH")
    if not path or not os.path.exists(path):
        return {}
    import yaml

    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return {k: v.get("value") if isinstance(v, Mapping) else v for k, v in data.items()
            if k != "wandb_version"}


# -- media ----------------------------------------------------------------------------------


class Image:
    """``wandb.Image``: a file (logged as it is), a PIL image or an array (saved as PNG)."""

    def __init__(self, data_or_path: Any, caption: str | None = None, **_: Any) -> None:
        self.data, self.caption = data_or_path, caption

    def _log(self, stem: str) -> None:
        if isinstance(self.data, (str, os.PathLike)):
            tracking.log_artifact(self.data, "media")
            return
        image = self.data
        if not hasattr(image, "save"):
            try:
                from PIL import Image as PILImage
            except ImportError:
                _warn_once("image", "wandb.Image from an array needs Pillow; images ignored")
                return
            image = PILImage.fromarray(image)
        # in a trial, the temporary folder is the trial's own, removed after it
        target = os.path.join(tempfile.mkdtemp(prefix="wandb-media-"), stem + ".png")
        image.save(target)
        tracking.log_artifact(target, "media")


class Histogram:
    """``wandb.Histogram``: the values (or ``np_histogram``) saved as JSON."""

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64
                 ) -> None:
        if np_histogram is None:
            import numpy as np

            np_histogram = np.histogram(np.asarray(sequence, dtype=float), bins=num_bins)
        counts, edges = np_histogram
        self.counts, self.bins = [float(c) for c in counts], [float(e) for e in edges]

    def _log(self, stem: str) -> None:
        tracking.log_dict({"counts": self.counts, "bins": self.bins}, f"media/{stem}.json")


class Table:
    """``wandb.Table``: columns and rows (or a pandas DataFrame) saved as CSV."""

    def __init__(self, columns: list[str] | None = None, data: Any = None,
                 dataframe: Any = None, **_: Any) -> None:
        if dataframe is not None:
            columns, data = list(dataframe.columns), dataframe.values.tolist()
        self.columns = list(columns or [])
        self.data = [list(row) for row in data or []]

    def add_data(self, *row: Any) -> None:
        self.data.append(list(row))

    def _log(self, stem: str) -> None:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(self.columns)
        writer.writerows(self.data)
        tracking.log_text(text.getvalue(), f"media/{stem}.csv")


_MEDIA = (Image, Histogram, Table)


# -- artifacts ------------------------------------------------------------------------------


class Artifact:
    """``wandb.Artifact``: files and folders, logged under ``artifacts/<name>/``."""

    def __init__(self, name: str, type: str, description: str | None = None,  # noqa: A002
                 metadata: dict | None = None, **_: Any) -> None:
        self.name, self.type, self.description = name, type, description
        self.metadata = dict(metadata or {})
        self._entries: list[tuple[str, str | None, bool]] = []

    def add_file(self, local_path: str, name: str | None = None, **_: Any) -> None:
        self._entries.append((local_path, name, False))

    def add_dir(self, local_path: str, name: str | None = None, **_: Any) -> None:
        self._entries.append((local_path, name, True))

    def add_reference(self, *args: Any, **kwargs: Any) -> None:
        raise _missing("Artifact.add_reference")

    def _log(self) -> None:
        """Copy the files now (as W&B stages them), then log the copies: the program may
        change or remove its files once this returns."""
        base, staging = f"artifacts/{self.name}", tempfile.mkdtemp(prefix="wandb-artifact-")
        for index, (local_path, name, is_dir) in enumerate(self._entries):
            copy = os.path.join(staging, str(index), os.path.basename(local_path))
            if is_dir:
                shutil.copytree(local_path, copy)
                tracking.log_artifacts(copy, f"{base}/{name}" if name else base)
            else:  # a file keeps its own base name
                os.makedirs(os.path.dirname(copy))
                shutil.copyfile(local_path, copy)
                folder = os.path.dirname(name) if name else ""
                tracking.log_artifact(copy, f"{base}/{folder}" if folder else base)


# -- the run --------------------------------------------------------------------------------


class Run:
    """What ``wandb.init()`` returns: ``config``, ``summary``, ``id``, ``name``, ``log``,
    ``finish`` (and use as a context manager)."""

    def __init__(self, name: str | None, project: str | None) -> None:
        self.id = os.environ.get("WANDB_RUN_ID") or uuid.uuid4().hex[:8]
        self.name = name or self.id
        self.project = project
        self.sweep_id = os.environ.get("WANDB_SWEEP_ID")
        self.config, self.summary = config, summary
        self.step = 0
        self._pending: dict[str, Any] = {}
        self._steps: dict[str, str] = {}  # define_metric: metric glob -> its step metric
        self._summaries: dict[str, str] = {}  # define_metric: metric glob -> summary kind
        self._history: dict[str, list[float]] = {}
        self._explicit: set[str] = set()
        self._finished = False

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    def log(self, data: Mapping[str, Any], step: int | None = None,
            commit: bool | None = None) -> None:
        """Log a row: W&B's rules (no ``step``: this row, then the next step; ``step``
        ahead: the pending row is committed first; ``commit=False``: keep adding)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"wandb.log: data must be a dict, got {type(data).__name__}")
        if step is not None:
            if step < self.step:
                _warn_once("step", f"step {step} is before the current step {self.step}; "
                           "the row is ignored, as in W&B")
                return
            if step > self.step:
                self._commit()
                self.step = step
        self._pending.update(data)
        if commit if commit is not None else step is None:
            self._commit()
            self.step += 1

    def _commit(self) -> None:
        row, self._pending = self._pending, {}
        by_step: dict[int, dict[str, float]] = {}
        for key, value in _flatten(row).items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                self._other(key, value)
                continue
            number = float(value)
            self._history.setdefault(key, []).append(number)
            by_step.setdefault(self._step_of(key, row), {})[key] = number
        for at, metrics in by_step.items():
            tracking.log_metrics(metrics, step=at)

    def _step_of(self, key: str, row: Mapping[str, Any]) -> int:
        for pattern, step_metric in self._steps.items():
            value = row.get(step_metric)
            if fnmatch.fnmatchcase(key, pattern) and key != step_metric and \
                    isinstance(value, numbers.Real) and not isinstance(value, bool):
                return int(value)
        return self.step

    def _other(self, key: str, value: Any) -> None:
        if isinstance(value, _MEDIA):
            value._log(f"{key.replace('/', '_')}_{self.step}")
            return
        kind = type(value).__name__
        _warn_once(f"value-{kind}", f"wandb.log: {kind} values are not metrics; ignored")

    def define_metric(self, name: str, step_metric: str | None = None,
                      summary: str | None = None, goal: str | None = None,
                      **_: Any) -> None:
        """Map metrics (a glob like ``val/*``) to a step metric and a summary
        (``min``, ``max``, ``mean``, ``last``, ``best`` with ``goal``)."""
        if step_metric:
            self._steps[name] = step_metric
        if summary:
            kind = summary.split(",")[0].strip()
            if kind == "best":
                kind = "max" if goal == "maximize" else "min"
            self._summaries[name] = kind

    def log_artifact(self, artifact: Artifact | str, name: str | None = None,
                     type: str | None = None, aliases: Any = None) -> Artifact:  # noqa: A002
        """Log an `Artifact` (or a path) under the run's artifacts."""
        if not isinstance(artifact, Artifact):
            path = os.fspath(artifact)
            artifact_obj = Artifact(name or os.path.basename(path), type or "artifact")
            (artifact_obj.add_dir if os.path.isdir(path) else artifact_obj.add_file)(path)
            artifact = artifact_obj
        artifact._log()
        return artifact

    def alert(self, title: str, text: str, level: Any = None, **_: Any) -> None:
        """Record the alert as the tag ``wandb.alert`` (and on stderr)."""
        print(f"wandb alert: {title}: {text}", file=sys.stderr)
        tracking.set_tag("wandb.alert", f"{title}: {text}")

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit the pending row and save the summary (``wandb-summary.json``)."""
        global run
        if self._finished:
            return
        self._finished = True
        self._commit()
        final = {key: _summarize(values, self._summary_kind(key))
                 for key, values in self._history.items()}
        final.update({k: v for k, v in self.summary.items() if k in self._explicit})
        dict.update(self.summary, final)
        only_summary = {k: float(v) for k, v in self.summary.items()
                        if k in self._explicit and k not in self._history
                        and isinstance(v, numbers.Real) and not isinstance(v, bool)}
        if only_summary:  # a metric set in the summary alone still reaches the sweep
            tracking.log_metrics(only_summary, step=self.step)
        if self.summary:
            tracking.log_text(json.dumps(dict(self.summary), default=str, indent=1),
                              "wandb-summary.json")
        if run is self:
            run = None

    def _summary_kind(self, key: str) -> str:
        for pattern, kind in self._summaries.items():
            if fnmatch.fnmatchcase(key, pattern):
                return kind
        return "last"


def _summarize(values: list[float], kind: str) -> float:
    if kind == "min":
        return min(values)
    if kind == "max":
        return max(values)
    if kind == "mean":
        return sum(values) / len(values)
    return values[-1]


# -- module functions -----------------------------------------------------------------------


def init(project: str | None = None, config: Any = None, name: str | None = None,
         notes: str | None = None, tags: Any = None, **_: Any) -> Run:
    """Start the run: the sweep's params (``$WANDB_SWEEP_PARAM_PATH``) over `config`."""
    global run
    if run is not None:
        return run
    run = Run(name, project)
    run.summary = summary
    sweep = _read_sweep_params()
    globals()["config"]._set_sweep(sweep)
    defaults = {k: v for k, v in _as_mapping(config).items() if k not in sweep}
    globals()["config"].update(defaults)
    if notes:
        tracking.set_note(notes)
    if tags:
        tracking.set_tag("wandb.tags", ",".join(str(t) for t in tags))
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """``wandb.log``: see `Run.log`."""
    _active("log").log(data, step=step, commit=commit)


def define_metric(name: str, step_metric: str | None = None, summary: str | None = None,
                  goal: str | None = None, **kwargs: Any) -> None:
    """``wandb.define_metric``: see `Run.define_metric`."""
    _active("define_metric").define_metric(name, step_metric, summary, goal, **kwargs)


def log_artifact(artifact: Artifact | str, name: str | None = None, type: str | None = None,  # noqa: A002
                 aliases: Any = None) -> Artifact:
    """``wandb.log_artifact``: see `Run.log_artifact`."""
    return _active("log_artifact").log_artifact(artifact, name, type, aliases)


def alert(title: str, text: str, level: Any = None, **kwargs: Any) -> None:
    """``wandb.alert``: the tag ``wandb.alert``."""
    _active("alert").alert(title, text, level, **kwargs)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """``wandb.finish``: end the active run (also done at exit)."""
    if run is not None:
        run.finish(exit_code, quiet)


def watch(*args: Any, **kwargs: Any) -> None:
    """``wandb.watch``: no gradients are tracked offline (a warning, once)."""
    _warn_once("watch", "wandb.watch does nothing offline")


def login(*args: Any, **kwargs: Any) -> bool:
    """``wandb.login``: nothing to log in to offline."""
    return True


def _active(what: str) -> Run:
    if run is None:
        raise RuntimeError(f"wandb.{what}: call wandb.init() first")
    return run


class _Missing(NotImplementedError, AttributeError):
    """A part of W&B this module does not have (also an AttributeError, for hasattr)."""


def _missing(name: str) -> _Missing:
    return _Missing(f"wandb.{name} is not available in sweepbook's offline wandb module")


def __getattr__(name: str) -> Any:
    if name.startswith("_"):
        raise AttributeError(name)
    raise _missing(name)


atexit.register(finish)
