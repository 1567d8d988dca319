"""The report's start-up order in a real headless browser: the first figure before the rest."""

from __future__ import annotations

import pytest

from sweeps.report import write_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # one page load: about 3 s on 2 cores

ORDER = """
window.__order = [];
var logged = {};
function log(what) { if (!logged[what]) { logged[what] = true; window.__order.push(what); } }
new MutationObserver(function (changes) {
  changes.forEach(function (m) {
    var t = m.target;
    if (m.type === 'attributes' && t.getAttribute('data-drawn') === 'yes') {
      log('figure ' + t.getAttribute('data-figure'));
    } else if (m.type === 'childList' && t.matches && t.matches('div.runs') &&
               m.addedNodes.length) {
      log('table');
    } else if (m.type === 'attributes' && t === document.body &&
               t.getAttribute('data-ready') === 'yes') {
      log('ready');
    }
  });
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-drawn', 'data-ready']});
"""


def test_first_figure_is_drawn_before_the_table_and_the_other_figures(
        browser, project, tiny_sweep):
    path = write_report(project.client, [tiny_sweep], project.root / "reports" / "start.html")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.add_init_script(ORDER)
        page.goto(path.resolve().as_uri())
        page.wait_for_function("window.__order.filter(o => o.startsWith('figure')).length > 1",
                               timeout=60_000)
        order = page.evaluate("window.__order")
        figures = [o for o in order if o.startswith("figure ")]
        assert order[0] == "figure all-history-0-json", order  # the first one on the page
        assert order.index("table") < order.index("ready") < order.index(figures[1]), order
        assert page.locator("#s0-runs tbody tr").count() > 0
        # a figure's toolbar comes with it
        assert page.locator("#all-history-0-figure .toolbar button").count() == 1
        assert errors == []
    finally:
        page.close()
