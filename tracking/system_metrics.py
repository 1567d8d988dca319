"""System metrics, as MLflow's `enable_system_metrics_logging()`: while a run started by
`start_run` is active, a thread samples CPU, memory, disk, network and (with nvidia-ml-py
installed and a GPU present) GPU utilisation and memory into ``system/...`` metrics, one
step per sample.

    import tracking
    tracking.enable_system_metrics_logging()
    tracking.set_system_metrics_sampling_interval(5)
    with tracking.start_run():
        train()  # system/cpu_utilization_percentage etc. every 5 s

psutil is imported when a sampler starts, not with `import tracking`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from tracking.entities import Metric
from tracking.errors import InvalidInputError
from tracking.writer import RunWriter

DEFAULT_INTERVAL = 10.0
PREFIX = "system/"

_settings: dict[str, Any] = {"enabled": False, "interval": DEFAULT_INTERVAL}


def enable_system_metrics_logging() -> None:
    """Sample system metrics in every run started from now on (`start_run`)."""
    _settings["enabled"] = True


def disable_system_metrics_logging() -> None:
    """Stop sampling system metrics in runs started from now on."""
    _settings["enabled"] = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between samples (default 10; None restores the default)."""
    if interval is None:
        interval = DEFAULT_INTERVAL
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not (
            0 < interval <= 86_400):
        raise InvalidInputError(f"system metrics interval: seconds in (0, 86400] "
                                f"(got {interval!r})")
    _settings["interval"] = float(interval)


def enabled() -> bool:
    """Whether runs started now sample system metrics."""
    return bool(_settings["enabled"])


def _gpu_reader() -> Callable[[], dict[str, float]] | None:
    """A function reading every GPU's utilisation and memory, or None without nvidia-ml-py
    or without a GPU."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                   for i in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError:
        return None

    def read() -> dict[str, float]:
        values: dict[str, float] = {}
        for i, handle in enumerate(handles):
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            values[f"gpu_{i}_utilization_percentage"] = float(
                pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            values[f"gpu_{i}_memory_usage_megabytes"] = memory.used / 2**20
            values[f"gpu_{i}_memory_usage_percentage"] = 100.0 * memory.used / memory.total
        return values

    return read if handles else None


def sample(gpu: Callable[[], dict[str, float]] | None = None) -> dict[str, float]:
    """One reading of every system metric, keyed without the ``system/`` prefix."""
    import psutil

    memory = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    values = {
        "cpu_utilization_percentage": psutil.cpu_percent(),
        "system_memory_usage_megabytes": (memory.total - memory.available) / 2**20,
        "system_memory_usage_percentage": memory.percent,
        "disk_usage_percentage": disk.percent,
        "disk_usage_megabytes": disk.used / 2**20,
        "disk_available_megabytes": disk.free / 2**20,
    }
    net = psutil.net_io_counters()
    if net is not None:
        values["network_receive_megabytes"] = net.bytes_recv / 2**20
        values["network_transmit_megabytes"] = net.bytes_sent / 2**20
    if gpu is not None:
        values.update(gpu())
    return values


class SystemMetricsMonitor:
    """A daemon thread logging `sample()` through `writer` every `interval` seconds, from
    step 0, until `stop()` (which logs a last sample and waits for the thread)."""

    def __init__(self, writer: RunWriter, interval: float | None = None) -> None:
        self.writer = writer
        self.interval = interval or float(_settings["interval"])
        self._stop = threading.Event()
        self._step = 0
        self._thread = threading.Thread(target=self._loop, name="tracking-system-metrics",
                                        daemon=True)
        self._gpu = _gpu_reader()

    def start(self) -> SystemMetricsMonitor:
        import psutil

        psutil.cpu_percent()  # the first reading is relative to this call
        self._thread.start()
        return self

    def _log(self) -> None:
        now = int(time.time() * 1000)
        self.writer.log_metrics([Metric(PREFIX + key, float(value), now, self._step)
                                 for key, value in sample(self._gpu).items()])
        self._step += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # a failed reading never stops the run
                self._log()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):
            self._log()


__all__ = ["SystemMetricsMonitor", "disable_system_metrics_logging",
           "enable_system_metrics_logging", "sample", "set_system_metrics_sampling_interval"]
