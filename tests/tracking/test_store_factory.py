"""tracking.store.open_store: every URI form to its store, and one-line refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracking import Client
from tracking.errors import InvalidInputError
from tracking.store import ARTIFACT_ROOT_ENV, open_store, resolve_uri
from tracking.store.postgres import PostgresStore
from tracking.store.sqlite import DB_FILENAME, SqliteStore


def test_every_sqlite_spelling_is_the_same_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = str(tmp_path / "runs")
    for uri in ("runs", Path("runs"), folder, f"file:{folder}", f"file://{folder}",
                "file:runs", "sqlite:///runs/tracking.db", f"sqlite:///{folder}/tracking.db",
                "./runs/"):
        assert resolve_uri(uri) == folder, uri


def test_sqlite_uris_open_todays_layout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///runs/tracking.db")
    assert isinstance(store, SqliteStore)
    assert store is open_store(tmp_path / "runs")  # one shared store per process and folder
    assert store.artifact_root == str(tmp_path / "runs" / "artifacts")
    assert os.path.isfile(tmp_path / "runs" / DB_FILENAME)
    client = Client("sqlite:///runs/tracking.db")
    run = client.create_run(client.create_experiment("e"))
    assert run.info.artifact_uri == str(tmp_path / "runs" / "artifacts" / "1" / run.info.run_id)
    reader = open_store("runs", read_only=True)
    assert reader.read_only and reader is not store


def test_postgres_uris_are_kept_as_given():
    for uri in ("postgresql://me:pw@db:5432/runs", "postgresql+psycopg://me@db/runs",
                "postgres://db/runs"):
        assert resolve_uri(uri) == uri


@pytest.mark.postgres
def test_postgres_artifact_root_from_argument_environment_or_default(postgres_uri, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ARTIFACT_ROOT_ENV, raising=False)
    default = open_store(postgres_uri)
    assert isinstance(default, PostgresStore)
    assert default.artifact_root == str(tmp_path / "artifacts")
    monkeypatch.setenv(ARTIFACT_ROOT_ENV, str(tmp_path / "from-env"))
    assert open_store(postgres_uri).artifact_root == str(tmp_path / "from-env")
    given = open_store(postgres_uri, artifact_root="given")
    assert given.artifact_root == str(tmp_path / "given")
    assert open_store(postgres_uri, artifact_root="given") is given


@pytest.mark.parametrize(("uri", "message"), [
    ("mysql://db/runs", "unknown scheme 'mysql'"),
    ("s3://bucket/runs", "unknown scheme 's3' in .*; valid: a folder path, file:"),
    ("http://server:5000", "is a tracking server, not a store"),
    ("https://mlflow.example.com", "sweeps export --to"),
    ("databricks", "is a tracking server, not a store"),
    ("databricks://profile", "is a tracking server, not a store"),
    ("sqlite:///runs/mlflow.db", "must be named tracking.db"),
    ("sqlite://", "unknown scheme 'sqlite'"),
    ("", "not a folder path"),
    ("a\x00b", "not a folder path"),
])
def test_bad_uris_are_one_line_errors(uri, message):
    with pytest.raises(InvalidInputError, match=message) as caught:
        open_store(uri)
    assert "\n" not in str(caught.value)
    with pytest.raises(InvalidInputError, match=message):
        Client(uri)
