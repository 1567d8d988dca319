"""The report in a real headless browser (Debian chromium through Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs_version

from sweeps.report import write_report
from sweeps.report.assets import REPORT_TRACES

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[3]
SCREENSHOT = REPO / "screenshots" / "report.png"


def _clean(opened) -> None:
    assert opened.errors == [], opened.errors
    assert opened.requests == [], opened.requests
    assert opened.dialogs == [], opened.dialogs
    assert opened.csp_violations() == []


def _all_figures_drawn(page) -> int:
    count = page.evaluate("document.querySelectorAll('div.plot').length")
    drawn = page.evaluate("""Array.from(document.querySelectorAll('div.plot')).filter(d =>
        d.getAttribute('data-drawn') === 'yes' && d.classList.contains('js-plotly-plot') &&
        d.querySelector('svg.main-svg') !== null &&
        (d.querySelector('.plot .trace, .plot path, g.trace') !== null ||
         d.querySelector('canvas') !== null)).length""")
    assert drawn == count, f"{drawn} of {count} figures drawn"
    return count


@pytest.fixture(scope="module")
def quad_report(project, quad_sweep) -> Path:
    folder = project.root / "reports"
    return write_report(project.client, [quad_sweep], folder / "quad.html")


def test_every_figure_renders_offline(browser, open_report, quad_report):
    opened = open_report(browser, quad_report)
    try:
        assert _all_figures_drawn(opened.page) >= 6  # importance needs 20 completed trials
        _clean(opened)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        opened.page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        opened.page.close()


def test_quickstart_report_renders(browser, open_report, project):
    """The real quickstart config, run from the repository's examples."""
    shutil.copytree(REPO / "examples", project.root / "examples", dirs_exist_ok=True)
    import yaml

    config = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
    config.update(report=False, budget={"trials": 24})
    sweep = project.run("quickstart", config)
    path = write_report(project.client, [sweep], project.root / "reports" / "quickstart.html")
    opened = open_report(browser, path)
    try:
        assert _all_figures_drawn(opened.page) >= 6  # importance needs 20 completed trials
        _clean(opened)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        opened.page.screenshot(path=str(SCREENSHOT.with_name("quickstart.png")), full_page=True)
    finally:
        opened.page.close()


def _column(page, label: str) -> list[str]:
    return page.evaluate("""(label) => {
        const heads = Array.from(document.querySelectorAll('#s0-runs th'));
        const i = heads.findIndex(th => th.textContent === label);
        return Array.from(document.querySelectorAll('#s0-runs tbody tr'))
            .map(tr => tr.children[i].textContent);
    }""", label)


def test_table_sorts_filters_and_hides_constant_params(browser, open_report, quad_report):
    opened = open_report(browser, quad_report, wait_for_figures=False)
    page = opened.page
    try:
        heads = page.eval_on_selector_all("#s0-runs th", "els => els.map(e => e.textContent)")
        assert "const" not in heads and "x" in heads and "loss (last)" in heads  # stepped
        assert {"loss (min)", "loss (max)"} <= set(heads)
        page.click("#s0-runs th:text-is('loss (last)')")
        losses = [float(v) for v in _column(page, "loss (last)") if v]
        assert losses == sorted(losses)
        page.click("#s0-runs th:text-is('loss (last)')")
        losses = [float(v) for v in _column(page, "loss (last)") if v]
        assert losses == sorted(losses, reverse=True)
        page.fill("#s0-runs input[type=search]", "pruned")
        statuses = _column(page, "status")
        assert statuses and set(statuses) == {"PRUNED"}
        page.fill("#s0-runs input[type=search]", "no row has this text")
        assert _column(page, "status") == []
        page.fill("#s0-runs input[type=search]", "")
        page.uncheck("#s0-runs input[type=checkbox]")
        heads = page.eval_on_selector_all("#s0-runs th", "els => els.map(e => e.textContent)")
        assert "const" in heads
        page.click("#best a.trial-link")
        page.wait_for_selector("#s0-runs tr.target")
        assert page.evaluate("document.querySelector('#s0-runs tr.target').id").startswith(
            "s0-trial-")
        _clean(opened)
    finally:
        page.close()


def test_multi_objective_report(browser, open_report, project, mo_sweep):
    path = write_report(project.client, [mo_sweep], project.root / "reports" / "mo.html")
    opened = open_report(browser, path)
    try:
        page = opened.page
        _all_figures_drawn(page)
        assert page.is_visible("#s0-pareto div.plot[data-drawn=yes]")
        assert "Pareto set" in page.inner_text("#best")
        assert page.locator("#best table.grid tbody tr").count() >= 1
        _clean(opened)
    finally:
        opened.page.close()


def test_comparison_report(browser, open_report, project, quad_sweep, quad_sweep_b):
    path = write_report(project.client, [quad_sweep, quad_sweep_b],
                        project.root / "reports" / "compare.html")
    opened = open_report(browser, path)
    try:
        page = opened.page
        _all_figures_drawn(page)
        legend = page.inner_text("#all-history-0-figure")
        assert "quad /" in legend and "quad-b /" in legend
        head = page.eval_on_selector_all("#best thead th", "els => els.map(e => e.textContent)")
        assert len(head) == 3
        assert page.locator("div.runs").count() == 2
        # every trace type of the report but the re-check's box (test_recheck_section.py),
        # each drawn by the trimmed plotly.js the report inlines, of plotly python's version
        traces = [t for _, _, traces in opened.traces() for t in traces]
        assert [t for t in traces if t[0] != t[1]] == []
        assert {t[1] for t in traces} == set(REPORT_TRACES) - {"box"}
        assert page.evaluate("[Plotly.version, Object.keys(Plotly.PlotSchema.get().traces)"
                             ".sort()]") == [get_plotlyjs_version(), sorted(REPORT_TRACES)]
        _clean(opened)
        opened.page.screenshot(path=str(SCREENSHOT.with_name("compare.png")), full_page=True)
    finally:
        opened.page.close()


def test_injection_payloads_never_execute(browser, open_report, project, nasty_sweep,
                                         payloads):
    path = write_report(project.client, [nasty_sweep], project.root / "reports" / "nasty.html")
    opened = open_report(browser, path)
    page = opened.page
    try:
        _all_figures_drawn(page)
        # hover and click around: the table, the links, every folded traceback
        page.click("#s0-runs th:text-is('choice')")
        page.fill("#s0-runs input[type=search]", "script")
        page.fill("#s0-runs input[type=search]", "")
        for summary in page.locator("details summary").all():
            summary.click()
        page.mouse.move(400, 400)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None
        assert opened.dialogs == []
        assert page.evaluate("document.querySelectorAll('script:not([type])').length") == 2
        injected = page.evaluate("""Array.from(document.querySelectorAll(
            'iframe, object, embed, svg[onload], details[ontoggle], input, math, base, link,'
            + 'meta[http-equiv=refresh],'
            + 'img:not([src^="data:"]), a[href^="javascript"], a[href^="data"]')).filter(
            e => !e.closest('.js-plotly-plot') && !e.closest('.runs .controls'))
            .map(e => e.outerHTML)""")
        assert injected == []
        handlers = page.evaluate("""Array.from(document.querySelectorAll('*')).filter(e =>
            Array.from(e.attributes).some(a => a.name.startsWith('on'))).map(e => e.outerHTML)""")
        assert handlers == []
        text = page.inner_text("body")
        assert "exp <script>window.__xss=100</script>" in text  # shown literally
        assert "<img src=x onerror=alert(1)>.txt" in text
        shown = sum(1 for p in payloads if p.strip() and p.strip()[:25] in text)
        assert shown >= 20
        assert opened.requests == []
        assert opened.errors == []
        assert opened.csp_violations() == []
    finally:
        page.close()
