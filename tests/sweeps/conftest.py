"""Fixtures for the engine tests: a throwaway project folder with sample objectives."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the cwd) holding sample_objectives.py and examples/."""
    shutil.copy(HERE / "sample_objectives.py", tmp_path / "sample_objectives.py")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWEEPS_TRACKING_URI", raising=False)
    return tmp_path


def sweep_config(objective: str, **sections: Any) -> dict[str, Any]:
    """A small valid config dict; keyword sections replace the defaults."""
    config: dict[str, Any] = {
        "experiment": "test",
        "objective": objective,
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 2.0}},
        "sampler": {"type": "random", "seed": 0},
        "budget": {"trials": 6},
        "execution": {"workers": 2},
        "report": False,
    }
    config.update(sections)
    return config


@pytest.fixture
def make_config() -> Any:
    return sweep_config
