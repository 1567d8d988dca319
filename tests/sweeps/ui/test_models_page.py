"""The Models pages and API: registered models, versions with run links, the alias history,
and a run page's link to the versions made from it (headless Chromium, a real server)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from ui_server import start_server

import tracking
from tracking import Client

pytestmark = pytest.mark.browser


@pytest.fixture
def registry(tmp_path):
    """A store with one hostile-named model: two versions, an alias moved once."""
    root = tmp_path / "store"
    client = Client(root)
    run = client.create_run(client.get_or_create_experiment("models"))
    run_id = run.info.run_id
    X, y = load_iris(return_X_y=True)
    tracking.sklearn.save_model(LogisticRegression(max_iter=300).fit(X, y), tmp_path / "m")
    client.log_artifacts(run_id, tmp_path / "m", "model")
    client.set_terminated(run_id)
    name = "<img src=x onerror=window.__xss=1>"
    for _ in range(2):
        tracking.register_model(f"runs:/{run_id}/model", name, tags={"lineage.trial": "3"},
                                tracking_uri=str(root))
    client.set_registered_model_alias(name, "champion", 1, reason="first")
    client.set_registered_model_alias(name, "champion", 2, reason="<b>better</b>")
    server = start_server(root)
    yield server, name, run_id
    server.stop()


def test_models_pages_list_versions_runs_and_history(registry, make_watched):
    server, name, run_id = registry
    w = make_watched(server.url)
    w.goto("/models")
    link = w.page.wait_for_selector("#models-table a")
    assert link.text_content() == name
    assert "@champion → 2" in w.page.text_content("#models-table")
    link.click()
    w.page.wait_for_selector("#history-table")
    assert w.page.text_content("#model-name") == name
    versions = w.page.eval_on_selector_all("#versions-table tbody tr",
                                           "rows => rows.map(r => r.dataset.version)")
    assert versions == ["1", "2"]
    assert w.page.get_attribute("#versions-table tr[data-version='2'] a.run-link",
                                "href") == f"/runs/{run_id}"
    assert "trial=3" in w.page.text_content("#versions-table")
    history = w.page.text_content("#history-table")
    assert "first" in history and "<b>better</b>" in history
    w.goto(f"/runs/{run_id}")
    w.page.wait_for_selector("#model-versions a")
    assert w.page.eval_on_selector_all("#model-versions a", "links => links.map(a => "
                                       "a.textContent)") == [f"{name} version 1",
                                                             f"{name} version 2"]
    assert "@champion" in w.page.text_content("#model-versions")
    w.assert_clean()


def test_models_api(registry):
    server, name, _ = registry
    with urllib.request.urlopen(f"{server.url}/api/models") as response:
        listed = json.load(response)["models"]
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in listed] == [
        (name, 2, {"champion": 2})]
    quoted = urllib.request.quote(name, safe="")
    with urllib.request.urlopen(f"{server.url}/api/models/{quoted}") as response:
        model = json.load(response)
    assert [(h["from_version"], h["to_version"]) for h in model["history"]] == [(None, 1), (1, 2)]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server.url}/api/models/nope")
    assert info.value.code == 404
    assert "not found" in json.load(info.value)["error"]
