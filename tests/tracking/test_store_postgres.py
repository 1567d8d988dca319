"""What only the PostgreSQL store does: its schema versions, connections, read-only sessions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

import tracking
from tracking import Client
from tracking.entities import RunInfo, RunStatus
from tracking.errors import StoreError
from tracking.store import open_store
from tracking.store.base import Batch
from tracking.store.postgres import PostgresStore, display_uri
from tracking.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION

pytestmark = pytest.mark.postgres


def add_run(store: PostgresStore, experiment_id: str, run_id: str) -> None:
    store.apply(Batch(new_runs=[RunInfo(
        run_id=run_id, run_name=run_id, experiment_id=experiment_id, parent_run_id=None,
        status=RunStatus.RUNNING, start_time=1, end_time=None, artifact_uri="")]))


def version_of(uri: str) -> int:
    with psycopg.connect(uri) as conn:
        return conn.execute("SELECT version FROM schema_version").fetchone()[0]


def test_a_fresh_database_gets_the_current_schema(postgres_uri, tmp_path):
    store = PostgresStore(postgres_uri, artifact_root=str(tmp_path))
    try:
        assert version_of(postgres_uri) == SCHEMA_VERSION == len(MIGRATIONS)
        again = PostgresStore(postgres_uri, artifact_root=str(tmp_path))  # already current
        again.close()
    finally:
        store.close()
    assert version_of(postgres_uri) == SCHEMA_VERSION


def test_each_older_version_migrates_to_current_keeping_its_rows(postgres_uri, tmp_path):
    for version in range(SCHEMA_VERSION):
        name = f"v{version}"
        with psycopg.connect(postgres_uri, autocommit=True) as conn:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
            for steps in MIGRATIONS[:version]:
                for statement in steps:
                    conn.execute(statement)
            if version >= 1:
                conn.execute("INSERT INTO experiments (name, artifact_location, creation_time) "
                             "VALUES (%s, '1', 5)", (name,))
        store = PostgresStore(postgres_uri, artifact_root=str(tmp_path))
        try:
            assert version_of(postgres_uri) == SCHEMA_VERSION
            if version >= 1:
                assert store.get_experiment_by_name(name).creation_time == 5
            experiment_id = store.create_experiment(f"after-{name}")
            add_run(store, experiment_id, "r1")
            assert store.get_run("r1").info.experiment_id == experiment_id
        finally:
            store.close()
        with psycopg.connect(postgres_uri, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(postgres_uri, tmp_path):
    code = textwrap.dedent(f"""
        from tracking.store.postgres import PostgresStore
        store = PostgresStore({postgres_uri!r}, artifact_root={str(tmp_path)!r})
        print(store.create_experiment(__import__("uuid").uuid4().hex))
    """)
    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0] * 4, results
    assert version_of(postgres_uri) == SCHEMA_VERSION
    with psycopg.connect(postgres_uri) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1


def test_a_newer_schema_is_refused_in_one_line(postgres_uri, tmp_path):
    PostgresStore(postgres_uri, artifact_root=str(tmp_path)).close()
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this sweepbook understands") as caught:
        PostgresStore(postgres_uri, artifact_root=str(tmp_path))
    assert "\n" not in str(caught.value)


def test_read_only_needs_a_schema_and_never_creates_one(postgres_uri, tmp_path):
    with pytest.raises(StoreError, match="no tracking schema"):
        PostgresStore(postgres_uri, artifact_root=str(tmp_path), read_only=True)
    with psycopg.connect(postgres_uri) as conn:
        assert conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None


def test_the_server_itself_refuses_writes_in_a_read_only_session(postgres_uri, tmp_path):
    PostgresStore(postgres_uri, artifact_root=str(tmp_path)).close()
    reader = PostgresStore(postgres_uri, artifact_root=str(tmp_path), read_only=True)
    try:
        with pytest.raises(StoreError, match="read-only transaction"):
            reader._call(lambda conn: conn.execute("CREATE TABLE sneaky (x int)"), write=False)
    finally:
        reader.close()


def test_a_forked_child_gets_its_own_connection(postgres_uri, tmp_path):
    store = open_store(postgres_uri, artifact_root=tmp_path)
    experiment_id = store.create_experiment("fork")
    add_run(store, experiment_id, "r1")
    backend = store._call(lambda conn: conn.info.backend_pid, write=False)
    pid = os.fork()
    if pid == 0:  # the child: write through the inherited store object, then leave
        code = 0
        try:
            store.apply(Batch(tags=[("r1", "from", "child")]))
        except BaseException:  # noqa: BLE001 - reported through the exit code
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.apply(Batch(tags=[("r1", "from-parent", "yes")]))  # the parent's session lives on
    assert store._call(lambda conn: conn.info.backend_pid, write=False) == backend
    assert store.get_run("r1").data.tags == {"from": "child", "from-parent": "yes"}


def test_a_dropped_connection_is_reopened(postgres_uri, tmp_path):
    store = open_store(postgres_uri, artifact_root=tmp_path)
    experiment_id = store.create_experiment("drop")
    backend = store._call(lambda conn: conn.info.backend_pid, write=False)
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    assert store.get_experiment(experiment_id).name == "drop"


def test_errors_are_one_line_and_hide_the_password(tmp_path):
    uri = "postgresql://me:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError, match="cannot connect to") as caught:
        open_store(uri, artifact_root=tmp_path)
    assert "s3cret" not in str(caught.value) and "\n" not in str(caught.value)
    assert display_uri(uri) == "postgresql://me:***@127.0.0.1:1/nowhere"
    assert display_uri("postgresql://me@host/db") == "postgresql://me@host/db"


def test_without_psycopg_the_error_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from tracking.store import open_store\n"
            "open_store('postgresql://me@127.0.0.1/db', artifact_root='.')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode != 0
    assert "pip install sweepbook[postgres]" in done.stderr


def test_client_and_fluent_api_on_postgres(postgres_uri, tmp_path, monkeypatch, mlflow):
    monkeypatch.setenv("SWEEPS_ARTIFACT_ROOT", str(tmp_path / "shared"))
    uri = postgres_uri.replace("postgresql://", "postgresql+psycopg://")
    tracking.set_tracking_uri(uri)
    assert tracking.get_tracking_uri() == uri
    (tmp_path / "notes.txt").write_text("hi")
    tracking.set_experiment("team")
    with tracking.start_run() as run:
        tracking.log_param("lr", 0.1)
        tracking.log_metric("loss", float("nan"), step=1)
        tracking.log_artifact(str(tmp_path / "notes.txt"))
    client = Client(uri)
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"lr": "0.1"} and got.info.status is RunStatus.FINISHED
    assert client.artifact_root == tmp_path / "shared"
    folder = Path(tmp_path, "shared", got.info.experiment_id, run.info.run_id)
    assert got.info.artifact_uri == str(folder)
    assert (folder / "notes.txt").read_text() == "hi"
    frame = tracking.search_runs(experiment_names=["team"], filter_string="params.lr > 0.05")
    assert list(frame["run_id"]) == [run.info.run_id]
