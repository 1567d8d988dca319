// Shared helpers for the sweepbook UI pages. User text only ever goes in through textContent
// (el(..., "text") or string children); no user data is passed to innerHTML.
"use strict";

const UI = (() => {
  const STATUSES = ["QUEUED", "RUNNING", "FINISHED", "FAILED", "KILLED", "PRUNED"];

  // Bidi overrides and zero-width characters would disguise text: show them as ⟨U+XXXX⟩.
  const HIDDEN = /[\u200B-\u200F\u202A-\u202E\u2028\u2029\u2066-\u2069\uFEFF]/g;
  function visible(text) {
    return String(text).replace(HIDDEN, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
  }

  // Plotly reads a little HTML in labels (<b>, <a href>); entities keep user text literal.
  function plotText(text) {
    return visible(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = visible(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(visible(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
      else if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  async function patch(path, body) {
    const response = await fetch(path, {
      method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  const enc = encodeURIComponent;
  const runUrl = (id) => `/runs/${enc(id)}`;
  const sweepUrl = (id) => `/sweeps/${enc(id)}`;
  const experimentUrl = (id) => `/experiments/${enc(id)}`;

  function num(value) {
    if (typeof value === "number") return value;
    if (value === "NaN" || value === null || value === undefined) return NaN;
    if (value === "Infinity") return Infinity;
    if (value === "-Infinity") return -Infinity;
    return Number(value);
  }

  function fmtNum(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) return value.toExponential(4);
    return String(Number(value.toPrecision(6)));
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function fmtTime(ms) {
    if (ms === null || ms === undefined) return "";
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtDuration(start, end) {
    if (!start) return "";
    let s = Math.max(0, Math.round(((end || Date.now()) - start) / 1000));
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const text = h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
    return end ? text : `${text}…`;
  }

  function fmtAgo(ms) {
    if (!ms) return "";
    const s = Math.round((Date.now() - ms) / 1000);
    if (s < 60) return `${Math.max(s, 0)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return fmtTime(ms);
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }

  function badge(status) {
    const known = STATUSES.includes(status);
    return el("span", { class: `badge ${known ? "st-" + status.toLowerCase() : ""}`, text: status });
  }

  function crumbs(items) {
    const nav = clear(document.getElementById("crumbs"));
    items.forEach((item, i) => {
      if (i) nav.append(el("span", { class: "sep", text: "/" }));
      nav.append(item.href ? el("a", { href: item.href, text: item.text }) : el("span", { text: item.text }));
    });
    if (items.length) document.title = `${items[items.length - 1].text} · sweepbook`;
  }

  function app() {
    const main = document.getElementById("app");
    const loading = document.getElementById("loading");
    if (loading) loading.remove();
    return main;
  }

  function showError(container, error) {
    const box = el("div", { class: "error", role: "alert" },
      el("strong", { text: error.status === 404 ? "Not found: " : "Error: " }), error.message);
    container.append(box);
    return box;
  }

  // A key of a filter or order_by, back-quoted so any character works.
  function quoteKey(kind, key) {
    return `${kind}.\`${key.replace(/\\/g, "\\\\").replace(/`/g, "``")}\``;
  }

  function table(headers, rows, attrs) {
    return el("table", attrs || { class: "grid" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows));
  }

  function kvTable(obj, emptyText) {
    const keys = Object.keys(obj || {});
    if (!keys.length) return el("p", { class: "muted", text: emptyText || "None." });
    return el("table", { class: "kv" }, el("tbody", {}, keys.map((k) =>
      el("tr", {}, el("th", { text: k }), el("td", { text: fmtNum(obj[k]) })))));
  }

  function section(title, ...children) {
    return el("section", { class: "card" }, el("h2", { text: title }), children);
  }

  // Plotly line chart of several series: [{name, x, y}]; non-finite values are gaps.
  function lineChart(node, series, options) {
    const traces = series.map((s) => ({
      type: "scatter", mode: s.x.length > 1 ? "lines+markers" : "markers", name: plotText(s.name),
      x: s.x, y: s.y.map((v) => { const n = num(v); return Number.isFinite(n) ? n : null; }),
      marker: { size: s.x.length > 200 ? 2 : 5 }, connectgaps: false,
    }));
    const layout = {
      margin: { l: 50, r: 10, t: options.title ? 30 : 10, b: 40 }, height: options.height || 260,
      title: options.title ? { text: plotText(options.title), font: { size: 13 } } : undefined,
      xaxis: { title: { text: options.xTitle || "step" }, zeroline: false },
      yaxis: { zeroline: false }, showlegend: series.length > 1,
      legend: { orientation: "h", y: -0.25 }, font: { size: 11 },
    };
    return Plotly.newPlot(node, traces, layout, { displaylogo: false, responsive: true });
  }

  return {
    el, append, clear, api, patch, ApiError, runUrl, sweepUrl, experimentUrl, num, fmtNum,
    fmtTime, fmtDuration, fmtAgo, fmtBytes, badge, crumbs, app, showError, quoteKey, table,
    kvTable, section, lineChart, plotText, visible, STATUSES,
  };
})();
