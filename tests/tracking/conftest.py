"""Shared fixtures for the tracking tests: real stores in tmp_path, real child processes."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracking
from tracking import fluent


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fresh tracking root folder."""
    return tmp_path / "store"


@pytest.fixture
def mlflow(root: Path) -> Iterator[object]:
    """The fluent API pointed at a fresh store; active runs and settings undone afterwards."""
    uri_token = fluent._uri.set(None)
    experiment_token = fluent._experiment_id.set(None)
    stack_token = fluent._stack.set(())
    last_token = fluent._last.set(None)
    tracking.set_tracking_uri(root)
    try:
        yield tracking
    finally:
        while fluent._stack.get():
            tracking.end_run()
        fluent._stack.reset(stack_token)
        fluent._last.reset(last_token)
        fluent._experiment_id.reset(experiment_token)
        fluent._uri.reset(uri_token)


def run_python(code: str, *, cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter in `cwd`; fail the test with its stderr when it
    fails. The tracking variables of this process's environment are not passed on."""
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("SWEEPS_TRACKING_URI", "TRACKING_RUN_ID", "TRACKING_EVENTS")}
    full_env.update(env or {})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=cwd, check=False)
    if check and done.returncode != 0:
        pytest.fail(f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture
def python(tmp_path: Path):
    """`python(code, env=...)`: run code in a fresh interpreter in tmp_path (see run_python)."""
    return functools.partial(run_python, cwd=tmp_path)
