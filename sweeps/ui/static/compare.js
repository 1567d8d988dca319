// Compare 2+ runs: params and metrics side by side, overlaid curves, a scatter plot of any two
// columns, parallel coordinates. A run has one colour in every plot and in the legend.
"use strict";

(() => {
  const { el, api, clear, fmtNum, runUrl, section, num } = UI;
  const main = UI.app();
  const ids = (new URLSearchParams(location.search).get("run_ids") || "").split(",").filter(Boolean);
  // Tableau's ten colours, then well-spread hues for runs past the tenth.
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac"];
  const colorAt = (i) => (i < PALETTE.length ? PALETTE[i]
    : `hsl(${Math.round((i * 137.508) % 360)}, 65%, 42%)`);
  const colors = new Map();
  const colorOf = (runId) => colors.get(runId);

  function swatch(runId) {
    const mark = el("span", { class: "swatch", "data-run": runId, "aria-hidden": "true" });
    mark.style.backgroundColor = colorOf(runId);
    return mark;
  }

  async function load() {
    UI.crumbs([{ text: "Experiments", href: "/" }, { text: "Compare" }]);
    let data;
    try {
      data = await api("/api/compare", { run_ids: ids.join(",") });
    } catch (error) { UI.showError(main, error); return; }
    data.runs.forEach((r, i) => colors.set(r.run_id, colorAt(i)));
    main.append(el("h1", { text: `Compare ${data.runs.length} runs` }));
    main.append(el("ul", { id: "run-legend", class: "legend" }, data.runs.map((r) =>
      el("li", { "data-run": r.run_id }, swatch(r.run_id), el("a", { href: runUrl(r.run_id), text: r.run_name })))));
    const onlyDiff = el("input", { type: "checkbox", id: "only-diff" });
    const tableBox = el("div", { class: "table-scroll" });
    onlyDiff.addEventListener("change", () => tableBox.classList.toggle("only-diff", onlyDiff.checked));
    main.append(section("Side by side",
      el("div", { class: "toolbar" }, el("label", {}, onlyDiff, " Only rows that differ")), tableBox));
    tableBox.append(compareTable(data));
    // Charts are drawn once their cards are in the document (plotly measures its container).
    const curves = curvesSection(data);
    const scatter = scatterSection(data);
    const parallel = parallelSection(data);
    main.append(curves.card, scatter.card, parallel.card);
    curves.draw();
    scatter.draw();
    parallel.draw();
  }

  function compareTable(data) {
    const head = el("tr", {}, el("th", { text: "" }), data.runs.map((r) =>
      el("th", {}, swatch(r.run_id), el("a", { href: runUrl(r.run_id), text: r.run_name }), " ",
        UI.badge(r.status))));
    const body = el("tbody");
    const block = (title, kind, keys) => {
      if (!keys.length) return;
      body.append(el("tr", { class: "section-row" }, el("th", { colspan: String(data.runs.length + 1), text: title })));
      for (const k of keys) {
        const values = data.runs.map((r) => r[kind][k.key]);
        body.append(el("tr", { class: k.differs ? "diff" : "same", "data-key": `${kind}.${k.key}` },
          el("th", { text: k.key }),
          values.map((v, i) => el("td", {
            class: `${kind === "metrics" ? "num" : ""} ${k.differs && i > 0 && String(v) !== String(values[0]) ? "changed" : ""}`.trim(),
            text: v === undefined ? "—" : fmtNum(v),
          }))));
      }
    };
    block("Parameters", "params", data.params);
    block("Metrics", "metrics", data.metrics);
    const tagKeys = [...new Set(data.runs.flatMap((r) => Object.keys(r.tags)))].sort();
    block("Tags", "tags", tagKeys.map((key) => ({
      key, differs: new Set(data.runs.map((r) => String(r.tags[key]))).size > 1,
    })));
    return el("table", { class: "grid compare", id: "compare-table" }, el("thead", {}, head), body);
  }

  function curvesSection(data) {
    const keys = data.metrics.map((m) => m.key);
    const chart = el("div", { class: "chart wide", id: "curves" });
    const longest = data.metrics.reduce((a, m) => (m.points > (a ? a.points : 0) ? m : a), null);
    const select = el("select", { id: "curve-metric", "aria-label": "Metric" },
      keys.map((k) => el("option", { value: k, text: k, selected: longest && k === longest.key })));
    const card = section("Metric curves (overlaid)", el("div", { class: "toolbar" }, select), chart);
    if (!keys.length) {
      card.append(el("p", { class: "muted", text: "No metrics." }));
      return { card, draw: () => {} };
    }
    async function draw() {
      const key = select.value;
      try {
        const histories = await Promise.all(data.runs.map((r) =>
          api(`/api/runs/${encodeURIComponent(r.run_id)}/metrics/${encodeURIComponent(key)}`)
            .catch(() => ({ steps: [], values: [] }))));
        clear(chart);
        await UI.lineChart(chart, data.runs.map((r, i) => ({ name: r.run_name, x: histories[i].steps, y: histories[i].values })),
          { height: 340 });
        const runColors = data.runs.map((r) => colorOf(r.run_id));  // one trace per run, in order
        await Plotly.restyle(chart, { "line.color": runColors, "marker.color": runColors });
      } catch (error) { UI.showError(chart, error); }
    }
    select.addEventListener("change", draw);
    return { card, draw };
  }

  // One point per run that has both values; categorical params get a category axis.
  function scatterSection(data) {
    const columns = [
      ...data.params.map((p) => ({ id: `params.${p.key}`, key: p.key, kind: "params", numeric: p.numeric, differs: p.differs })),
      ...data.metrics.map((m) => ({ id: `metrics.${m.key}`, key: m.key, kind: "metrics", numeric: true, differs: m.differs })),
    ];
    const chart = el("div", { class: "chart wide", id: "scatter" });
    const note = el("p", { class: "muted small", id: "scatter-note" });
    const picker = (id, label, chosen) => el("label", {}, `${label} `, el("select", { id, "aria-label": label },
      ["params", "metrics"].map((kind) => {
        const group = columns.filter((c) => c.kind === kind);
        return group.length ? el("optgroup", { label: kind }, group.map((c) =>
          el("option", { value: c.id, text: c.key, selected: c === chosen }))) : null;
      })));
    const card = section("Scatter of two columns");
    if (columns.length < 2) {
      card.append(el("p", { class: "muted", text: "Needs two or more params or metrics." }));
      return { card, draw: () => {} };
    }
    // defaults: a column every run has and that differs, a param against a metric
    const everyRun = (c) => data.runs.every((r) => r[c.kind][c.key] !== undefined);
    const pick = (list, fallback) => list.find((c) => c.differs && everyRun(c)) ||
      list.find(everyRun) || list[0] || fallback;
    const metrics = columns.filter((c) => c.kind === "metrics");
    const x = pick(columns.filter((c) => c.kind === "params"), columns[0]);
    const y = pick(metrics.filter((c) => c !== x), columns.find((c) => c !== x));
    const xPicker = picker("scatter-x", "x", x);
    const yPicker = picker("scatter-y", "y", y);
    card.append(el("div", { class: "toolbar" }, xPicker, yPicker), chart, note);
    const byId = new Map(columns.map((c) => [c.id, c]));
    const value = (run, column) => {
      const raw = run[column.kind][column.key];
      if (raw === undefined) return undefined;
      if (!column.numeric) return UI.plotText(String(raw));  // a category, shown as text
      const n = num(raw);
      return Number.isFinite(n) ? n : undefined;
    };
    async function draw() {
      const cx = byId.get(xPicker.querySelector("select").value);
      const cy = byId.get(yPicker.querySelector("select").value);
      const shown = data.runs.filter((r) => value(r, cx) !== undefined && value(r, cy) !== undefined);
      const traces = shown.map((r) => ({
        type: "scatter", mode: "markers", name: UI.plotText(r.run_name),
        x: [value(r, cx)], y: [value(r, cy)], marker: { color: colorOf(r.run_id), size: 11 },
      }));
      const axis = (c) => ({ title: { text: UI.plotText(c.key) }, type: c.numeric ? "linear" : "category",
        zeroline: false });
      const missing = data.runs.length - shown.length;
      note.textContent = missing ? UI.visible(`${missing} of ${data.runs.length} runs lack a ` +
        `finite value of ${cx.key} or ${cy.key} and are not shown.`) : "";
      try {
        clear(chart);
        await Plotly.newPlot(chart, traces, {
          margin: { l: 60, r: 10, t: 10, b: 50 }, height: 360, xaxis: axis(cx), yaxis: axis(cy),
          showlegend: true, legend: { orientation: "h", y: -0.25 }, font: { size: 11 },
        }, { displaylogo: false, responsive: true });
      } catch (error) { UI.showError(chart, error); }
    }
    xPicker.addEventListener("change", draw);
    yPicker.addEventListener("change", draw);
    return { card, draw };
  }

  function parallelSection(data) {
    const chart = el("div", { class: "chart wide", id: "parallel" });
    const card = section("Parallel coordinates", chart);
    const dims = [];
    const all = (get) => data.runs.every((r) => get(r) !== undefined);
    for (const p of data.params) {
      if (!all((r) => r.params[p.key])) continue;
      const raw = data.runs.map((r) => r.params[p.key]);
      if (p.numeric) {
        dims.push({ label: UI.plotText(p.key), values: raw.map(Number) });
      } else {
        const levels = [...new Set(raw)].sort();
        if (levels.length > 50) continue;
        dims.push({ label: UI.plotText(p.key), values: raw.map((v) => levels.indexOf(v)),
          tickvals: levels.map((_, i) => i), ticktext: levels.map((l) => UI.plotText(l.slice(0, 20))) });
      }
    }
    const metricDims = [];
    for (const m of data.metrics) {
      const values = data.runs.map((r) => num(r.metrics[m.key]));
      if (values.every(Number.isFinite)) metricDims.push({ label: UI.plotText(m.key), values });
    }
    if (dims.length + metricDims.length < 2) {
      chart.append(el("p", { class: "muted", text: "Needs two or more params or metrics that every run has." }));
      return { card, draw: () => {} };
    }
    const shown = metricDims.length ? metricDims[0] : null;
    const draw = () => parallelSvg(chart, [...dims, ...metricDims].slice(0, 30), data.runs,
      shown && { label: shown.label, values: shown.values });
    return { card, draw };
  }

  // Parallel coordinates drawn as plain SVG (plotly's parcoords needs WebGL and eval, which
  // this page's Content-Security-Policy does not allow). Labels go in through textContent.
  // Each line has its run's colour; its tooltip names the run and its first metric's value.
  function parallelSvg(container, dims, runs, metric) {
    const NS = "http://www.w3.org/2000/svg";
    const svgEl = (tag, attrs, text) => {
      const node = document.createElementNS(NS, tag);
      Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, String(v)));
      if (text !== undefined) node.textContent = UI.visible(text);
      return node;
    };
    const W = Math.max(600, container.clientWidth || 900);
    const H = 360; const top = 44; const bottom = 34; const left = 60; const right = 60;
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "parcoords-svg", role: "img",
      "aria-label": "Parallel coordinates" });
    const span = (W - left - right) / Math.max(1, dims.length - 1);
    const x = (d) => left + d * span;
    const scales = dims.map((dim) => {
      const finite = dim.values.filter(Number.isFinite);
      const lo = Math.min(...finite); const hi = Math.max(...finite);
      return (v) => top + (1 - (hi > lo ? (v - lo) / (hi - lo) : 0.5)) * (H - top - bottom);
    });
    runs.forEach((run, i) => {
      const points = dims.map((dim, d) => `${x(d).toFixed(1)},${scales[d](dim.values[i]).toFixed(1)}`);
      const line = svgEl("polyline", { points: points.join(" "), class: "pc-line",
        stroke: colorOf(run.run_id), "data-run": run.run_id });
      const label = metric ? ` (${plainLabel(metric.label)} ${UI.fmtNum(metric.values[i])})` : "";
      line.append(svgEl("title", {}, `${run.run_name}${label}`));
      svg.append(line);
    });
    dims.forEach((dim, d) => {
      const finite = dim.values.filter(Number.isFinite);
      const lo = Math.min(...finite); const hi = Math.max(...finite);
      svg.append(svgEl("line", { x1: x(d), x2: x(d), y1: top, y2: H - bottom, class: "pc-axis" }));
      const label = plainLabel(dim.label);
      svg.append(svgEl("text", { x: x(d), y: top - 22, class: "pc-label" },
        label.length > 18 ? `${label.slice(0, 17)}…` : label));
      const tick = (v) => (dim.ticktext ? plainLabel(dim.ticktext[v] ?? "") : UI.fmtNum(v));
      svg.append(svgEl("text", { x: x(d), y: H - bottom + 16, class: "pc-tick" }, tick(lo)));
      if (hi !== lo) svg.append(svgEl("text", { x: x(d), y: top - 3, class: "pc-tick" }, tick(hi)));
    });
    UI.clear(container).append(svg);
  }

  // Labels were escaped for plotly; SVG text nodes need the plain text back.
  function plainLabel(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  load();
})();
