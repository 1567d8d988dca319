"""Brushing, toggles, the contour picker and the comparison page, in a real headless browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeps.report import write_report

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[3]
SHOTS = REPO / "screenshots"


def _clean(opened) -> None:
    assert opened.errors == [], opened.errors
    assert opened.requests == [], opened.requests
    assert opened.csp_violations() == []


def _trials_in_table(page) -> list[int]:
    return page.evaluate("""() => {
        const heads = Array.from(document.querySelectorAll('#s0-runs th'));
        const i = heads.findIndex(th => th.textContent === 'trial');
        return Array.from(document.querySelectorAll('#s0-runs tbody tr'))
            .map(tr => parseInt(tr.children[i].textContent, 10));
    }""")


def _drag_on_first_axis(page, top: float, bottom: float) -> None:
    """Drag with the mouse along the first parcoords axis, from `top` to `bottom` (shares
    of the axis height, 0 at its top)."""
    box = page.locator("#s0-parallel-figure .axis-brush rect.background").first.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * top)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * (top + bottom) / 2, steps=5)
    page.mouse.move(x, box["y"] + box["height"] * bottom, steps=5)
    page.mouse.up()


def test_brushing_parallel_coordinates_filters_the_table(browser, open_report, project,
                                                        edge_sweep):
    path = write_report(project.client, [edge_sweep], project.root / "reports" / "edge.html")
    opened = open_report(browser, path)
    page = opened.page
    try:
        drawn = page.evaluate("""Array.from(document.querySelectorAll('div.plot'))
            .map(d => d.getAttribute('data-drawn'))""")
        assert len(drawn) >= 7 and set(drawn) == {"yes"}
        assert page.is_visible("#s0-importance-ped-figure div.plot[data-drawn=yes]")
        before = _trials_in_table(page)
        page.locator("#s0-parallel-figure").scroll_into_view_if_needed()
        _drag_on_first_axis(page, 0.0, 0.3)  # the top of x's axis: the largest x
        page.wait_for_function("document.querySelector('#s0-runs .muted').textContent"
                               ".indexOf('of') > 0")
        page.wait_for_timeout(300)
        ranges = page.evaluate("document.querySelector('#s0-parallel div.plot')"
                               ".data[0].dimensions[0].constraintrange")
        assert ranges, "the drag made no selection"
        low, high = (ranges[0] if isinstance(ranges[0], list) else ranges)
        shown = _trials_in_table(page)
        spec = page.evaluate("JSON.parse(document.getElementById('s0-parallel-json')"
                             ".textContent)")
        xs = dict(zip(spec["brush"]["numbers"], spec["data"][0]["dimensions"][0]["values"],
                      strict=True))
        matched = {n for n, v in xs.items() if low <= v <= high}
        assert 0 < len(matched) < len(xs), "the brush should select some trials, not all"
        # the table shows only brushed trials: all of them, or a full first page of them
        assert set(shown) <= matched and len(shown) in (len(matched), len(before)), shown
        selected = page.evaluate("""Array.from(document.querySelector('#s0-slice div.plot')
            .data).filter(t => Array.isArray(t.selectedpoints)).length""")
        assert selected >= 1  # the slices highlight the same trials
        SHOTS.mkdir(exist_ok=True)
        page.locator("#s0-parallel-figure").screenshot(path=str(SHOTS / "parcoords-brushed.png"))
        _clean(opened)
    finally:
        page.close()


def test_log_y_pruned_toggles_and_contour_picker(browser, open_report, project, quad_sweep,
                                                edge_sweep):
    path = write_report(project.client, [quad_sweep], project.root / "reports" / "quad2.html")
    opened = open_report(browser, path)
    page = opened.page
    try:
        page.click("#all-history-0-figure .toolbar button:text-is('log y')")
        assert page.evaluate("document.querySelector('#all-history-0-figure div.plot')"
                             ".layout.yaxis.type") == "log"
        page.click("#s0-curves .toolbar button:text-is('hide pruned')")
        hidden = page.evaluate("""Array.from(document.querySelector('#s0-curves div.plot').data)
            .filter(t => t.legendgroup === 'PRUNED').map(t => t.visible)""")
        assert hidden and set(hidden) == {False}
        _clean(opened)
    finally:
        page.close()
    path = write_report(project.client, [edge_sweep], project.root / "reports" / "edge2.html")
    opened = open_report(browser, path)
    page = opened.page
    try:
        options = page.eval_on_selector_all("#s0-contour-figure select option",
                                            "els => els.map(e => e.textContent)")
        assert sorted(options) == ["x × y", "x × z", "y × z"]
        page.select_option("#s0-contour-figure select", label="y × z")
        page.wait_for_timeout(300)
        title = page.evaluate("document.querySelector('#s0-contour-figure div.plot')"
                              ".layout.xaxis.title.text")
        assert title == "y"
        _clean(opened)
    finally:
        page.close()


def test_comparison_page_is_clean_and_folds_each_sweep(browser, open_report, project,
                                                      quad_sweep, quad_sweep_b):
    path = write_report(project.client, [quad_sweep, quad_sweep_b],
                        project.root / "reports" / "compare2.html")
    opened = open_report(browser, path)
    page = opened.page
    try:
        rows = page.eval_on_selector_all("#diff tbody tr td:first-child",
                                         "els => els.map(e => e.textContent)")
        assert sorted(rows) == ["budget.trials", "experiment", "sampler.seed"]
        assert not page.is_visible("#s1-parallel")
        page.click("#s1 > summary")
        page.wait_for_selector("#s1-parallel div.plot[data-drawn=yes]", state="visible")
        width = page.evaluate("document.querySelector('#s1-parallel svg.main-svg')"
                              ".getBoundingClientRect().width")
        assert width > 800  # resized when unfolded
        page.click("#s1 > summary")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "compare-page.png"), full_page=True)
        _clean(opened)
    finally:
        page.close()
