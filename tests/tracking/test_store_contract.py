"""The Store contract suite (tracking/testing.py), run against SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracking.testing import *  # noqa: F403 - the contract's tests and fixtures


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_uri")
    return str(tmp_path / "store")
