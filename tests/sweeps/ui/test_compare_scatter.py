"""The compare page in Chromium: a scatter of any two columns, and one colour per run in the
legend, the curves, the scatter and the parallel coordinates."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.browser

# every colour of the page as the browser draws it (rgb(...)), by run id
COLOURS = """() => {
    const rgb = (c) => { const d = document.createElement('div'); d.style.color = c;
        document.body.append(d); const v = getComputedStyle(d).color; d.remove(); return v; };
    const names = {};
    document.querySelectorAll('#run-legend li').forEach(li => {
        names[li.querySelector('a').textContent] = li.dataset.run; });
    const traces = (id) => Object.fromEntries(document.getElementById(id).data.map(t =>
        [names[t.name], [rgb(t.marker.color), rgb((t.line || t.marker).color)]]));
    const legend = (id) => Object.fromEntries([...document.querySelectorAll(
        `#${id} .legend .traces`)].map(g => [names[g.querySelector('.legendtext').textContent],
        rgb(getComputedStyle(g.querySelector('.legendpoints path')).fill)]));
    return {
        legend: Object.fromEntries([...document.querySelectorAll('#run-legend .swatch')].map(
            s => [s.dataset.run, getComputedStyle(s).backgroundColor])),
        table: Object.fromEntries([...document.querySelectorAll('#compare-table thead .swatch')]
            .map(s => [s.dataset.run, getComputedStyle(s).backgroundColor])),
        curves: traces('curves'), curvesLegend: legend('curves'),
        scatter: traces('scatter'), scatterLegend: legend('scatter'),
        parallel: Object.fromEntries([...document.querySelectorAll('#parallel .pc-line')].map(
            l => [l.dataset.run, rgb(l.getAttribute('stroke'))])),
    };
}"""


def test_scatter_of_two_columns_and_one_colour_per_run(watched, server, ids):
    w = watched
    runs = [ids["baseline0"], ids["baseline1"], ids["baseline2"]]
    trial = httpx.get(f"{server.url}/api/runs/{ids['sweep']}/children",
                      params={"page_size": 1}).json()["rows"][0]["run_id"]
    runs.append(trial)
    w.goto(f"/compare?run_ids={','.join(runs)}")
    w.page.wait_for_selector("#scatter.js-plotly-plot")
    w.page.wait_for_selector("#curves.js-plotly-plot")
    w.page.wait_for_selector("#parallel svg.parcoords-svg")
    # defaults: a param that differs against a metric; every run has both: one point each
    assert w.page.input_value("#scatter-x") == "params.model"
    assert w.page.input_value("#scatter-y") == "metrics.acc"
    w.page.select_option("#scatter-x", "params.x")
    w.page.select_option("#scatter-y", "metrics.loss")
    w.page.wait_for_function(
        "() => document.getElementById('scatter').layout.yaxis.title.text === 'loss'")
    points = w.page.evaluate("""() => document.getElementById('scatter').data.map(
        t => [t.name, t.x[0], t.y[0]])""")
    api = httpx.get(f"{server.url}/api/compare", params={"run_ids": ",".join(runs)}).json()
    assert sorted(points) == sorted([r["run_name"], float(r["params"]["x"]),
                                     r["metrics"]["loss"]] for r in api["runs"])
    assert w.page.evaluate("() => document.getElementById('scatter').layout.xaxis.type") == \
        "linear"
    w.page.select_option("#scatter-x", "params.model")
    w.page.wait_for_function(
        "() => document.getElementById('scatter').layout.xaxis.type === 'category'")
    assert w.page.text_content("#scatter-note") == ""

    colours = w.page.evaluate(COLOURS)
    legend = colours["legend"]
    assert sorted(legend) == sorted(runs) and len(set(legend.values())) == len(runs)
    assert colours["table"] == legend
    assert colours["parallel"] == legend
    for plot in ("curves", "scatter"):
        assert colours[plot] == {r: [c, c] for r, c in legend.items()}, plot
        assert colours[plot + "Legend"] == legend, plot
    w.page.select_option("#curve-metric", "acc")  # redrawn curves keep the colours
    w.page.wait_for_function("""() => document.getElementById('curves').data.every(
        t => t.y.length === 1 || t.y.length === 4)""")
    assert w.page.evaluate(COLOURS)["curves"] == colours["curves"]
    w.assert_clean()
