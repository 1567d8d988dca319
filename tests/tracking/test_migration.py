"""Schema migrations against real old database files built from MIGRATIONS."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from tracking import Client, RunStatus
from tracking.errors import StoreError
from tracking.store.schema import MIGRATIONS, SCHEMA_VERSION
from tracking.store.sqlite import DB_FILENAME, SqliteStore


def build(root: Path, version: int) -> Path:
    """A database file at schema `version`, made with plain sqlite3."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / DB_FILENAME
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for steps in MIGRATIONS[:version]:
            for statement in steps:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    finally:
        conn.close()
    return path


def test_a_version_1_database_is_upgraded_with_its_data(root):
    path = build(root, 1)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("INSERT INTO experiments VALUES (1, 'old', 'artifacts/1', 100)")
        conn.execute("INSERT INTO experiment_tags VALUES (1, 'owner', 'me')")
        conn.execute("INSERT INTO runs (run_id, experiment_id, run_name, parent_run_id, status,"
                     " start_time, end_time, note) VALUES "
                     "('r1', 1, 'first', NULL, 'FINISHED', 1000, 2000, 'old note'), "
                     "('r2', 1, 'second', 'r1', 'FAILED', 3000, NULL, '')")
        conn.execute("INSERT INTO params VALUES ('r1', 'lr', '0.1')")
        conn.execute("INSERT INTO tags VALUES ('r1', 'k', 'v')")
        conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                         [("r1", "loss", 1.0, 0, 0, 10), ("r1", "loss", None, 1, 1, 20)])
        conn.execute("INSERT INTO latest_metrics VALUES ('r1', 'loss', NULL, 1, 1, 20)")
    finally:
        conn.close()

    store = SqliteStore(root)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT value_type FROM params").fetchall() == [("str",)]
        assert conn.execute("SELECT lifecycle_stage FROM runs").fetchall() == [("active",)] * 2
    finally:
        conn.close()
    run = store.get_run("r1")
    assert run.info.status is RunStatus.FINISHED and run.info.end_time == 2000
    assert run.info.lifecycle_stage == "active"
    assert dict(run.data.params) == {"lr": "0.1"} and dict(run.data.tags) == {"k": "v"}
    assert run.data.note == "old note" and math.isnan(run.data.metrics["loss"])
    assert [m.value for m in store.get_metric_history("r1", "loss")][0] == 1.0
    assert store.get_run("r2").info.parent_run_id == "r1"
    assert store.get_experiment("1").tags == {"owner": "me"}
    assert store.param_types(["r1"]) == {("r1", "lr"): "str"}

    client = Client(store=store)  # and the upgraded store takes new writes
    client.delete_run("r2")
    assert [r.info.run_id for r in client.search_runs(["1"])] == ["r1"]
    client.log_param("r1", "depth", 3)
    assert store.param_types(["r1"])[("r1", "depth")] == "int"


def test_every_old_version_upgrades(tmp_path):
    for version in range(SCHEMA_VERSION):
        root = tmp_path / f"v{version}"
        build(root, version)
        SqliteStore(root)
        conn = sqlite3.connect(root / DB_FILENAME)
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        finally:
            conn.close()


def test_a_newer_database_is_refused_and_left_alone(root):
    path = build(root, SCHEMA_VERSION)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as caught:
        SqliteStore(root)
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"({SCHEMA_VERSION})" in message and "upgrade sweepbook" in message
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    finally:
        conn.close()


def test_a_read_only_open_upgrades_an_older_store_first(root):
    """The UI opens stores read-only: an older store is upgraded once, then read."""
    path = build(root, SCHEMA_VERSION - 1)
    store = SqliteStore(root, read_only=True)
    assert store.search_registered_models() == []  # a table of the newest schema
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()

