"""tracking.store.sqlite: what is particular to the SQLite store (the contract is in
test_store_contract.py)."""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time

import pytest

from tracking.entities import RunInfo, RunStatus
from tracking.errors import StoreError
from tracking.store.base import Batch
from tracking.store.schema import SCHEMA_VERSION
from tracking.store.sqlite import DB_FILENAME, SqliteStore


def add_run(store: SqliteStore, run_id: str = "r1") -> None:
    experiment_id = store.create_experiment(f"e-{run_id}")
    store.apply(Batch(new_runs=[RunInfo(run_id, run_id, experiment_id, None, RunStatus.RUNNING,
                                        0, None, "")]))


def test_a_new_store_is_wal_at_the_current_version(root):
    store = SqliteStore(root)
    path = root / DB_FILENAME
    assert store.path == str(path) and path.exists()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_open_shares_one_store_per_process_and_root(root, tmp_path):
    assert SqliteStore.open(root) is SqliteStore.open(str(root) + "/")
    assert SqliteStore.open(root) is not SqliteStore.open(tmp_path / "other")


def test_nan_and_negative_zero_are_flagged_in_the_file(root):
    store = SqliteStore(root)
    add_run(store)
    store.apply(Batch(metrics=[("r1", "m", math.nan, 0, 0), ("r1", "m", -0.0, 1, 0),
                               ("r1", "m", math.inf, 2, 0)]))
    conn = sqlite3.connect(store.path)
    try:
        rows = conn.execute("SELECT value, is_nan FROM metrics ORDER BY step").fetchall()
    finally:
        conn.close()
    assert rows == [(None, 1), (0.0, 2), (math.inf, 0)]


def test_read_only_store(root):
    with pytest.raises(StoreError, match="no database"):
        SqliteStore(root, read_only=True)
    writer = SqliteStore(root)
    add_run(writer)
    reader = SqliteStore(root, read_only=True)
    assert reader.get_run("r1").info.run_id == "r1"
    with pytest.raises(StoreError, match="read-only"):
        reader.apply(Batch(tags=[("r1", "k", "v")]))


def test_an_unusable_root_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open"):
        SqliteStore(blocker)
    (tmp_path / "db" / DB_FILENAME).mkdir(parents=True)
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "db")


def test_a_corrupt_file_is_a_store_error(root):
    root.mkdir()
    (root / DB_FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=DB_FILENAME):
        SqliteStore(root)


def test_a_writer_waits_for_another_connections_lock(root):
    store = SqliteStore(root)
    add_run(store)
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        start = time.monotonic()
        store.apply(Batch(tags=[("r1", "k", "v")]))  # waits; never "database is locked"
        assert time.monotonic() - start >= 0.2
    finally:
        release.join()
        other.close()
    assert store.get_run("r1").data.tags == {"k": "v"}


def test_store_files_are_private(root):
    SqliteStore(root)
    assert os.stat(root).st_mode & 0o077 == 0
