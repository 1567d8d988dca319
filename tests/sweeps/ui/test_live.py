"""The UI follows a sweep that another process is writing, starting from an empty store."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
import ui_data
from ui_server import start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_for_sweep(url: str, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for experiment in httpx.get(f"{url}/api/experiments").json()["experiments"]:
            rows = httpx.get(f"{url}/api/experiments/{experiment['experiment_id']}/runs",
                             params={"children": 0}).json()["rows"]
            sweeps = [r["run_id"] for r in rows if r["is_sweep"]]
            if sweeps:
                return sweeps[0]
        if proc.poll() is not None:
            pytest.fail(f"the sweep process ended early: {proc.communicate()}")
        time.sleep(0.2)
    pytest.fail("no sweep appeared in the store")


def test_live_view_updates_while_a_sweep_writes(tmp_path, make_watched):
    root, project = tmp_path / "store", tmp_path / "project"
    project.mkdir()
    ui_data.write_objective(project)
    server = start_server(root)  # no database yet: the UI starts empty and picks it up
    proc = None
    try:
        w = make_watched(server.url)
        w.goto("/")
        w.page.wait_for_selector("#empty")
        config = ui_data.sweep_config("live", trials=8, workers=1)
        script = ("import sweeps\n"
                  f"sweeps.run({config!r}, tracking_uri={str(root)!r}, report=False)\n")
        env = {**os.environ, "UI_TRIAL_SLEEP": "0.7"}
        env.pop("SWEEPS_TRACKING_URI", None)
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=project, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        w.page.wait_for_selector("#experiments-table a:has-text('live')", timeout=30_000)
        sweep_id = wait_for_sweep(server.url, proc)

        w.goto(f"/sweeps/{sweep_id}")
        w.page.wait_for_selector("#sweep-meta .st-running")
        first = int(w.page.text_content("#count-FINISHED"))
        assert first < 8
        w.page.wait_for_function(
            f"() => Number(document.getElementById('count-FINISHED').textContent) > {first}",
            timeout=30_000)
        w.page.wait_for_selector("#sweep-meta .st-finished", timeout=60_000)
        assert w.page.text_content("#count-FINISHED") == "8"
        assert w.page.text_content("#count-total") == "8 / 8"
        assert proc.wait(timeout=60) == 0, proc.communicate()
        report = w.page.frame_locator("#report")
        report.locator("text=8 (8 finished)").first.wait_for(timeout=30_000)
        assert "trial #" in w.page.text_content("#best")
        w.assert_clean()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc is not None:
            proc.communicate()
        server.stop()
