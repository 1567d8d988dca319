"""The runs table as one flat list of every run (sorted across sweeps) and min/max/last of
step metrics: the API over the shared store and over 10,000 runs, and the page in Chromium."""

from __future__ import annotations

import math
import time

import httpx
import pytest
from ui_server import start_server

from sweeps import records
from tracking import Client, Metric


def get(server, path: str, **params) -> dict:
    response = httpx.get(f"{server.url}{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def history_range(client: Client, run_id: str, key: str) -> list[float]:
    values = [m.value for m in client.get_metric_history(run_id, key)]
    return [min(values), max(values)]


def test_flat_list_orders_every_run_and_gives_step_ranges(server, ids, ui_store):
    client = Client(ui_store[0])
    path = f"/api/experiments/{ids['demo']}/runs"
    pages = [get(server, path, flat=1, order_by="metrics.loss", page_size=4, page=page,
                 stats=1) for page in (1, 2, 3)]
    assert {(p["flat"], p["total_groups"], p["pages"]) for p in pages} == {(True, 9, 3)}
    rows = [r for p in pages for r in p["rows"]]
    assert len({r["run_id"] for r in rows}) == 9 and not any("children" in r for r in rows)
    losses = [r["values"]["metrics.loss"] for r in rows if "metrics.loss" in r["values"]]
    expected = sorted(client.get_run(r["run_id"]).data.metrics["loss"] for r in rows
                      if r["run_id"] != ids["sweep"])
    assert losses == expected  # trials and baselines in one order, across every page
    trials = [r for r in rows if r["parent"]]
    assert len(trials) == 5 and all(
        r["parent"] == {"run_id": ids["sweep"], "run_name": r["parent"]["run_name"],
                        "is_sweep": True} and r["trial_number"] is not None for r in trials)

    # min / max of every shown metric, from the store's history; step_metrics: the shown
    # metrics that some run of the page logged at more than one step
    assert pages[0]["step_metrics"] == ["metrics.acc", "metrics.loss"]  # trials log both
    assert pages[2]["step_metrics"] == []
    for row in rows:
        assert row["ranges"] == {f"metrics.{k}": history_range(client, row["run_id"], k)
                                 for k in client.get_run(row["run_id"]).data.metrics}
    baseline = next(r for r in rows if r["run_id"] == ids["baseline2"])
    assert baseline["ranges"] == {"metrics.loss": [2.4, 4.0],  # 2 / (step + 1) + 2, steps 0-4
                                  "metrics.acc": [0.7, 0.7]}  # one point

    grouped = get(server, path, stats=1, columns=["metrics.loss"])
    sweep = next(r for r in grouped["rows"] if r["run_id"] == ids["sweep"])
    assert sweep["ranges"] == {} and all("metrics.loss" in c["ranges"] for c in sweep["children"])
    more = get(server, f"/api/runs/{ids['sweep']}/children", stats=1, columns="metrics.loss")
    assert [r["ranges"] for r in more["rows"]] == [
        {"metrics.loss": history_range(client, r["run_id"], "loss")} for r in more["rows"]]
    bad = httpx.get(f"{server.url}{path}", params={"flat": "yes"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "flat: expected a whole number, got 'yes'"


def test_flat_page_of_ten_thousand_runs(tmp_path, monkeypatch):
    client = Client(tmp_path / "store")
    experiment_id = client.create_experiment("big")
    n = 10_000
    with client.batch() as writes:
        for s in range(20):
            sweep = writes.create_run(experiment_id, run_name=f"sweep-{s}",
                                      tags={records.ROLE: records.SWEEP})
            for i in range(n // 20):
                rid = writes.create_run(experiment_id, run_name=f"t-{s}-{i}",
                                        parent_run_id=sweep)
                last = (s * n // 20 + i) * 7919 % n / n  # 0 .. (n - 1) / n, each once
                writes.log_metrics(rid, [Metric("loss", last + 1 - k, 0, k) for k in (0, 1)])
                writes.log_params(rid, {"lr": i / n})
    server = start_server(tmp_path / "store")
    try:
        path = f"/api/experiments/{experiment_id}/runs"
        get(server, path, page_size=1)  # the first request opens the store
        started = time.perf_counter()
        page = get(server, path, flat=1, order_by="metrics.loss DESC", page=3, page_size=50,
                   stats=1)
        assert time.perf_counter() - started < 1.0
    finally:
        server.stop()
    assert (page["total_groups"], page["pages"], len(page["rows"])) == (n + 20, 201, 50)
    losses = [r["values"]["metrics.loss"] for r in page["rows"]]
    assert losses == sorted(losses, reverse=True)
    assert math.isclose(losses[0], (n - 101) / n)  # ranks 101-150 of n distinct values
    assert all(r["ranges"]["metrics.loss"] == [r["values"]["metrics.loss"],
                                              r["values"]["metrics.loss"] + 1]
               for r in page["rows"])
    assert all(r["parent"]["is_sweep"] and r["parent"]["run_name"].startswith("sweep-")
               for r in page["rows"])
    assert len({r["parent"]["run_id"] for r in page["rows"]}) > 1  # across sweeps


@pytest.mark.browser
def test_runs_table_ungrouped_sorts_across_sweeps_with_min_max(watched, ids):
    w = watched
    w.goto(f"/experiments/{ids['demo']}")
    w.page.wait_for_selector("#runs-table tr.group")
    w.page.uncheck("#group-by-sweep")
    w.page.wait_for_selector("#runs-table.flat")
    assert w.page.locator("#runs-table tbody tr.flat").count() == 9
    assert "flat=1" in w.page.url
    w.page.click("#runs-table th[data-column='metrics.loss']")
    w.page.wait_for_selector("th[aria-sort=ascending][data-column='metrics.loss']")
    rows = w.page.eval_on_selector_all("#runs-table tbody tr.flat", """trs => {
        const at = [...document.querySelectorAll('#runs-table thead th')].findIndex(
            th => th.dataset.column === 'metrics.loss');
        return trs.map(tr => ({parent: tr.querySelector('td.parent').textContent,
                               loss: tr.children[at].textContent}));
    }""")
    with_loss = [r for r in rows if r["loss"]]
    assert [float(r["loss"]) for r in with_loss] == sorted(float(r["loss"]) for r in with_loss)
    parents = {r["parent"] for r in with_loss}
    assert "" in parents and len(parents) == 2  # baselines (no parent) and the sweep's trials

    w.page.check("#metric-ranges")
    w.page.wait_for_selector("th[data-column='metrics.loss'][data-part='min']")
    headers = w.page.locator("#runs-table thead th").all_text_contents()
    assert [h for h in headers if h.startswith("metrics.loss")] == [
        "metrics.loss (last) ▲", "metrics.loss (min)", "metrics.loss (max)"]
    row = w.page.locator(f"#runs-table tr[data-run='{ids['baseline1']}'] td")
    first = headers.index("metrics.loss (last) ▲")
    assert row.all_text_contents()[first:first + 3] == ["1.4", "1.4", "3"]
    w.page.reload()  # flat from the URL, min / max remembered
    w.page.wait_for_selector("#runs-table.flat th[data-part='max']")
    assert not w.page.is_checked("#group-by-sweep") and w.page.is_checked("#metric-ranges")
    w.page.check("#group-by-sweep")
    w.page.wait_for_selector("#runs-table tr.group")
    assert w.page.locator("#runs-table tr.child th, #runs-table td.parent").count() == 0
    w.assert_clean()
