"""The report's own stylesheet and script, and the plotly.js it inlines.

plotly.js is `vendor/plotly-report.min.js`, a build of the plotly.js version the plotly package
ships with only the trace types the report draws (`REPORT_TRACES`; `vendor/build_plotly.sh`
rebuilds it), or the plotly package's full bundle where that file is missing or of another
version.

The script draws the figure nearest the top of the viewport first, as soon as plotly.js has
loaded and before anything else runs; after that frame is painted it renders the runs tables
(sort, filter, paging, "only params that vary", jumping to a trial's row from `#s0-trial-12`
links), draws the figures near the viewport, then the rest in the background, one per task.
A figure's toolbar and brushing are set up when it is drawn, from the JSON parsed to draw it.
Cells are written with `textContent` only.
"""

import functools
import re
from pathlib import Path

VENDORED_PLOTLY = Path(__file__).parent / "vendor" / "plotly-report.min.js"
# Every trace type a report figure can have; vendor/build_plotly.sh says which figure draws each.
REPORT_TRACES = ("scatter", "scattergl", "bar", "box", "contour", "parcoords")
_VERSION = re.compile(r"/\*! plotly\.js v(\S+) ")
_FACTORY, _END = "this, () => {", "return Plotly;\n}));"


def vendored_plotly_version() -> str | None:
    """The plotly.js version of `VENDORED_PLOTLY` (from its banner); None where it is missing.

    >>> vendored_plotly_version()  # doctest: +SKIP
    '4.1.1'
    """
    try:
        with VENDORED_PLOTLY.open(encoding="utf-8") as f:
            head = f.read(200)
    except FileNotFoundError:
        return None
    found = _VERSION.match(head)
    return found.group(1) if found else None


@functools.cache
def plotly_script() -> str:
    """plotly.js as the report inlines it: the vendored bundle where it is of the version the
    plotly package ships (figures are that package's JSON), else the package's full bundle.

    The vendored bundle is 1.6 MB against 4.8 MB: about 0.75 s less main-thread time before the
    first figure (headless Chromium, 300 or 10,000 trials). Its code already sits in a
    parenthesized function (`(()=>{...})()`), which V8 compiles at once; in the full bundle the
    function that builds Plotly is wrapped in parentheses here, where V8 would otherwise
    pre-parse the 4.8 MB function and parse it again when it is called (about 0.1 s). A bundle
    of another shape is inlined as it is.

    >>> plotly_script().startswith("/*! plotly.js v")
    True
    """
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    if vendored_plotly_version() == get_plotlyjs_version():
        return VENDORED_PLOTLY.read_text(encoding="utf-8")
    js = get_plotlyjs()
    at = js.find(_FACTORY, 0, 2000)
    if at < 0 or not js.rstrip().endswith(_END):
        return js
    wrapped = js[:at] + "this, (() => {" + js[at + len(_FACTORY):].rstrip()[:-len(_END)]
    return wrapped + "return Plotly;\n})));\n"


STYLE = """
:root { --fg:#1d2630; --muted:#5b6875; --line:#d9dee3; --bg:#fff; --soft:#f5f7f9;
  --accent:#2a7ab0; --best:#1a9850; --bad:#c0392b; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--fg); background:var(--bg); }
header { padding:18px 28px 10px; border-bottom:1px solid var(--line); background:var(--soft); }
header h1 { margin:0 0 4px; font-size:22px; overflow-wrap:anywhere; }
nav { position:sticky; top:0; z-index:5; background:#fffffff0; border-bottom:1px solid var(--line);
  padding:6px 28px; font-size:13px; }
nav a { margin-right:12px; color:var(--accent); text-decoration:none; white-space:nowrap; }
main { padding:8px 28px 60px; max-width:1400px; }
section { margin-top:26px; }
h2 { font-size:19px; border-bottom:2px solid var(--line); padding-bottom:4px; margin:0 0 10px; }
h2.sweep { margin-top:40px; font-size:21px; border-bottom-color:var(--accent); }
h3 { font-size:16px; margin:18px 0 6px; overflow-wrap:anywhere; }
h4 { font-size:14px; margin:10px 0 4px; }
.muted, .caption { color:var(--muted); }
.caption { font-size:12.5px; margin:4px 0 0; }
.notice { background:#fff8e5; border:1px solid #f0d58a; padding:10px 14px; border-radius:4px; }
table { border-collapse:collapse; }
table.kv th { text-align:left; font-weight:600; padding:3px 14px 3px 0; vertical-align:top;
  white-space:nowrap; color:var(--muted); }
table.kv td { padding:3px 14px 3px 0; vertical-align:top; overflow-wrap:anywhere; }
table.kv td.wrap { font-size:12.5px; max-width:520px; }
table.grid th, table.grid td { border-bottom:1px solid var(--line); padding:4px 10px;
  text-align:left; vertical-align:top; }
table.grid th { background:var(--soft); }
.scroll { overflow-x:auto; }
.card { border:1px solid var(--line); border-radius:6px; padding:4px 16px 12px; margin:10px 0; }
.cols { display:flex; gap:40px; flex-wrap:wrap; }
.figure { margin:8px 0 22px; }
.plot { min-height:380px; width:100%; }
pre { background:var(--soft); border:1px solid var(--line); padding:8px 10px; overflow:auto;
  max-height:420px; font-size:12px; white-space:pre-wrap; overflow-wrap:anywhere; }
pre.error { color:var(--bad); max-height:160px; }
details summary { cursor:pointer; color:var(--accent); margin:6px 0; }
.failure { border-left:3px solid var(--bad); padding-left:12px; margin:10px 0; }
.status { font-size:12px; color:var(--bad); }
figure.artifact { display:inline-block; margin:8px 12px 0 0; max-width:420px; }
figure.artifact img { max-width:100%; border:1px solid var(--line); }
td.files a { margin-right:10px; overflow-wrap:anywhere; }
.note { background:var(--soft); border-radius:4px; padding:2px 14px; margin:10px 0;
  overflow-wrap:anywhere; }
.runs .controls { display:flex; gap:16px; align-items:center; margin:6px 0; flex-wrap:wrap; }
.runs input[type=search] { padding:4px 8px; width:260px; border:1px solid var(--line);
  border-radius:4px; }
.runs .wrap { overflow-x:auto; border:1px solid var(--line); }
.runs table { width:100%; font-size:12.5px; }
.runs th { position:sticky; top:0; background:var(--soft); cursor:pointer; user-select:none;
  padding:5px 8px; text-align:left; white-space:nowrap; border-bottom:1px solid var(--line); }
.runs th.param { color:#6c3483; } .runs th.metric { color:#1f618d; }
.runs th.sorted-asc::after { content:" ▲"; } .runs th.sorted-desc::after { content:" ▼"; }
.runs td { padding:3px 8px; border-bottom:1px solid #eef1f3; white-space:nowrap;
  max-width:340px; overflow:hidden; text-overflow:ellipsis; }
.runs td.num { text-align:right; font-variant-numeric:tabular-nums; }
.runs tr.target td { background:#fff3c4; }
.runs tr.best td:first-child { border-left:3px solid var(--best); }
.runs td.st-FAILED, .runs td.st-KILLED { color:var(--bad); }
.runs td.st-PRUNED { color:#b9770e; }
.runs .pager button { margin:0 3px; }
.toolbar { display:flex; gap:8px; align-items:center; margin:4px 0; font-size:12.5px; }
.toolbar button[aria-pressed=true] { background:var(--accent); color:#fff; }
ul.warnings { margin:6px 0; padding-left:30px; }
details.sweep > summary h2 { display:inline-block; border:0; margin:30px 0 0; }
a.trial-link { color:var(--accent); }
"""

APP = r"""
(function () {
  'use strict';
  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // -- figures: each drawn once, from its JSON block ------------------------------------
  var CONFIG = {responsive: true, displaylogo: false};
  var plots = Array.prototype.slice.call(document.querySelectorAll('div.plot[data-figure]'));
  function drawn(div) { return div.getAttribute('data-drawn') === 'yes'; }
  function draw(div) {
    if (div.getAttribute('data-drawn')) { return; }
    div.setAttribute('data-drawn', 'pending');
    var spec = readJson(div.getAttribute('data-figure'));
    var fig = spec.variants ? spec.variants[0] : spec;
    var layout = fig.layout || {};
    layout.autosize = true;
    Plotly.newPlot(div, fig.data, layout, CONFIG).then(function () {
      div.setAttribute('data-drawn', 'yes');
      decorate(div, spec);
    }, function (err) { div.setAttribute('data-drawn', 'error'); console.error(err); });
  }
  function firstInView() {  // the first figure not above the viewport
    for (var i = 0; i < plots.length; i++) {
      var box = plots[i].getBoundingClientRect();
      if (box.width > 0 && box.bottom > 0) { return plots[i]; }
    }
    return null;
  }
  function drawTheRest() {  // one per task (the page stays responsive): near the viewport
    var near = [], queue = plots.slice();  // first, then the rest in page order
    if ('IntersectionObserver' in window) {
      var seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting) { seen.unobserve(e.target); near.push(e.target); }
        });
      }, {rootMargin: '600px 0px'});
      plots.forEach(function (div) { if (!div.getAttribute('data-drawn')) { seen.observe(div); } });
    }
    function next() {
      var from = near.length ? near : queue;
      while (from.length && from[0].getAttribute('data-drawn')) { from.shift(); }
      if (from.length) { draw(from.shift()); }
      if (near.length || queue.length) { setTimeout(next, 0); }
    }
    setTimeout(next, 0);
  }

  // -- runs tables ----------------------------------------------------------------------
  var PAGE = 50;
  function fmt(v) {
    if (v === null || v === undefined) { return ''; }
    if (typeof v === 'number') {
      if (Number.isInteger(v)) { return String(v); }
      var a = Math.abs(v);
      if (a !== 0 && (a < 1e-3 || a >= 1e6)) { return v.toExponential(3); }
      return String(Number(v.toPrecision(4)));
    }
    return String(v);
  }
  function compare(a, b) {
    var na = a === null || a === undefined || a === '';
    var nb = b === null || b === undefined || b === '';
    if (na || nb) { return na === nb ? 0 : (na ? 1 : -1); }
    if (typeof a === 'number' && typeof b === 'number') { return a - b; }
    if (typeof a === 'number') { return -1; }
    if (typeof b === 'number') { return 1; }
    return String(a).localeCompare(String(b));
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  var tables = {};
  function RunsTable(host) {
    var spec = readJson(host.getAttribute('data-table'));
    var self = this;
    this.spec = spec; this.host = host; this.sortCol = null; this.sortDir = 1;
    this.filter = ''; this.page = 0; this.onlyVarying = true; this.target = null;
    this.best = {};
    this.order = spec.rows.map(function (_, i) { return i; });
    this.text = spec.rows.map(function (r) { return r.map(fmt).join('\u0001').toLowerCase(); });
    var controls = el('div', null, 'controls');
    var search = el('input'); search.type = 'search'; search.placeholder = 'Filter rows…';
    search.setAttribute('aria-label', 'Filter rows');
    search.addEventListener('input', function () {
      self.filter = search.value.toLowerCase(); self.page = 0; self.render();
    });
    var label = el('label'); var box = el('input'); box.type = 'checkbox'; box.checked = true;
    box.addEventListener('change', function () { self.onlyVarying = box.checked; self.render(); });
    label.appendChild(box); label.appendChild(document.createTextNode(' only params that vary'));
    this.count = el('span', '', 'muted');
    this.pager = el('span', null, 'pager');
    controls.appendChild(search); controls.appendChild(label); controls.appendChild(this.count);
    controls.appendChild(this.pager);
    this.search = search;
    var wrap = el('div', null, 'wrap'); this.table = el('table'); wrap.appendChild(this.table);
    host.appendChild(controls); host.appendChild(wrap);
    tables[spec.prefix] = this;
    this.render();
  }
  RunsTable.prototype.visibleCols = function () {
    var self = this;
    return this.spec.columns.map(function (c, i) { return i; }).filter(function (i) {
      var c = self.spec.columns[i];
      return !(self.onlyVarying && c.group === 'param' && !c.varies);
    });
  };
  RunsTable.prototype.rowsShown = function () {
    var self = this, rows = this.order;
    if (this.filter) {
      rows = rows.filter(function (i) { return self.text[i].indexOf(self.filter) >= 0; });
    }
    if (this.brush) {  // trials selected on the parallel coordinates
      rows = rows.filter(function (i) {
        return self.spec.final[i] && self.brush[self.spec.anchors[i]];
      });
    }
    return rows;
  };
  RunsTable.prototype.sortBy = function (col) {
    var rows = this.spec.rows;
    if (this.sortCol === col) { this.sortDir = -this.sortDir; }
    else { this.sortCol = col; this.sortDir = 1; }
    var dir = this.sortDir;
    this.order.sort(function (a, b) {
      var c = compare(rows[a][col], rows[b][col]);
      if (c !== 0 && !(rows[a][col] === null || rows[b][col] === null)) { c = c * dir; }
      return c || a - b;
    });
    this.page = 0;
    this.render();
  };
  RunsTable.prototype.render = function () {
    var self = this, spec = this.spec, cols = this.visibleCols();
    var shown = this.rowsShown();
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    if (this.page >= pages) { this.page = pages - 1; }
    var table = this.table;
    while (table.firstChild) { table.removeChild(table.firstChild); }
    var thead = el('thead'), tr = el('tr');
    cols.forEach(function (i) {
      var c = spec.columns[i];
      var th = el('th', c.label, c.group);
      th.setAttribute('data-col', String(i));
      if (self.sortCol === i) { th.className += self.sortDir > 0 ? ' sorted-asc' : ' sorted-desc'; }
      th.addEventListener('click', function () { self.sortBy(i); });
      tr.appendChild(th);
    });
    thead.appendChild(tr); table.appendChild(thead);
    var tbody = el('tbody');
    shown.slice(this.page * PAGE, (this.page + 1) * PAGE).forEach(function (r) {
      var row = spec.rows[r], tr = el('tr');
      if (spec.final[r]) { tr.id = spec.prefix + '-trial-' + spec.anchors[r]; }
      if (r === self.target) { tr.className = 'target'; }
      cols.forEach(function (i) {
        var c = spec.columns[i], v = row[i];
        var td = el('td', fmt(v), c.kind === 'num' ? 'num' : '');
        if (c.label === 'status') { td.className = 'st-' + v; }
        if (typeof v === 'string' && v.length > 40) { td.title = v; }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    this.count.textContent = shown.length + ' of ' + spec.rows.length + ' rows';
    var pager = this.pager;
    while (pager.firstChild) { pager.removeChild(pager.firstChild); }
    if (pages > 1) {
      var prev = el('button', '‹ prev'), next = el('button', 'next ›');
      prev.disabled = this.page === 0; next.disabled = this.page >= pages - 1;
      prev.addEventListener('click', function () { self.page -= 1; self.render(); });
      next.addEventListener('click', function () { self.page += 1; self.render(); });
      pager.appendChild(prev);
      pager.appendChild(el('span', 'page ' + (this.page + 1) + ' of ' + pages));
      pager.appendChild(next);
    }
  };
  RunsTable.prototype.show = function (number) {
    var spec = this.spec, target = -1;
    for (var i = 0; i < spec.rows.length; i++) {
      if (spec.anchors[i] === number && spec.final[i]) { target = i; }
    }
    if (target < 0) { return null; }
    this.filter = ''; this.search.value = ''; this.target = target; this.brush = null;
    this.page = Math.floor(this.order.indexOf(target) / PAGE);
    this.render();
    return document.getElementById(spec.prefix + '-trial-' + number);
  };
  function follow() {
    var m = /^#(s\d+)-trial-(\d+)$/.exec(window.location.hash);
    if (!m || !tables[m[1]]) { return; }
    var row = tables[m[1]].show(parseInt(m[2], 10));
    var folded = row && row.closest('details');
    if (folded) { folded.open = true; }
    if (row) { row.scrollIntoView({block: 'center'}); }
  }

  // -- interactions: brushing, log-y and pruned toggles, the contour's axis picker --------
  function toggle(bar, label, fn) {
    var b = el('button', label); b.type = 'button'; b.setAttribute('aria-pressed', 'false');
    b.addEventListener('click', function () {
      var div = bar.nextSibling;
      if (!drawn(div)) { return; }
      var on = b.getAttribute('aria-pressed') !== 'true';
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      fn(div, on);
    });
    bar.appendChild(b);
  }
  function logY(div, on) {
    var update = {};
    Object.keys(div.layout).forEach(function (k) {
      if (/^yaxis\d*$/.test(k)) { update[k + '.type'] = on ? 'log' : 'linear'; }
    });
    Plotly.relayout(div, update);
  }
  function hidePruned(div, on) {
    var idx = [];
    div.data.forEach(function (t, i) { if (t.legendgroup === 'PRUNED') { idx.push(i); } });
    if (idx.length) { Plotly.restyle(div, {visible: on ? false : true}, idx); }
  }
  function picker(bar, variants) {
    var select = el('select'); select.setAttribute('aria-label', 'Contour axes');
    variants.forEach(function (v, i) {
      var o = el('option', v.label); o.value = String(i); select.appendChild(o);
    });
    select.addEventListener('change', function () {
      var div = bar.nextSibling, v = variants[parseInt(select.value, 10)];
      if (!drawn(div)) { return; }
      var layout = v.layout || {}; layout.autosize = true;
      Plotly.react(div, v.data, layout, CONFIG);
    });
    bar.appendChild(el('span', 'axes ', 'muted')); bar.appendChild(select);
  }
  function inRange(v, range) {
    var ranges = Array.isArray(range[0]) ? range : [range];
    return ranges.some(function (r) { return v >= r[0] && v <= r[1]; });
  }
  function brushed(div, numbers) {
    var dims = div.data[0].dimensions, chosen = null;
    dims.forEach(function (d) {
      if (!d.constraintrange || !d.constraintrange.length) { return; }
      chosen = chosen || numbers.map(function () { return true; });
      d.values.forEach(function (v, i) {
        if (!inRange(v, d.constraintrange)) { chosen[i] = false; }
      });
    });
    if (!chosen) { return null; }
    var set = {};
    numbers.forEach(function (n, i) { if (chosen[i]) { set[n] = true; } });
    return set;
  }
  function highlight(div, set, numbersOf) {
    var idx = [], sel = [];
    div.data.forEach(function (t, i) {
      if (!/markers/.test(t.mode || '')) { return; }
      var numbers = numbersOf(t);
      if (!numbers) { return; }
      idx.push(i);
      sel.push(set ? numbers.reduce(function (a, n, j) {
        if (set[n]) { a.push(j); } return a; }, []) : null);
    });
    if (idx.length) { Plotly.restyle(div, {selectedpoints: sel}, idx); }
  }
  function onBrush(prefix, set) {
    if (tables[prefix]) {
      tables[prefix].brush = set; tables[prefix].page = 0; tables[prefix].render();
    }
    var single = Object.keys(tables).length === 1;
    plots.forEach(function (div) {
      var id = div.getAttribute('data-figure');
      if (!drawn(div)) { return; }
      if (id.indexOf(prefix + '-history') === 0 || (single && id.indexOf('all-history') === 0)) {
        highlight(div, set, function (t) { return t.x; });
      } else if (id.indexOf(prefix + '-slice') === 0) {
        highlight(div, set, function (t) {
          return t.marker && Array.isArray(t.marker.color) ? t.marker.color : null;
        });
      }
    });
  }
  function decorate(div, spec) {  // a drawn figure's toolbar and brushing
    var prefix = div.getAttribute('data-figure').split('-')[0];
    if (spec.controls || spec.variants) {
      var bar = el('div', null, 'toolbar');
      div.parentNode.insertBefore(bar, div);
      (spec.controls || []).forEach(function (c) {
        if (c === 'logy') { toggle(bar, 'log y', logY); }
        if (c === 'pruned') { toggle(bar, 'hide pruned', hidePruned); }
      });
      if (spec.variants) { picker(bar, spec.variants); }
    }
    if (spec.brush) {
      div.on('plotly_restyle', function () { onBrush(prefix, brushed(div, spec.brush.numbers)); });
    }
  }

  // -- start: the first figure, then (once it is painted) tables and the other figures ----
  function start() {
    Array.prototype.slice.call(document.querySelectorAll('div.runs[data-table]'))
      .forEach(function (host) { new RunsTable(host); });
    window.addEventListener('hashchange', follow);
    document.addEventListener('click', function (e) {
      var a = e.target.closest ? e.target.closest('a.trial-link') : null;
      if (a && a.getAttribute('href') === window.location.hash) { follow(); }
    });
    follow();
    document.addEventListener('toggle', function (e) {
      if (!e.target.open || !e.target.querySelectorAll) { return; }
      e.target.querySelectorAll('div.plot').forEach(function (div) {
        if (drawn(div)) { Plotly.Plots.resize(div); } else { draw(div); }
      });
    }, true);
    drawTheRest();
    document.body.setAttribute('data-ready', 'yes');
  }
  var first = firstInView();
  if (first) { draw(first); }
  if (document.hidden) { setTimeout(start, 0); }
  else { requestAnimationFrame(function () { setTimeout(start, 0); }); }
})();
"""
