"""`sweeps.run(...)`: a whole sweep from Python, for notebooks and scripts."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sweeps import records
from sweeps.backends import make_backend
from sweeps.budget import Progress
from sweeps.config import SweepConfig, load_config, parse_config
from sweeps.coordinator import Coordinator
from sweeps.errors import SweepError
from sweeps.promote import Promotion, promote
from tracking import Client, TrackingError

if TYPE_CHECKING:
    import pandas

SHORTCUTS = {"trials": "budget.trials", "timeout": "budget.timeout",
             "workers": "execution.workers", "backend": "execution.backend",
             "seed": "sampler.seed", "address": "execution.ray.address"}


@dataclass(frozen=True)
class SweepResult:
    """What a finished (or stopped) sweep gives back; `trials` is read on first use."""

    sweep_run_id: str
    experiment: str
    status: str
    best_trial: int | None
    best_params: dict[str, Any] | None
    best_values: list[float] | None
    report_path: str | None
    tracking_uri: str
    error: str | None = None  # why a FAILED sweep failed (its stop reason)
    promotion: Promotion | None = None  # what the config's `register:` registered

    @property
    def best_value(self) -> float | None:
        return self.best_values[0] if self.best_values else None

    @functools.cached_property
    def trials(self) -> pandas.DataFrame:
        """Every attempt of every trial: one row per child run, MLflow's columns."""
        client = Client(self.tracking_uri)
        sweep = client.get_run(self.sweep_run_id)
        frame = client.search_runs_frame(
            [sweep.info.experiment_id], f"{records.trial_filter(self.sweep_run_id)} and "
            f"tags.`{records.ROLE}` = '{records.TRIAL}'")  # re-checks are not trials
        if frame.empty:
            return frame
        number = frame[f"tags.{records.NUMBER}"].astype(int).rename("number")
        order = frame.assign(number=number).sort_values(["number", "start_time"]).index
        return frame.loc[order].reset_index(drop=True)


def shortcut_overrides(**shortcuts: Any) -> list[str]:
    """`trials=100, workers=4` -> ["budget.trials=100", "execution.workers=4"]."""
    out = []
    for name, value in shortcuts.items():
        if name not in SHORTCUTS:
            raise TypeError(f"unknown override {name!r}; valid: {', '.join(SHORTCUTS)}")
        if value is not None:
            out.append(f"{SHORTCUTS[name]}={value}")
    return out


def resolve_config(config: SweepConfig | str | os.PathLike | Mapping[str, Any],
                   overrides: Sequence[str] = (), *, format: str | None = None
                   ) -> SweepConfig:
    """A validated config from a config, a mapping or a file (`format`: see
    `sweeps.config.parse_config`)."""
    if isinstance(config, SweepConfig):
        return parse_config(config.to_dict(), source=config.source, overrides=overrides) \
            if overrides else config
    if isinstance(config, Mapping):
        return parse_config(config, overrides=overrides, format=format)
    return load_config(config, overrides, format=format)


def tracking_root(explicit: str | os.PathLike | None, config: SweepConfig | None = None) -> str:
    """--root, else the config's tracking.uri, else $SWEEPS_TRACKING_URI, else ./runs."""
    return str(explicit or (config and config.tracking_uri)
               or os.environ.get("SWEEPS_TRACKING_URI") or "runs")


def run(config: SweepConfig | str | os.PathLike | Mapping[str, Any], *,
        overrides: Sequence[str] = (), resume: str | None = None,
        tracking_uri: str | os.PathLike | None = None, report: bool | None = None,
        on_progress: Callable[[Progress], None] | None = None, reopen: bool = False,
        rerun_failed: bool = False, on_end: Callable[[SweepResult], None] | None = None,
        **shortcuts: Any) -> SweepResult:
    """Run a sweep to its end and return its best trial and all trials. With `resume` (a
    sweep's run id), `reopen` and `rerun_failed` are as for `Coordinator` (see
    `sweeps.again`, which uses them). `on_end(result)` is called once the sweep has ended
    (its wall time recorded), before the report is written (`result.report_path` is None
    there): `sweeps run` prints its summary from it.

    >>> result = sweeps.run("configs/quickstart.yaml", trials=20)
    >>> result.best_params, result.best_value
    """
    config = resolve_config(config, [*overrides, *shortcut_overrides(**shortcuts)])
    client = Client(tracking_root(tracking_uri, config))
    coordinator = Coordinator(config, client=client, backend=make_backend(config),
                              resume=resume, on_progress=on_progress, reopen=reopen,
                              rerun_failed=rerun_failed)
    wants_report = config.report_enabled if report is None else report

    def write_report() -> str | None:
        if not (wants_report and coordinator.sweep_run_id):
            return None
        from sweeps.report import write_sweep_report
        return str(write_sweep_report(client, coordinator.sweep_run_id, config.report_path))

    promotion = None
    try:
        sweep_id = coordinator.run()
        if config.register is not None and coordinator.best()[0] is not None:
            try:
                promotion = promote(client, sweep_id, name=config.register.name,
                                    alias=config.register.alias,
                                    model_path=config.register.model_path)
            except (SweepError, TrackingError) as e:  # the sweep stands: say why
                warnings.warn(f"register: {e}", stacklevel=2)
    except BaseException:
        write_report()  # what a failed sweep recorded still gets its report
        raise
    number, values, params = coordinator.best()
    sweep = client.get_run(sweep_id)
    status = sweep.info.status.value
    stop_reason = records.SweepRecord.from_run(sweep).stop_reason
    error = (stop_reason or None) if status == "FAILED" else None
    result = SweepResult(sweep_id, config.experiment, status, number, params, values,
                         None, client.tracking_uri, error, promotion)
    try:
        if on_end is not None:
            on_end(result)
    finally:
        report_path = write_report()
    return replace(result, report_path=report_path) if report_path else result
