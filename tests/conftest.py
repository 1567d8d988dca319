"""Fixtures shared by every test folder: one headless Chromium and one PostgreSQL server
for the whole session.

The browser is Debian's chromium at /usr/bin/chromium, driven by Playwright (one Playwright
instance per process: the report and UI tests share it). A missing browser fails the
browser tests; they are never skipped.

PostgreSQL: `.ci/run` starts a throw-away cluster and exports its URI in
$SWEEPS_TEST_POSTGRES_URI. Without it, the first `postgres` test starts one the same way
(initdb in a temp folder, as the `postgres` user when run as root, on 127.0.0.1 and a free
port) if Debian's binaries are in /usr/lib/postgresql/*/bin, and stops it at the end. With
neither, the tests marked `postgres` fail: run `pytest -m "not postgres"` instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"browser tests need Debian's chromium at {CHROMIUM} "
                    "(apt-get install chromium); do not run `playwright install`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


POSTGRES_URI_ENV = "SWEEPS_TEST_POSTGRES_URI"


def _start_cluster(folder: str) -> tuple[str, list[str]]:
    """initdb + pg_ctl start in `folder`; returns (the server's URI, the stop command)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.fail(f"postgres tests need a server: set {POSTGRES_URI_ENV} or apt-get install "
                    'postgresql; or run pytest -m "not postgres"', pytrace=False)
    bin_dir = os.path.dirname(found[-1])
    user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        user = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(folder, "data")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run([*user, f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
               "-c max_connections=200")
    subprocess.run([*user, f"{bin_dir}/pg_ctl", "-D", data, "-o", options, "-w", "-l",
                    os.path.join(folder, "server.log"), "start"], check=True, capture_output=True)
    stop = [*user, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URI of the session's PostgreSQL server (its `postgres` database, a superuser)."""
    uri = os.environ.get(POSTGRES_URI_ENV)
    if uri:
        yield uri
        return
    folder = tempfile.mkdtemp(prefix="sweeps-pg-")
    os.chmod(folder, 0o755)
    try:
        uri, stop = _start_cluster(folder)
        try:
            yield uri
        finally:
            subprocess.run(stop, check=False, capture_output=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_uri(postgres_server: str) -> Iterator[str]:
    """The URI of a fresh, empty database on the session's server, dropped afterwards."""
    import psycopg

    from tracking.store.postgres import PostgresStore

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    uri = f"{base}/{name}"
    try:
        yield uri
    finally:
        for key, store in list(PostgresStore._open.items()):
            if key[0] == uri:
                store.close()
                del PostgresStore._open[key]
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
