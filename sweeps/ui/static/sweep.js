// A sweep's page: live status and counts (polled every 2 s while running) and its report.
"use strict";

(() => {
  const { el, api, clear, fmtNum, fmtAgo, fmtDuration, runUrl } = UI;
  const runId = document.body.dataset.run;
  const main = UI.app();
  const POLL_MS = 2000;
  const MIN_RELOAD_MS = 4000;
  let version = null;
  let shownVersion = null;
  let lastReload = 0;
  let reloadTimer = null;

  const heading = el("h1", { id: "sweep-name", text: "Sweep" });
  const meta = el("p", { class: "meta", id: "sweep-meta" });
  const counts = el("div", { class: "counts", id: "counts" });
  const best = el("p", { id: "best" });
  const advice = el("ul", { id: "advice", class: "advice" });
  const recheck = el("div", { id: "recheck" });
  const frame = el("iframe", { id: "report", title: "Sweep report", sandbox: "allow-scripts",
    class: "report" });
  main.append(heading, meta, counts, best, advice, recheck, el("section", { class: "card report-card" },
    el("h2", {}, "Report ", el("span", { class: "muted small", id: "report-state" })), frame));

  function reloadReport() {
    if (shownVersion === version) return;
    const wait = lastReload + MIN_RELOAD_MS - Date.now();
    if (wait > 0) {
      if (!reloadTimer) reloadTimer = setTimeout(() => { reloadTimer = null; reloadReport(); }, wait);
      return;
    }
    shownVersion = version;
    lastReload = Date.now();
    frame.src = `/sweeps/${encodeURIComponent(runId)}/report?v=${encodeURIComponent(version)}`;
    document.getElementById("report-state").textContent = `(updated ${new Date().toLocaleTimeString()})`;
  }

  function render(s) {
    heading.textContent = s.run_name;
    UI.crumbs([{ text: "Experiments", href: "/" },
      { text: s.experiment_name, href: UI.experimentUrl(s.experiment_id) }, { text: s.run_name }]);
    clear(meta).append(UI.badge(s.status), " ", fmtDuration(s.start_time, s.end_time),
      " · last update ", el("span", { id: "last-update", text: fmtAgo(s.last_update) }),
      " · ", el("a", { href: runUrl(s.run_id), text: "run page" }),
      " · ", el("a", { href: UI.experimentUrl(s.experiment_id), text: "all runs" }));
    clear(counts);
    const box = (label, value, id) => el("div", { class: "count" },
      el("div", { class: "count-value", id, text: value }), el("div", { class: "count-label", text: label }));
    counts.append(box("trials", s.budget ? `${s.total} / ${s.budget}` : String(s.total), "count-total"));
    for (const status of UI.STATUSES) {
      counts.append(box(status.toLowerCase(), String(s.counts[status] || 0), `count-${status}`));
    }
    clear(best);
    if (s.best) {
      best.append("Best ", el("strong", { text: `${s.best.metric} = ${fmtNum(s.best.value)}` }),
        ` (${s.best.goal}) in `, el("a", { href: runUrl(s.best.run_id),
          text: s.best.trial !== null ? `trial #${s.best.trial}` : "a trial" }));
    }
  }

  async function poll() {
    let s;
    try {
      s = await api(`/api/sweeps/${encodeURIComponent(runId)}/status`);
    } catch (error) {
      UI.showError(main, error);
      return;
    }
    render(s);
    if (s.version !== version) {
      version = s.version;
      reloadReport();
    }
    if (s.status === "RUNNING") setTimeout(poll, POLL_MS);
    else showAdvice();
  }

  async function showAdvice() {  // the report's boundary warnings, once the sweep is over
    let a;
    try {
      a = await api(`/api/sweeps/${encodeURIComponent(runId)}/advice`);
    } catch (error) {
      return;  // the report below says the same
    }
    clear(advice);
    for (const text of a.warnings) advice.append(el("li", { text }));
    clear(recheck);
    const v = a.recheck;  // the report's "Re-check" section: the same table and sentence
    if (v) {
      recheck.append(UI.section(`Re-check (${v.metric}, ${v.goal})`,
        el("p", { class: "verdict", text: v.sentence }),
        UI.table(v.head, v.rows.map((row) => el("tr", {}, row.map((cell) => el("td", { text: cell })))))));
    }
  }

  poll();
})();
