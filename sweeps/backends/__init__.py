"""Backends by name: a plain registry. `make_backend` builds the one a config asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sweeps.backends.base import Backend

if TYPE_CHECKING:
    from sweeps.config import SweepConfig


def _local(config: SweepConfig) -> Backend:
    from sweeps.backends.local import LocalBackend
    return LocalBackend(config.execution.workers,
                        gpus_per_trial=float(config.execution.resources.get("gpu", 0)))


def _ray(config: SweepConfig) -> Backend:
    from sweeps.backends.ray import RayBackend
    return RayBackend(config.execution)


BACKENDS: dict[str, Callable[[SweepConfig], Backend]] = {"local": _local, "ray": _ray}


def make_backend(config: SweepConfig) -> Backend:
    return BACKENDS[config.execution.backend](config)


__all__ = ["BACKENDS", "Backend", "make_backend"]
