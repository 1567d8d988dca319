"""Every page in headless Chromium: renders, filters, sorts, compares, previews, stays inert."""

from __future__ import annotations

from pathlib import Path

import pytest
import ui_data

pytestmark = pytest.mark.browser


def top_names(page) -> list[str]:
    return page.eval_on_selector_all(
        "#runs-table tbody tr.top td.name a:first-of-type, "
        "#runs-table tbody tr.group td.name > a:first-of-type",
        "els => els.map(e => e.textContent)")


def test_every_page_renders_without_errors(watched, ids):
    w = watched
    pages = [
        ("/", "#experiments-table"),
        (f"/experiments/{ids['demo']}", "#runs-table"),
        (f"/experiments/{ids['hostile']}", "#runs-table"),
        (f"/runs/{ids['baseline0']}", "#charts .js-plotly-plot"),
        (f"/runs/{ids['sweep']}", "#children table"),
        (f"/runs/{ids['hostile_run']}", "#note"),
        (f"/compare?run_ids={ids['baseline0']},{ids['baseline1']},{ids['baseline2']}",
         "#parallel svg.parcoords-svg"),
        (f"/sweeps/{ids['sweep']}", "#count-FINISHED"),
        ("/api", None),
    ]
    for path, selector in pages:
        w.goto(path)
        if selector:
            w.page.wait_for_selector(selector)
        assert w.page.locator(".error:visible").count() == 0, path
        w.assert_clean()
    w.goto(f"/sweeps/{ids['sweep']}")
    frame = w.page.frame_locator("#report")
    frame.locator("h1").first.wait_for()
    assert "Sweep report" in frame.locator("h1").first.text_content()
    w.page.wait_for_timeout(500)
    w.assert_clean()


def test_experiments_page_lists_counts(watched, ids):
    watched.goto("/")
    row = watched.page.locator(f"#experiments-table tr[data-id='{ids['demo']}']")
    row.wait_for()
    cells = row.locator("td").all_text_contents()
    assert cells[0] == "demo" and cells[1] == "9" and cells[2] == "4" and cells[3] == "1"
    watched.assert_clean()


def test_runs_table_nests_trials_under_their_sweep(watched, ids):
    w = watched
    w.goto(f"/experiments/{ids['demo']}")
    w.page.wait_for_selector("#runs-table")
    group = w.page.locator(f"tr.group[data-run='{ids['sweep']}']")
    assert "5 trials" in group.text_content()
    assert w.page.locator("tr.child").count() == 5
    group.locator("button.toggle").click()
    assert w.page.locator("tr.child").count() == 0
    w.page.locator(f"tr.group[data-run='{ids['sweep']}'] button.toggle").click()
    assert w.page.locator("tr.child").count() == 5
    w.assert_clean()


def test_filter_valid_and_invalid(watched, ids):
    w = watched
    w.goto(f"/experiments/{ids['demo']}")
    w.page.wait_for_selector("#runs-table")
    w.page.fill("#filter", "params.model = 'rf' and attributes.run_name LIKE 'baseline%'")
    w.page.press("#filter", "Enter")
    w.page.wait_for_function("() => document.querySelectorAll('#runs-table tbody tr').length === 2")
    assert sorted(top_names(w.page)) == ["baseline-0", "baseline-1"]
    assert "filter=" in w.page.url
    w.page.fill("#filter", "params.model = 'rf' and metrics.acc >> 1")
    w.page.click("#filter-form button[type=submit]")
    error = w.page.locator("#filter-error")
    error.wait_for(state="visible")
    assert "position 37" in error.text_content()
    assert "^" in error.locator("pre.caret").text_content()
    assert w.page.locator("#runs-table tbody tr").count() == 2  # the table stays as it was
    w.page.click("#filter-clear")
    error.wait_for(state="hidden")
    w.page.wait_for_function("() => document.querySelectorAll('#runs-table tr.group').length === 1")
    w.assert_clean(allow_status=(400,))


def test_sort_by_any_column(watched, ids):
    w = watched
    w.goto(f"/experiments/{ids['demo']}?filter=attributes.run_name+LIKE+'baseline%25'")
    w.page.wait_for_selector("#runs-table")
    w.page.click("#runs-table th:has-text('metrics.loss')")
    w.page.wait_for_selector("th[aria-sort=ascending]:has-text('metrics.loss')")
    assert top_names(w.page) == ["baseline-0", "baseline-1", "baseline-2"]
    w.page.click("#runs-table th:has-text('metrics.loss')")
    w.page.wait_for_selector("th[aria-sort=descending]:has-text('metrics.loss')")
    assert top_names(w.page) == ["baseline-2", "baseline-1", "baseline-0"]
    w.page.click("#runs-table th:has-text('Name')")
    w.page.wait_for_selector("th[aria-sort=ascending]:has-text('Name')")
    assert top_names(w.page) == ["baseline-0", "baseline-1", "baseline-2"]
    w.assert_clean()


def test_column_chooser_and_only_varying(watched, ids):
    w = watched
    w.goto(f"/experiments/{ids['hostile']}")
    w.page.wait_for_selector("#runs-table")
    w.page.wait_for_selector("#columns-chooser[data-ready='1']", state="attached")
    headers = w.page.locator("#runs-table thead th").all_text_contents()
    assert any(h.startswith("params.p0<b>") for h in headers)
    assert any(h.startswith("params.p1<b>") for h in headers)
    w.page.check("#only-varying")  # p1..p8 exist on one run only: one value each
    headers = w.page.locator("#runs-table thead th").all_text_contents()
    assert any(h.startswith("params.p0<b>") for h in headers)
    assert not any(h.startswith("params.p1<b>") for h in headers)
    w.page.uncheck("#only-varying")
    w.page.click("#columns-chooser summary")
    w.page.locator("#columns-chooser input[data-column='tags.t']").check()
    w.page.wait_for_selector("#runs-table th:has-text('tags.t')")
    w.page.reload()
    w.page.wait_for_selector("#runs-table th:has-text('tags.t')")  # remembered
    w.page.click("#columns-chooser summary")
    w.page.click("#columns-chooser button:has-text('Reset')")
    w.page.wait_for_function(
        "() => !document.querySelector('#runs-table').textContent.includes('tags.t')")
    w.assert_clean()


def test_compare_selected_runs(watched, ids):
    w = watched
    w.goto(f"/experiments/{ids['demo']}")
    w.page.wait_for_selector("#runs-table")
    for key in ("baseline0", "baseline2"):
        w.page.check(f"input.select[data-run='{ids[key]}']")
    with w.page.expect_navigation():
        w.page.click("#compare")
    w.page.wait_for_selector("#compare-table")
    assert w.page.locator("#compare-table thead th").count() == 3
    model = w.page.locator("#compare-table tr[data-key='params.model']")
    assert "diff" in model.get_attribute("class")
    assert model.locator("td.changed").count() == 1
    w.page.wait_for_selector("#curves.js-plotly-plot")
    assert w.page.locator("#curves .scatterlayer .trace").count() == 2
    w.page.wait_for_selector("#parallel svg.parcoords-svg")
    assert w.page.locator("#parallel polyline.pc-line").count() == 2
    labels = w.page.locator("#parallel text.pc-label").all_text_contents()
    assert "x" in labels and "loss" in labels
    w.page.check("#only-diff")
    assert w.page.locator("#compare-table tr.same").first.is_hidden()
    w.assert_clean()


def test_artifact_tree_preview_and_download(watched, ids, tmp_path):
    w = watched
    w.goto(f"/runs/{ids['baseline0']}")
    tree = w.page.locator("#artifact-tree")
    tree.locator("button.folder[data-path='tables']").click()
    tree.locator("button.file[data-path='tables/data.csv']").click()
    w.page.wait_for_selector("#artifact-preview table.csv")
    assert w.page.locator("#artifact-preview table.csv td").all_text_contents() == ["1", "2",
                                                                                   "3", "4"]
    tree.locator("button.folder[data-path='config']").click()
    tree.locator("button.file[data-path='config/params.json']").click()
    w.page.wait_for_selector("#artifact-preview pre")
    assert '"b": [' in w.page.locator("#artifact-preview pre").text_content()
    tree.locator("button.file[data-path='page.html']").click()
    w.page.wait_for_selector("#artifact-preview pre:has-text('<h1>html</h1>')")
    assert w.page.locator("#artifact-preview h1").count() == 0
    tree.locator("button.folder[data-path='plots']").click()
    tree.locator("button.file[data-path='plots/dot.png']").click()
    image = w.page.locator("#artifact-preview img")
    image.wait_for()
    w.page.wait_for_function(
        "() => document.querySelector('#artifact-preview img').naturalWidth === 1")
    tree.locator("button.folder[data-path='notes']").click()
    with w.page.expect_download() as info:
        tree.locator("li:has(button[data-path='notes/hello.txt']) a.download").click()
    saved = Path(tmp_path, "hello.txt")
    info.value.save_as(saved)
    assert info.value.suggested_filename == "hello.txt"
    assert saved.read_text() == "hello artifact\n"
    w.assert_clean()


def test_hostile_strings_stay_inert(watched, ids):
    w = watched
    for path in ("/", f"/experiments/{ids['hostile']}", f"/runs/{ids['hostile_run']}",
                 f"/compare?run_ids={ids['hostile_run']},{ids['hostile_run2']}"):
        w.goto(path)
        w.page.wait_for_selector("main table")
        w.page.wait_for_timeout(300)
        injected = w.page.evaluate("""() => ({
            scripts: document.querySelectorAll('main script').length,
            imgx: document.querySelectorAll('img[src="x"]').length,
            iframes: document.querySelectorAll('main iframe').length,
            jslinks: [...document.querySelectorAll('a')].filter(
                a => a.getAttribute('href') && a.getAttribute('href').trim()
                    .toLowerCase().startsWith('javascript')).length,
        })""")
        assert injected == {"scripts": 0, "imgx": 0, "iframes": 0, "jslinks": 0}, path
        w.assert_clean()
    text = w.page.locator("main").text_content()
    assert ui_data.XSS[0] in text
    w.goto(f"/runs/{ids['hostile_run']}")
    w.page.wait_for_selector("#note strong")
    note = w.page.locator("#note")
    assert note.locator("strong").text_content() == "bold"
    assert "<script>" in note.text_content()  # raw HTML shown as text
    assert note.locator("a[href='https://example.org']").count() == 1
    assert w.page.locator("h1").text_content() == ui_data.XSS[0]
    assert "\u27e8U+202E\u27e9evil\u27e8U+2028\u27e9line" in w.page.locator("main").text_content()
    title = w.page.locator("#charts .gtitle").first
    title.wait_for()
    assert title.text_content().startswith("m0<img src=x")  # shown, not parsed by plotly
    w.page.locator("#artifact-tree button.file").first.click()
    w.page.wait_for_selector("#artifact-preview pre")
    w.page.wait_for_timeout(300)
    w.assert_clean()


def test_editing_a_note_with_allow_edits(tmp_path, make_watched):
    from ui_server import start_server

    from tracking import Client

    client = Client(tmp_path / "store")
    run = client.create_run(client.create_experiment("e"), run_name="r")
    client.flush()
    server = start_server(tmp_path / "store", allow_edits=True)
    try:
        w = make_watched(server.url)
        w.goto(f"/runs/{run.info.run_id}")
        w.page.fill("#note-edit", "**checked** <img src=x onerror=window.__xss=1>")
        with w.page.expect_navigation():
            w.page.click("#note-save")
        w.page.wait_for_selector("#note strong")
        assert w.page.locator("#note strong").text_content() == "checked"
        assert w.page.locator("#note img").count() == 0
        w.page.fill("#tag-key", "reviewed")
        w.page.fill("#tag-value", "<b>yes</b>")
        with w.page.expect_navigation():
            w.page.click("button:has-text('Set tag')")
        w.page.wait_for_selector("td:has-text('<b>yes</b>')")
        w.assert_clean()
    finally:
        server.stop()
