"""The UI serves nothing through a linked run or experiment folder, nor a hard-linked file."""

from __future__ import annotations

import os
import shutil
import sys

import httpx
import pytest
from ui_server import start_server

from tracking import Client

CANARY = "TOP-SECRET-CANARY"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="links need POSIX")


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """A store whose runs' folders are links to a secret outside it, or hard-link to it."""
    base = tmp_path_factory.mktemp("links")
    root, outside = base / "store", base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(CANARY)
    client = Client(root)
    plain = client.create_experiment("plain")
    linked_exp = client.create_experiment("linked")
    runs = {name: client.create_run(plain if name != "experiment" else linked_exp,
                                    run_name=name).info.run_id
            for name in ("run", "experiment", "hard")}
    client.flush()
    os.makedirs(root / "artifacts" / plain)
    os.symlink(outside, root / "artifacts" / plain / runs["run"])
    (outside / runs["experiment"]).mkdir()
    (outside / runs["experiment"] / "secret.txt").write_text(CANARY)
    os.symlink(outside, root / "artifacts" / linked_exp)
    hard = root / "artifacts" / plain / runs["hard"]
    hard.mkdir()
    os.link(outside / "secret.txt", hard / "secret.txt")
    (hard / "ok.txt").write_text("fine")
    running = start_server(root)
    with httpx.Client(base_url=running.url, timeout=10) as http:
        yield http, runs
    running.stop()
    shutil.rmtree(base, ignore_errors=True)


@posix_only
@pytest.mark.parametrize("which", ["run", "experiment"])
def test_a_linked_run_or_experiment_folder_is_not_served(linked, which):
    http, runs = linked
    route = f"/api/runs/{runs[which]}/artifacts"
    for response in (http.get(route), http.get(route + "/preview", params={"path": "secret.txt"}),
                     http.get(route + "/download", params={"path": "secret.txt"})):
        assert response.status_code == 400, response.text
        assert "symbolic link" in response.json()["error"]
        assert CANARY not in response.text


@posix_only
def test_a_hard_linked_file_is_not_listed_previewed_or_downloaded(linked):
    http, runs = linked
    route = f"/api/runs/{runs['hard']}/artifacts"
    assert [f["path"] for f in http.get(route).json()["files"]] == ["ok.txt"]
    for endpoint in ("/preview", "/download"):
        response = http.get(route + endpoint, params={"path": "secret.txt"})
        assert response.status_code == 400, response.text
        assert "hard links" in response.json()["error"]
        assert CANARY not in response.text
    assert http.get(route + "/download", params={"path": "ok.txt"}).text == "fine"
