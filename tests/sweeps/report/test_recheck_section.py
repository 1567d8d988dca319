"""The "Re-check" section: a real sweep, re-check child runs written as `sweeps recheck`
stores them, read back by the report, its JSON summary, `sweeps show` and the UI's API."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from sweeps import records
from sweeps.cli import main
from sweeps.report import write_report
from sweeps.report.data import load_sweep, ranked_numbers
from sweeps.report.page import esc
from sweeps.verdict import sweep_verdict
from tracking import Metric, RunStatus

sys.path.insert(0, str(Path(__file__).parents[1] / "ui"))  # as tests/sweeps/ui/conftest.py
from ui_server import start_server  # noqa: E402


@pytest.fixture(scope="module")
def rechecked(project) -> tuple[str, dict[int, list[float | None]]]:
    """A 5-trial sweep whose two best trials are re-checked: the winner 4 times, close to its
    value; the runner-up 3 times, clearly worse, plus 1 failed repeat."""
    sweep_id = project.run("recheck", {
        "experiment": "recheck", "objective": "report_objectives:quad",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": -2.0, "high": 4.0},
                  "y": {"type": "float", "low": -3.0, "high": 3.0}},
        "sampler": {"type": "random", "seed": 3}, "budget": {"trials": 5},
        "execution": {"workers": 1}, "report": False})
    client = project.client
    data = load_sweep(client, sweep_id)
    assert data.reruns == () and sweep_verdict(data) is None  # no re-check: no section
    winner, runner_up = ranked_numbers(data)[:2]
    final = data.final.set_index("number")
    base = float(final.loc[runner_up, "metrics.loss"])
    plan: dict[int, list[float | None]] = {
        winner: [float(final.loc[winner, "metrics.loss"]) + d for d in (0.0, 0.01, -0.01, 0.02)],
        runner_up: [base + 5, base + 5.2, None, base + 4.9]}
    with client.batch() as writes:
        for number, values in plan.items():
            original = final.loc[number]
            for repeat, value in enumerate(values, 1):
                run_id = writes.create_run(
                    data.trials["experiment_id"].iloc[0], run_name=f"recheck-{number}-{repeat}",
                    parent_run_id=sweep_id, tags=records.rerun_tags(
                        records.RECHECK, number, original["run_id"], repeat, 100 + repeat))
                writes.log_params(run_id, {"x": original["params.x"],
                                           "y": original["params.y"]})
                if value is not None:
                    writes.log_metrics(run_id, [Metric("loss", value, 0, 5)])
                writes.set_terminated(run_id, RunStatus.FINISHED if value is not None
                                      else RunStatus.FAILED)
    return sweep_id, plan


def test_the_report_summary_show_and_ui_give_the_recheck(project, rechecked, tmp_path,
                                                         capsys):
    sweep_id, plan = rechecked
    winner, runner_up = plan
    data = load_sweep(project.client, sweep_id)
    assert len(data.final) == 5 and len(data.reruns) == 8  # the study never sees re-runs
    path = write_report(project.client, [sweep_id], tmp_path / "recheck.html")
    text = path.read_text()
    section = re.search(r'<section id="s0-recheck">(.*?)</section>', text, re.S).group(1)
    assert text.index("2. Best trial") < text.index("2b. Re-check") < \
        text.index("3. Optimization history")
    assert '<a href="#s0-recheck">Re-check</a>' in text
    won = [v for v in plan[winner] if v is not None]
    expected = f"{np.mean(won):.4g} ± {np.std(won, ddof=1):.4g}"
    sentence = (f"trial {winner} holds: best in 100 % of resamples; its mean {expected} is "
                f"below trial {runner_up}'s ")
    assert f'<p class="verdict">{esc(sentence)}' in section
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
    assert len(rows) == 3 and f'href="#s0-trial-{winner}">trial {winner}</a>' in rows[1]
    assert f'<td class="num">{esc(expected)}</td>' in rows[1]
    assert re.findall(r'<td class="num">(\d+)</td>', rows[2]) == ["3", "1"]  # repeats, failed
    assert 'data-figure="s0-recheck-box-json"' in section
    figure = json.loads(re.search(r'<script type="application/json" id="s0-recheck-box-json">'
                                  r"(.*?)</script>", text).group(1))
    boxes = [t["y"] for t in figure["data"][:2]]  # the page keeps 7 significant digits
    assert boxes[0] == pytest.approx(won, rel=1e-6) and len(boxes[1]) == 3

    summary = json.loads(path.with_suffix(".json").read_text())["sweeps"][0]["recheck"]
    assert (summary["winner"], summary["p_best"], summary["metric"]) == (winner, 1.0, "loss")
    assert summary["trials"][0]["mean"] == pytest.approx(np.mean(won))
    assert summary["trials"][1]["values"] == [v for v in plan[runner_up] if v is not None]
    assert summary["sentence"].startswith(sentence)

    assert main(["show", sweep_id, "--root", str(project.root / "runs")]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "Re-check (loss, minimize)" in shown and " ".join(sentence.split()) in shown
    assert f"{winner} " in shown and expected in shown and "95 % interval" in shown

    server = start_server(project.root / "runs")
    try:
        advice = httpx.get(f"{server.url}/api/sweeps/{sweep_id}/advice").json()
    finally:
        server.stop()
    assert advice["recheck"]["rows"] == summary["rows"]
    assert advice["recheck"]["sentence"] == summary["sentence"]
    assert not math.isnan(advice["recheck"]["trials"][1]["sd"])


@pytest.mark.browser
def test_the_ui_sweep_page_shows_the_recheck(browser, project, rechecked):
    sweep_id, plan = rechecked
    server = start_server(project.root / "runs")
    page = browser.new_page()
    try:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/sweeps/{sweep_id}")
        page.wait_for_selector("#recheck table")
        verdict = sweep_verdict(load_sweep(project.client, sweep_id))
        assert page.inner_text("#recheck h2") == "Re-check (loss, minimize)"
        assert page.inner_text("#recheck p.verdict") == verdict.sentence
        cells = page.eval_on_selector_all(
            "#recheck tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
        assert cells == [["trial", "original", "mean ± sd", "95 % interval", "repeats",
                          "failed"], *[list(t.cells()) for t in verdict.trials]]
        assert errors == []
    finally:
        page.close()
        server.stop()


@pytest.mark.browser
def test_the_report_draws_the_recheck_boxes(browser, open_report, project, rechecked, tmp_path):
    """The one report figure with box traces (tests/sweeps/report/test_browser.py's comparison
    report has the other trace types), drawn by the trimmed plotly.js the report inlines."""
    path = write_report(project.client, [rechecked[0]], tmp_path / "recheck.html")
    opened = open_report(browser, path)
    try:
        figures = opened.traces()
        assert [drawn for _, drawn, _ in figures] == ["yes"] * len(figures)
        boxes = dict((name, traces) for name, _, traces in figures)["s0-recheck-box-json"]
        assert boxes == [("box", "box"), ("box", "box"), ("scatter", "scatter")]
        assert [t for _, _, traces in figures for t in traces if t[0] != t[1]] == []
        assert opened.errors == [] and opened.csp_violations() == []
    finally:
        opened.page.close()
