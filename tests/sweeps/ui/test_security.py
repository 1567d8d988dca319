"""The UI refuses path traversal, foreign hosts, cross-site writes and non-JSON writes."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest
import ui_data
from ui_server import start_server

from tracking import Client

CANARY = "TOP-SECRET-CANARY"
TRAVERSAL = [
    "../SECRET.txt", "../../SECRET.txt", "../../../../../../SECRET.txt", "./../SECRET.txt",
    "notes/../../SECRET.txt", "notes/./../../../SECRET.txt", "..", "/etc/passwd",
    "//etc/passwd", "~/SECRET.txt", "..\\SECRET.txt", "notes\\..\\..\\SECRET.txt",
    "C:\\Windows\\win.ini", "C:x", "file:///etc/passwd", "http:///#/../../SECRET.txt",
    "x?y=../../SECRET.txt", "x#../../SECRET.txt", "a\x00b", "\uff0e\uff0e/SECRET.txt",
    "link.txt", "linkdir/SECRET.txt", "linkdir/store/tracking.db", "linkdir",
    "../../../inside-root-canary.txt", "", "notes", "CON", "A" * 5000,
]
ENCODED = [  # raw query strings, sent without re-encoding
    "%2e%2e/SECRET.txt", "%2e%2e%2fSECRET.txt", "..%2fSECRET.txt", "..%2f..%2f..%2fSECRET.txt",
    "%252e%252e%252fSECRET.txt", "..%252f..%252fSECRET.txt", "..%c0%af..%c0%afSECRET.txt",
    "..%5c..%5cSECRET.txt", "%00", "a%00.txt", "%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2finside-root-canary.txt", "linkdir%2fSECRET.txt",
]


def db_hash(root: Path) -> str:
    """A hash of every row in the store (the WAL included)."""
    conn = sqlite3.connect((root / "tracking.db").as_uri() + "?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def http(server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("endpoint", ["download", "preview", ""])
def test_artifact_paths_outside_the_run_folder_are_refused(http, ids, endpoint):
    route = f"/api/runs/{ids['baseline0']}/artifacts" + (f"/{endpoint}" if endpoint else "")
    checked = 0
    for payload in TRAVERSAL:
        response = http.get(route, params={"path": payload})
        if endpoint == "" and payload in ("", "notes"):  # listing the run folder is fine
            assert response.status_code == 200
            continue
        assert response.status_code in (400, 404), (payload, response.status_code, response.text)
        assert CANARY not in response.text and "SQLite format" not in response.text
        assert "error" in response.json()
        checked += 1
    for raw in ENCODED:
        response = http.get(f"{route}?path={raw}")
        assert response.status_code in (400, 404), (raw, response.status_code, response.text)
        assert CANARY not in response.text
        checked += 1
    assert checked >= 40


def test_traversal_in_the_url_path_is_refused(http, ids):
    for path in (f"/api/runs/..%2f..%2f{ids['baseline0']}/artifacts/download?path=x",
                 "/api/runs/%2e%2e/artifacts/download?path=SECRET.txt",
                 "/static/../../../SECRET.txt", "/static/%2e%2e/%2e%2e/%2e%2e/SECRET.txt",
                 "/static/..%2f..%2f..%2fSECRET.txt", "/vendor/../static/ui.js/../../x"):
        response = http.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert CANARY not in response.text


def test_a_symlinked_run_folder_component_is_not_followed(http, ids, ui_store):
    root = ui_store[0]
    folder = Path(ids["artifacts_dir"])
    assert (folder / "link.txt").is_symlink()
    response = http.get(f"/api/runs/{ids['baseline0']}/artifacts/download",
                        params={"path": "link.txt"})
    assert response.status_code == 400 and "link" in response.json()["error"]
    listing = http.get(f"/api/runs/{ids['baseline0']}/artifacts").json()
    assert {"link.txt", "linkdir"}.isdisjoint({f["path"] for f in listing["files"]})
    assert (root / "tracking.db").exists()


def test_downloads_are_attachments_with_safe_types(http, ids):
    route = f"/api/runs/{ids['baseline0']}/artifacts/download"
    html = http.get(route, params={"path": "page.html", "inline": "1"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/plain")
    assert html.headers["content-disposition"].startswith("attachment")
    assert html.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in html.headers["content-security-policy"]
    svg = http.get(route, params={"path": "pic.svg", "inline": "1"})
    assert svg.headers["content-type"].startswith("text/plain")
    assert svg.headers["content-disposition"].startswith("attachment")
    png = http.get(route, params={"path": "plots/dot.png", "inline": "1"})
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith("inline")
    assert png.content == ui_data.PNG
    text = http.get(route, params={"path": "notes/hello.txt"})
    assert text.text == "hello artifact\n"
    assert text.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1.nip.io", "localhost",
                                  "127.0.0.1:1", "attacker.example:{port}", "localhost.:{port}",
                                  "127.0.0.1:{port}.attacker.example", ""])
def test_a_foreign_host_header_is_refused(http, server, host):
    response = http.get("/api/experiments", headers={"host": host.format(port=server.port)})
    assert response.status_code == 403
    assert "Host" in response.json()["error"]
    assert http.get("/", headers={"host": host.format(port=server.port)}).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_loopback_host_headers_are_accepted(http, server, host):
    assert http.get("/api/experiments",
                    headers={"host": host.format(port=server.port)}).status_code == 200


def test_security_headers_and_no_cors(http, ids):
    for path in ("/", "/api/experiments", f"/runs/{ids['baseline0']}", "/static/ui.js"):
        response = http.get(path, headers={"origin": "https://attacker.example"})
        assert "access-control-allow-origin" not in response.headers
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    preflight = http.options("/api/runs/x", headers={
        "origin": "https://attacker.example", "access-control-request-method": "PATCH"})
    assert preflight.status_code in (403, 405)
    assert "access-control-allow-origin" not in preflight.headers


def test_filter_injection_is_a_literal_or_a_positioned_error(http, ids, ui_store):
    before = db_hash(ui_store[0])
    route = f"/api/experiments/{ids['demo']}/runs"
    for text in ("params.x = '1' OR '1'='1'", "metrics.acc > 0; DROP TABLE runs; --",
                 "tags.x = \"a\\\" OR 1=1 --\"", "params.x LIKE '%'", "' UNION SELECT 1",
                 "(" * 60 + "params.x = 1" + ")" * 60, "params.x = \u2018x\u2019"):
        response = http.get(route, params={"filter": text})
        assert response.status_code in (200, 400), text
        if response.status_code == 400:
            body = response.json()
            assert body["field"] == "filter" and isinstance(body["position"], int)
    bad = http.get(route, params={"order_by": "1; DROP TABLE runs"})
    assert bad.status_code == 400 and bad.json()["field"] == "order_by"
    assert db_hash(ui_store[0]) == before


def test_edits_are_off_by_default(http, ids, ui_store):
    before = db_hash(ui_store[0])
    response = http.patch(f"/api/runs/{ids['baseline0']}", json={"note": "changed"})
    assert response.status_code == 405
    assert http.post(f"/api/runs/{ids['baseline0']}", json={"note": "x"}).status_code == 405
    assert http.delete(f"/api/runs/{ids['baseline0']}").status_code in (405, 415)
    assert db_hash(ui_store[0]) == before


@pytest.fixture(scope="module")
def edit_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("edits") / "store"
    client = Client(root)
    run = client.create_run(client.create_experiment("e"), run_name="r")
    client.set_note(run.info.run_id, "original")
    client.flush()
    running = start_server(root, allow_edits=True)
    yield running, run.info.run_id, client
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


def _note(client: Client, run_id: str) -> str:
    return Client(store=client.store).get_run(run_id).data.note


def test_edits_need_same_origin_json(edit_server):
    server, run_id, client = edit_server
    url = f"{server.url}/api/runs/{run_id}"
    cases = [
        ({"origin": "https://attacker.example", "content-type": "application/json"}, 403),
        ({"origin": "null", "content-type": "application/json"}, 403),
        ({"origin": f"http://localhost:{server.port}", "content-type": "application/json"}, 403),
        ({"sec-fetch-site": "cross-site", "content-type": "application/json"}, 403),
        ({"content-type": "text/plain"}, 415),
        ({"content-type": "application/x-www-form-urlencoded"}, 415),
        ({"content-type": "multipart/form-data; boundary=x"}, 415),
        ({}, 415),
    ]
    for headers, status in cases:
        response = httpx.patch(url, content=b'{"note": "pwned"}', headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert "error" in response.json()
        assert _note(client, run_id) == "original"
    cross_post = httpx.post(url, content=b"{}", headers={"origin": "https://attacker.example",
                                                         "content-type": "application/json"})
    assert cross_post.status_code == 403


def test_a_same_origin_json_edit_is_applied(edit_server):
    server, run_id, client = edit_server
    url = f"{server.url}/api/runs/{run_id}"
    ok = httpx.patch(url, json={"note": "**new** note", "tags": {"reviewed": "yes"}},
                     headers={"origin": server.url})
    assert ok.status_code == 200, ok.text
    fresh = Client(store=client.store).get_run(run_id)
    assert fresh.data.note == "**new** note" and fresh.data.tags["reviewed"] == "yes"
    for body in ({"tags": {"sweep.role": "sweep"}}, {"note": 3}, {"other": 1}, [], "x"):
        response = httpx.patch(url, json=body)
        assert response.status_code == 400, body
    assert httpx.patch(url, content=b"{not json", headers={
        "content-type": "application/json"}).status_code == 400
    too_big = httpx.patch(url, json={"note": "x" * (2 << 20)})
    assert too_big.status_code == 413
    assert httpx.patch(f"{server.url}/api/runs/nope", json={"note": "x"}).status_code == 404
