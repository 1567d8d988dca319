"""The JSON summary every report writes beside its HTML file."""

from __future__ import annotations

import json

from sweeps.report import write_report
from sweeps.report.build import write_sweep_report
from sweeps.report.data import load_sweep


def test_a_report_writes_its_summary_beside_it(project, tiny_sweep, tmp_path):
    path = write_report(project.client, [tiny_sweep], tmp_path / "out" / "tiny.html")
    summary = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert path.exists() and summary["store"] == project.client.store.root
    [sweep] = summary["sweeps"]
    data = load_sweep(project.client, tiny_sweep)
    assert (sweep["sweep_id"], sweep["name"], sweep["experiment"], sweep["status"]) == \
        (tiny_sweep, data.run_name, "tiny", "FINISHED")
    assert sweep["stop_reason"] == data.record.stop_reason  # "" when the budget ran out
    assert sweep["metrics"] == [{"name": "loss", "goal": "minimize"}]
    assert sweep["trials"] == 4 and sum(sweep["counts"].values()) == 4
    assert sweep["wall_s"] > 0 and sweep["config"]["budget"]["trials"] == 4
    [best] = sweep["best"]
    done = data.final[data.final["status"] == "FINISHED"]
    row = done.loc[done["metrics.loss"].idxmin()]
    assert best["run_id"] == row["run_id"] and best["number"] == row["number"]
    assert best["values"] == {"loss": row["metrics.loss"]}
    assert best["params"]["x"] == row["params.x"] and best["params"]["const"] == "only"
    if row["params.opt"] == "adam":  # a conditional parameter that is off is left out
        assert "momentum" not in best["params"]


def test_a_comparison_and_a_pareto_front_list_every_sweep_and_best_trial(
        project, tiny_sweep, mo_sweep, tmp_path):
    write_report(project.client, [tiny_sweep, mo_sweep], tmp_path / "both.html")
    tiny, mo = json.loads((tmp_path / "both.json").read_text())["sweeps"]
    assert (tiny["sweep_id"], mo["sweep_id"]) == (tiny_sweep, mo_sweep)
    assert [m["goal"] for m in mo["metrics"]] == ["minimize", "maximize"]
    assert len(mo["best"]) >= 1 and all(set(b["values"]) == {"a", "b"} for b in mo["best"])


def test_each_sweep_report_gets_its_own_summary(project, tiny_sweep, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    own = write_sweep_report(project.client, tiny_sweep)
    assert own.with_suffix(".json").exists() and own.parent.name == "tiny"
    latest = json.loads((tmp_path / "reports" / "tiny.json").read_text())
    assert latest["sweeps"][0]["sweep_id"] == tiny_sweep
    write_report(project.client, [tiny_sweep], tmp_path / "odd.json")
    assert json.loads((tmp_path / "odd.json.json").read_text())["sweeps"]
    assert (tmp_path / "odd.json").read_text().startswith("<!DOCTYPE html>")
