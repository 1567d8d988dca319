"""`serve()` and `sweeps ui`: loopback by default, a warning otherwise, a one-line port error."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from sweeps.ui import serve


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_port_in_use_is_a_one_line_error(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert serve(tmp_path, port=port) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"127.0.0.1:{port}" in err and "--port" in err


def test_a_non_loopback_host_is_warned_about(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert serve(tmp_path, host="0.0.0.0", port=port) == 2
    err = capsys.readouterr().err
    assert "warning" in err and "no authentication" in err


@pytest.mark.slow
def test_sweeps_ui_serves_on_loopback_until_interrupted(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeps.cli", "ui", "--root", str(tmp_path / "store"),
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, (line, proc.stderr.read())
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/experiments")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the UI did not start"
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["experiments"] == []
        assert httpx.get(f"http://localhost:{port}/").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/",
                         headers={"host": f"evil.example:{port}"}).status_code == 403
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
