"""The sweep page shows the report's boundary warnings (a real sweep, a real server)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import yaml
from ui_server import start_server

import sweeps
from sweeps.space import Space

pytestmark = pytest.mark.browser

OBJECTIVE = '''
def edge(params):
    return {"loss": 20.0 * (params["x"] - 2.0) ** 2 + 80.0 * (params["y"] - 0.5) ** 2}
'''


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("ui-advice")
    (folder / "ui_edge.py").write_text(OBJECTIVE)
    old = os.getcwd()
    os.chdir(folder)
    try:
        result = sweeps.run({
            "experiment": "edge", "objective": "ui_edge:edge",
            "metric": {"name": "loss", "goal": "minimize"},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                      "y": {"type": "float", "low": 0.0, "high": 1.0}},
            "sampler": {"type": "tpe", "seed": 0}, "budget": {"trials": 40},
            "execution": {"workers": 1}, "report": False}, tracking_uri=folder / "runs",
            report=False)
    finally:
        os.chdir(old)
    return folder / "runs", result.sweep_run_id


def test_advice_api_and_sweep_page(browser, edge_store):
    root, sweep_id = edge_store
    server = start_server(root)
    try:
        advice = httpx.get(f"{server.url}/api/sweeps/{sweep_id}/advice").json()
        assert [w.split(":")[0] for w in advice["warnings"]] == ["x"]
        assert Space.from_mapping(yaml.safe_load(advice["space"])["space"]).names == ("x", "y")
        missing = httpx.get(f"{server.url}/api/sweeps/{'0' * 32}/advice")
        assert missing.status_code == 404 and "error" in missing.json()
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/sweeps/{sweep_id}")
        page.wait_for_selector("#advice li")
        assert "x: the best trials lie at the high edge" in page.inner_text("#advice")
        assert errors == []
        page.close()
    finally:
        server.stop()
