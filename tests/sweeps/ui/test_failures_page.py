"""A failed trial's page leads with its error and traceback; a sweep's name opens its page."""

from __future__ import annotations

import os
import shutil

import pytest
from ui_server import start_server

import sweeps
from sweeps import records
from tracking import Client

pytestmark = pytest.mark.browser

MESSAGE = "<img src=x onerror=window.__xss=1> n too small"
OBJECTIVE = f'''
def objective(params):
    if params["n"] < 2:
        raise ValueError({MESSAGE!r} + ": " + str(params["n"]))
    return {{"loss": float(params["n"])}}
'''


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    """A store with one sweep: trials with n = 0, 1 fail, n = 2, 3 finish."""
    base = tmp_path_factory.mktemp("failing")
    root, project = base / "store", base / "project"
    project.mkdir()
    (project / "failing_objective.py").write_text(OBJECTIVE)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        result = sweeps.run({
            "experiment": "failing", "name": "fail-sweep",
            "objective": "failing_objective:objective",
            "metric": {"name": "loss", "goal": "minimize"},
            "space": {"n": {"type": "int", "low": 0, "high": 3}},
            "sampler": {"type": "grid"}, "budget": {"trials": 4},
            "execution": {"workers": 1}, "report": False}, tracking_uri=root, report=False)
    finally:
        os.chdir(cwd)
    client = Client(root)
    sweep = client.get_run(result.sweep_run_id)
    failed = [t for t in records.load_trials(client, sweep) if t.run.info.status.value == "FAILED"]
    assert len(failed) == 2
    running = start_server(root)
    yield running, sweep, failed[0]
    running.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_a_failed_trials_page_starts_with_its_error_and_traceback(failing, make_watched):
    server, sweep, trial = failing
    w = make_watched(server.url)
    w.goto(f"/runs/{trial.run_id}")
    w.page.wait_for_selector("#traceback:not(:has-text('Loading'))")
    error = w.page.locator("#error-message").text_content()
    assert error == f"ValueError: {MESSAGE}: {trial.params['n']}"
    traceback = w.page.locator("#traceback").text_content()
    assert "Traceback (most recent call last)" in traceback and "ValueError" in traceback
    titles = w.page.eval_on_selector_all("main > section > h2, main .columns > section > h2",
                                         "els => els.map(e => e.textContent)")
    assert titles[0] == "Error" and titles.index("Error") < titles.index("Parameters")
    crumb = w.page.locator("#crumbs a", has_text=sweep.info.run_name)
    assert crumb.get_attribute("href") == f"/sweeps/{sweep.info.run_id}"
    w.assert_clean()


def test_a_run_without_error_has_no_error_section(failing, make_watched):
    server, sweep, _ = failing
    w = make_watched(server.url)
    w.goto(f"/runs/{sweep.info.run_id}")
    w.page.wait_for_selector("#children table")
    assert w.page.locator("#error-message").count() == 0
    w.assert_clean()


def test_a_sweeps_name_in_the_runs_list_opens_the_sweep_page(failing, make_watched):
    server, sweep, _ = failing
    w = make_watched(server.url)
    w.goto(f"/experiments/{sweep.info.experiment_id}")
    link = w.page.locator(f"tr.group[data-run='{sweep.info.run_id}'] td.name > a").first
    assert link.text_content() == sweep.info.run_name
    link.click()
    w.page.wait_for_url(f"**/sweeps/{sweep.info.run_id}")
    w.page.wait_for_selector("#count-FINISHED")
    assert w.page.locator("#sweep-name").text_content() == sweep.info.run_name
    assert w.page.locator("#count-FAILED").text_content() == "2"
    assert "trial #" in w.page.locator("#best").text_content()
    frame = w.page.frame_locator("#report")
    frame.locator("h1").first.wait_for()
    assert "Failures" in frame.locator("body").text_content()
    w.assert_clean()
