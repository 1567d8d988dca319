"""The UI's JSON API over a real store and server: pages of groups, counts, columns, status."""

from __future__ import annotations

import httpx
from ui_server import start_server

from tracking import Client


def get(server, path: str, **params) -> dict:
    response = httpx.get(f"{server.url}{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_experiments_count_runs_and_sweeps(server, ids):
    found = {e["experiment_id"]: e for e in get(server, "/api/experiments")["experiments"]}
    demo = found[ids["demo"]]
    assert (demo["run_count"], demo["top_level_count"], demo["sweep_count"]) == (9, 4, 1)
    assert demo["running_count"] == 0 and demo["last_activity"] >= demo["creation_time"]
    assert get(server, f"/api/experiments/{ids['demo']}") == demo


def test_runs_page_keeps_a_sweep_with_its_trials(server, ids):
    page = get(server, f"/api/experiments/{ids['demo']}/runs", page_size=3, children=2)
    assert (page["total_groups"], page["pages"]) == (4, 2)
    second = get(server, f"/api/experiments/{ids['demo']}/runs", page_size=3, page=2)
    rows = page["rows"] + second["rows"]
    sweep = next(r for r in rows if r["run_id"] == ids["sweep"])
    assert sweep["is_sweep"] and sweep["child_count"] == 5 and sweep["matched"]
    assert all(c["trial_number"] is not None and c["parent_run_id"] == ids["sweep"]
               for c in sweep["children"])
    assert "metrics.loss" in page["shown_columns"] and "params.x" in page["shown_columns"]


def test_runs_page_filter_order_and_columns(server, ids):
    path = f"/api/experiments/{ids['demo']}/runs"
    page = get(server, path, filter="params.model = 'rf' and tags.team = 'a'",
               order_by="metrics.acc DESC", columns=["metrics.acc", "tags.team"])
    assert [r["run_id"] for r in page["rows"]] == [ids["baseline1"]]
    assert page["rows"][0]["values"] == {"metrics.acc": 0.6, "tags.team": "a"}
    trials = get(server, path, filter="tags.`trial.number` IS NOT NULL")
    (sweep,) = trials["rows"]
    assert not sweep["matched"] and sweep["child_matching"] == 5
    bad = httpx.get(f"{server.url}{path}", params={"filter": "metrics.acc >"})
    assert bad.status_code == 400 and bad.json()["field"] == "filter"
    bad = httpx.get(f"{server.url}{path}", params={"order_by": "metrics.acc UP"})
    assert bad.status_code == 400 and bad.json()["field"] == "order_by"


def test_columns_and_children(server, ids):
    columns = get(server, f"/api/experiments/{ids['demo']}/columns", filter="params.x >= 0")
    assert columns["matching_runs"] == 8
    params = {c["key"]: c for c in columns["params"]}
    assert params["model"]["varies"] and params["x"]["present"] == 8
    children = get(server, f"/api/runs/{ids['sweep']}/children", page_size=2,
                   order_by="metrics.loss", columns="metrics.loss")
    assert (children["total"], children["pages"], len(children["rows"])) == (5, 3, 2)
    losses = [r["values"]["metrics.loss"] for r in children["rows"]]
    assert losses == sorted(losses)


def test_run_page_and_sweep_status(server, ids):
    run = get(server, f"/api/runs/{ids['baseline0']}")
    assert {k["key"]: k["points"] for k in run["metric_keys"]} == {"acc": 1, "loss": 5}
    assert run["param_types"] == {"model": "str", "x": "float"}
    assert get(server, f"/api/runs/{ids['sweep']}")["child_count"] == 5
    trial_id = get(server, f"/api/runs/{ids['sweep']}/children")["rows"][0]["run_id"]
    assert get(server, f"/api/runs/{trial_id}")["parent"]["run_id"] == ids["sweep"]
    status = get(server, f"/api/sweeps/{ids['sweep']}/status")
    assert status["counts"] == {"FINISHED": 5} and status["total"] == 5
    best = get(server, f"/api/runs/{ids['sweep']}/children", order_by="metrics.loss",
               page_size=1, columns="metrics.loss")["rows"][0]
    assert status["best"]["run_id"] == best["run_id"]
    assert status["best"]["value"] == best["values"]["metrics.loss"]
    assert status["version"] == get(server, f"/api/sweeps/{ids['sweep']}/status")["version"]
    compare = get(server, "/api/compare", run_ids=f"{ids['baseline0']},{ids['baseline1']}")
    assert {m["key"]: m["points"] for m in compare["metrics"]} == {"acc": 1, "loss": 5}


def test_an_edit_shows_in_the_column_list_at_once(tmp_path):
    client = Client(tmp_path / "store")
    experiment_id = client.create_experiment("e")
    run_id = client.create_run(experiment_id).info.run_id
    client.set_terminated(run_id)
    server = start_server(tmp_path / "store", allow_edits=True)
    try:
        path = f"/api/experiments/{experiment_id}/columns"
        assert "label" not in [t["key"] for t in get(server, path)["tags"]]
        response = httpx.patch(f"{server.url}/api/runs/{run_id}", json={"tags": {"label": "x"}})
        assert response.status_code == 200, response.text
        assert [t["key"] for t in get(server, path)["tags"]].count("label") == 1
    finally:
        server.stop()
