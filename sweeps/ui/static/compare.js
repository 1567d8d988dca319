// Compare 2+ runs: params and metrics side by side, overlaid curves, parallel coordinates.
"use strict";

(() => {
  const { el, api, clear, fmtNum, runUrl, section, num } = UI;
  const main = UI.app();
  const ids = (new URLSearchParams(location.search).get("run_ids") || "").split(",").filter(Boolean);

  async function load() {
    UI.crumbs([{ text: "Experiments", href: "/" }, { text: "Compare" }]);
    let data;
    try {
      data = await api("/api/compare", { run_ids: ids.join(",") });
    } catch (error) { UI.showError(main, error); return; }
    main.append(el("h1", { text: `Compare ${data.runs.length} runs` }));
    const onlyDiff = el("input", { type: "checkbox", id: "only-diff" });
    const tableBox = el("div", { class: "table-scroll" });
    onlyDiff.addEventListener("change", () => tableBox.classList.toggle("only-diff", onlyDiff.checked));
    main.append(section("Side by side",
      el("div", { class: "toolbar" }, el("label", {}, onlyDiff, " Only rows that differ")), tableBox));
    tableBox.append(compareTable(data));
    // Charts are drawn once their cards are in the document (plotly measures its container).
    const curves = curvesSection(data);
    const parallel = parallelSection(data);
    main.append(curves.card, parallel.card);
    curves.draw();
    parallel.draw();
  }

  function compareTable(data) {
    const head = el("tr", {}, el("th", { text: "" }), data.runs.map((r) =>
      el("th", {}, el("a", { href: runUrl(r.run_id), text: r.run_name }), " ", UI.badge(r.status))));
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
        UI.lineChart(chart, data.runs.map((r, i) => ({ name: r.run_name, x: histories[i].steps, y: histories[i].values })),
          { height: 340 });
      } catch (error) { UI.showError(chart, error); }
    }
    select.addEventListener("change", draw);
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
    const color = metricDims.length ? metricDims[0].values : data.runs.map((_, i) => i);
    const names = data.runs.map((r) => r.run_name);
    const draw = () => parallelSvg(chart, [...dims, ...metricDims].slice(0, 30), color, names,
      metricDims.length ? metricDims[0].label : null);
    return { card, draw };
  }

  // Parallel coordinates drawn as plain SVG (plotly's parcoords needs WebGL and eval, which
  // this page's Content-Security-Policy does not allow). Labels go in through textContent.
  function parallelSvg(container, dims, color, names, colorLabel) {
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
    const cFinite = color.filter(Number.isFinite);
    const cLo = Math.min(...cFinite); const cHi = Math.max(...cFinite);
    const hue = (v) => 240 - 200 * (cHi > cLo ? (v - cLo) / (cHi - cLo) : 0.5);
    names.forEach((name, i) => {
      const points = dims.map((dim, d) => `${x(d).toFixed(1)},${scales[d](dim.values[i]).toFixed(1)}`);
      const line = svgEl("polyline", { points: points.join(" "), class: "pc-line",
        stroke: `hsl(${hue(color[i]).toFixed(0)}, 70%, 45%)` });
      line.append(svgEl("title", {}, `${name}${colorLabel ? ` (${UI.fmtNum(color[i])})` : ""}`));
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
