// An experiment's runs table: sweeps with their trials nested (or every run as one flat list),
// filter, sort, columns, min/max of step metrics, compare.
"use strict";

(() => {
  const { el, api, clear, fmtNum, fmtTime, fmtDuration, runUrl, sweepUrl, quoteKey } = UI;
  const experimentId = document.body.dataset.experiment;
  const main = UI.app();
  const storeKey = `sweepbook.columns.${experimentId}`;
  const params = new URLSearchParams(location.search);
  const saved = JSON.parse(localStorage.getItem(storeKey) || "{}");
  const state = {
    filter: params.get("filter") || "",
    order: params.get("order_by") || "",
    page: Number(params.get("page")) || 1,
    pageSize: Number(params.get("page_size")) || 50,
    flat: params.get("flat") === "1",
    columns: Array.isArray(saved.columns) ? saved.columns : null,
    onlyVarying: Boolean(saved.onlyVarying),
    ranges: Boolean(saved.ranges),
    selected: new Set(),
    collapsed: new Set(),
    data: null,
    columnsInfo: null,
    columnsFilter: null,
  };
  const BASE = [
    { id: "run_name", label: "Name", order: "attributes.run_name" },
    { id: "status", label: "Status", order: "attributes.status" },
    { id: "start_time", label: "Started", order: "attributes.start_time" },
    { id: "duration", label: "Duration", order: null },
  ];

  const heading = el("h1", { text: "Runs" });
  const summary = el("p", { class: "muted", id: "summary" });
  const filterInput = el("input", {
    id: "filter", type: "search", spellcheck: "false", autocomplete: "off",
    placeholder: "params.model = 'rf' and metrics.acc > 0.9", "aria-label": "Filter runs",
  });
  filterInput.value = state.filter;
  const filterError = el("div", { id: "filter-error", class: "error hidden", role: "alert" });
  const filterForm = el("form", { id: "filter-form", class: "toolbar" },
    filterInput, el("button", { type: "submit", text: "Apply" }),
    el("button", { type: "button", id: "filter-clear", text: "Clear", onclick: () => {
      filterInput.value = ""; applyFilter();
    } }));
  filterForm.addEventListener("submit", (event) => { event.preventDefault(); applyFilter(); });
  const chooser = el("details", { id: "columns-chooser", class: "chooser" },
    el("summary", { text: "Columns" }), el("div", { class: "chooser-body" }));
  const varying = el("input", { type: "checkbox", id: "only-varying" });
  varying.checked = state.onlyVarying;
  varying.addEventListener("change", () => { state.onlyVarying = varying.checked; save(); render(); });
  // Off: every run of the experiment (every trial of every sweep) as one list, which the
  // server orders and pages as a whole.
  const grouped = el("input", { type: "checkbox", id: "group-by-sweep" });
  grouped.checked = !state.flat;
  grouped.addEventListener("change", () => { state.flat = !grouped.checked; state.page = 1; load(); });
  const rangesBox = el("input", { type: "checkbox", id: "metric-ranges" });
  rangesBox.checked = state.ranges;
  rangesBox.addEventListener("change", () => { state.ranges = rangesBox.checked; save(); load(); });
  const compareButton = el("button", { id: "compare", disabled: true, onclick: () => {
    location.href = `/compare?run_ids=${encodeURIComponent([...state.selected].join(","))}`;
  } }, "Compare selected (0)");
  const controls = el("div", { class: "toolbar" }, chooser,
    el("label", {}, varying, " Only columns that vary"),
    el("label", {}, grouped, " Group by sweep"),
    el("label", { title: "For metrics logged at several steps: last, min and max columns" },
      rangesBox, " Min / max of step metrics"),
    compareButton);
  const tableBox = el("div", { id: "table-box", class: "table-scroll" });
  const pager = el("div", { id: "pager", class: "toolbar" });
  main.append(heading, summary, filterForm, filterError, controls, tableBox, pager);

  function save() {
    localStorage.setItem(storeKey, JSON.stringify({
      columns: state.columns, onlyVarying: state.onlyVarying, ranges: state.ranges }));
  }

  function syncUrl() {
    const q = new URLSearchParams();
    if (state.filter) q.set("filter", state.filter);
    if (state.order) q.set("order_by", state.order);
    if (state.page > 1) q.set("page", state.page);
    if (state.pageSize !== 50) q.set("page_size", state.pageSize);
    if (state.flat) q.set("flat", "1");
    const text = q.toString();
    history.replaceState(null, "", text ? `?${text}` : location.pathname);
  }

  function applyFilter() {
    state.filter = filterInput.value.trim();
    state.page = 1;
    load();
  }

  function showFilterError(error) {
    clear(filterError);
    filterError.classList.remove("hidden");
    filterError.append(el("strong", { text: "Filter error: " }), error.message);
    const pos = error.body && error.body.position;
    if (error.body && error.body.field === "filter" && Number.isInteger(pos)) {
      const text = state.filter;
      filterError.append(el("pre", { class: "caret" },
        text.slice(0, 200), "\n", " ".repeat(Math.min(pos, 200)), "^"));
      filterInput.focus();
      try { filterInput.setSelectionRange(pos, text.length); } catch (e) { /* not focusable */ }
    }
  }

  function requestColumns() {
    if (!state.columns) return undefined;
    return state.columns.length ? state.columns : ["-"];
  }

  async function load() {
    syncUrl();
    let data;
    try {
      data = await api(`/api/experiments/${encodeURIComponent(experimentId)}/runs`, {
        filter: state.filter, order_by: state.order, page: state.page,
        page_size: state.pageSize, columns: requestColumns(),
        flat: state.flat ? 1 : undefined, stats: state.ranges ? 1 : undefined,
      });
    } catch (error) {
      if (error.status === 400) { showFilterError(error); return; }
      clear(tableBox);
      UI.showError(tableBox, error);
      return;
    }
    filterError.classList.add("hidden");
    clear(filterError);
    state.data = data;
    heading.textContent = data.experiment.name;
    UI.crumbs([{ text: "Experiments", href: "/" }, { text: data.experiment.name }]);
    const entries = data.flat ? (state.filter ? `${data.total_groups} match · ` : "")
      : `${data.total_groups} top-level ${data.total_groups === 1 ? "entry" : "entries"}` +
        `${state.filter ? " match" : ""} · `;
    summary.textContent = `${data.experiment.run_count} runs · ${entries}` +
      `${data.experiment.sweep_count} sweeps`;
    renderChooser();
    render();
    loadColumns();
  }

  // Every key of the matching runs, and whether it varies: a scan of the whole experiment,
  // so it is fetched after the table is drawn (and again only when the filter changes).
  async function loadColumns() {
    if (state.columnsInfo && state.columnsFilter === state.filter) return;
    const asked = state.filter;
    try {
      const info = await api(`/api/experiments/${encodeURIComponent(experimentId)}/columns`,
        { filter: asked });
      if (asked !== state.filter) return;
      state.columnsInfo = info;
      state.columnsFilter = asked;
      renderChooser();
      if (state.onlyVarying) render();
    } catch (error) {
      UI.showError(chooser.querySelector(".chooser-body"), error);
    }
  }

  function variesMap() {
    const out = {};
    for (const kind of ["params", "metrics", "tags"]) {
      for (const c of state.columnsInfo[kind]) out[`${kind}.${c.key}`] = c.varies;
    }
    return out;
  }

  function visibleColumns() {
    const shown = state.data.shown_columns;
    if (!state.onlyVarying || !state.columnsInfo || state.columnsFilter !== state.filter) return shown;
    const varies = variesMap();
    return shown.filter((c) => varies[c] !== false);
  }

  function renderChooser() {
    const body = clear(chooser.querySelector(".chooser-body"));
    if (!state.columnsInfo) {
      body.append(el("p", { class: "muted", text: "Loading columns…" }));
      return;
    }
    const shown = new Set(state.data.shown_columns);
    for (const kind of ["metrics", "params", "tags"]) {
      const items = state.columnsInfo[kind];
      if (!items.length) continue;
      body.append(el("h4", { text: kind }));
      const list = el("div", { class: "chooser-list" });
      for (const c of items) {
        const name = `${kind}.${c.key}`;
        const box = el("input", { type: "checkbox", "data-column": name });
        box.checked = shown.has(name);
        box.addEventListener("change", () => {
          const current = new Set(state.data.shown_columns);
          if (box.checked) current.add(name); else current.delete(name);
          state.columns = [...current];
          save();
          load();
        });
        list.append(el("label", { title: `${c.key}: in ${c.present} runs${c.varies ? "" : ", one value"}` },
          box, " ", c.key, c.varies ? "" : el("span", { class: "muted", text: " (constant)" })));
      }
      body.append(list);
    }
    body.append(el("button", { type: "button", text: "Reset to default", onclick: () => {
      state.columns = null; save(); load();
    } }));
    chooser.dataset.ready = "1";
  }

  // A shown column, or for a metric logged at several steps (with min / max on) its last,
  // min and max values as three columns; only the last value can order the runs.
  function parts(columns) {
    const stepped = new Set(state.ranges ? state.data.step_metrics || [] : []);
    return columns.flatMap((c) => (stepped.has(c)
      ? ["last", "min", "max"].map((part) => ({ column: c, part }))
      : [{ column: c, part: null }]));
  }

  function columnHeader(spec) {
    const { column, part } = spec;
    const cls = column.startsWith("metrics.") ? "num" : "";
    if (part === "min" || part === "max") {
      return el("th", { class: `${cls} range`, "data-column": column, "data-part": part,
        title: `${part} over every step (runs are ordered by the last value only)` },
      `${column} (${part})`);
    }
    const th = header(part ? `${column} (last)` : column, orderFor(column), cls);
    th.dataset.column = column;
    if (part) th.dataset.part = part;
    return th;
  }

  function orderFor(column) {
    if (column.startsWith("params.")) return quoteKey("params", column.slice(7));
    if (column.startsWith("metrics.")) return quoteKey("metrics", column.slice(8));
    if (column.startsWith("tags.")) return quoteKey("tags", column.slice(5));
    return null;
  }

  function header(label, order, extraClass) {
    const current = state.order.replace(/\s+(ASC|DESC)$/i, "");
    const desc = /\sDESC$/i.test(state.order);
    const active = order && current === order;
    const th = el("th", {
      class: `${extraClass || ""} ${order ? "sortable" : ""}`.trim(),
      "aria-sort": active ? (desc ? "descending" : "ascending") : null, title: order || null,
    }, label, active ? el("span", { class: "arrow", text: desc ? " ▼" : " ▲" }) : "");
    if (order) {
      th.addEventListener("click", () => {
        state.order = active && !desc ? `${order} DESC` : active ? "" : order;
        state.page = 1;
        load();
      });
    }
    return th;
  }

  function cell(row, spec) {
    const { column, part } = spec;
    const range = row.ranges && row.ranges[column];
    const value = part === "min" || part === "max"
      ? (range ? range[part === "min" ? 0 : 1] : undefined) : row.values[column];
    const isNumber = column.startsWith("metrics.") || typeof value === "number";
    return el("td", { class: isNumber ? "num" : "", text: fmtNum(value) });
  }

  function parentCell(row) {
    const parent = row.parent;
    if (!parent) return el("td", { class: "parent" });
    return el("td", { class: "parent" }, el("a", {
      href: parent.is_sweep ? sweepUrl(parent.run_id) : runUrl(parent.run_id), text: parent.run_name }));
  }

  function selectBox(row) {
    const box = el("input", { type: "checkbox", class: "select", "aria-label": `Select ${row.run_name}`,
      "data-run": row.run_id });
    box.checked = state.selected.has(row.run_id);
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(row.run_id); else state.selected.delete(row.run_id);
      updateCompare();
    });
    return el("td", { class: "sel" }, box);
  }

  function runRow(row, columns, kind) {
    const name = el("td", { class: "name" });
    if (kind === "child") name.append(el("span", { class: "indent", text: "└ " }));
    if (kind === "group") {
      const open = !state.collapsed.has(row.run_id);
      name.append(el("button", { class: "toggle", "aria-expanded": String(open),
        title: open ? "Collapse" : "Expand", text: open ? "▾" : "▸", onclick: () => {
          if (open) state.collapsed.add(row.run_id); else state.collapsed.delete(row.run_id);
          render();
        } }));
    }
    if (row.trial_number !== null && row.trial_number !== undefined && (kind === "child" || kind === "flat")) {
      name.append(el("span", { class: "muted", text: `#${row.trial_number} ` }));
    }
    // A sweep's name opens the sweep's page (summary, best trial, report); its run page is a tag.
    name.append(el("a", { href: row.is_sweep ? sweepUrl(row.run_id) : runUrl(row.run_id),
      class: row.is_sweep ? "sweep-name" : null, text: row.run_name }));
    if (row.is_sweep) {
      name.append(" ", el("span", { class: "tag", text: "sweep" }), " ",
        el("a", { class: "muted small", href: runUrl(row.run_id), text: "run" }));
    }
    if (kind === "group") {
      const text = row.child_matching === row.child_count || !state.filter
        ? `${row.child_count} ${row.is_sweep ? "trials" : "children"}`
        : `${row.child_matching} of ${row.child_count} match`;
      name.append(" ", el("span", { class: "muted small", text: `(${text})` }));
    }
    return el("tr", { class: `${kind}${row.matched === false ? " context" : ""}`, "data-run": row.run_id },
      selectBox(row), name, kind === "flat" ? parentCell(row) : null,
      el("td", {}, UI.badge(row.status)),
      el("td", { text: fmtTime(row.start_time) }),
      el("td", { class: "num", text: fmtDuration(row.start_time, row.end_time) }),
      columns.map((c) => cell(row, c)));
  }

  function moreRow(parent, loaded, columns) {
    const remaining = parent.child_matching - loaded;
    const button = el("button", { class: "link", text: `Show ${Math.min(remaining, 100)} more of ${remaining}…` });
    const tr = el("tr", { class: "child more" }, el("td"),
      el("td", { colspan: String(4 + columns.length) }, el("span", { class: "indent", text: "└ " }), button));
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const page = Math.floor(loaded / 100) + 1;
        const data = await api(`/api/runs/${encodeURIComponent(parent.run_id)}/children`, {
          filter: state.filter, order_by: state.order, page, page_size: 100,
          columns: state.data.shown_columns.length ? state.data.shown_columns : ["-"],
          stats: state.ranges ? 1 : undefined,
        });
        const known = new Set(parent.children.map((c) => c.run_id));
        data.rows.forEach((r) => { if (!known.has(r.run_id)) parent.children.push(r); });
        if (data.step_metrics) {
          const stepped = new Set([...(state.data.step_metrics || []), ...data.step_metrics]);
          state.data.step_metrics = state.data.shown_columns.filter((c) => stepped.has(c));
        }
        render();
      } catch (error) {
        UI.showError(tr.lastChild, error);
      }
    });
    return tr;
  }

  function render() {
    const data = state.data;
    if (!data) return;
    const columns = parts(visibleColumns());
    clear(tableBox);
    if (!data.rows.length) {
      tableBox.append(el("p", { class: "muted", id: "no-runs",
        text: state.filter ? "No runs match this filter." : "No runs in this experiment yet." }));
    }
    const base = data.flat ? [BASE[0], { label: "Parent", order: null }, ...BASE.slice(1)] : BASE;
    const head = el("tr", {}, el("th", { class: "sel" }),
      base.map((b) => header(b.label, b.order)), columns.map(columnHeader));
    const body = el("tbody");
    for (const row of data.flat ? data.rows : []) body.append(runRow(row, columns, "flat"));
    for (const row of data.flat ? [] : data.rows) {
      const group = row.child_count > 0;
      body.append(runRow(row, columns, group ? "group" : "top"));
      if (group && !state.collapsed.has(row.run_id)) {
        row.children.forEach((c) => body.append(runRow(c, columns, "child")));
        if (row.children.length < row.child_matching) body.append(moreRow(row, row.children.length, columns));
      }
    }
    if (data.rows.length) {
      tableBox.append(el("table", { class: `grid runs${data.flat ? " flat" : ""}`, id: "runs-table" },
        el("thead", {}, head), body));
    }
    renderPager();
    updateCompare();
  }

  function renderPager() {
    const data = state.data;
    clear(pager);
    const go = (page) => { state.page = page; load(); };
    const size = el("select", { id: "page-size", "aria-label": "Rows per page" },
      [25, 50, 100, 200, 500].map((n) => el("option", { value: n, text: `${n} per page`,
        selected: n === state.pageSize })));
    size.addEventListener("change", () => { state.pageSize = Number(size.value); state.page = 1; load(); });
    pager.append(
      el("button", { id: "prev-page", disabled: data.page <= 1, onclick: () => go(data.page - 1), text: "‹ Prev" }),
      el("span", { id: "page-info",
        text: `Page ${data.page} of ${data.pages} (${data.total_groups} ${data.flat ? "runs" : "entries"})` }),
      el("button", { id: "next-page", disabled: data.page >= data.pages, onclick: () => go(data.page + 1), text: "Next ›" }),
      size);
  }

  function updateCompare() {
    const n = state.selected.size;
    compareButton.textContent = `Compare selected (${n})`;
    compareButton.disabled = n < 2;
  }

  load();
})();
