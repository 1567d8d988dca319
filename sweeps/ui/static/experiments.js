// The experiments page: each experiment with its run counts and last activity.
"use strict";

(() => {
  const { el, api, clear, fmtAgo, fmtTime, experimentUrl } = UI;
  const main = UI.app();
  UI.crumbs([{ text: "Experiments" }]);
  const title = el("h1", { text: "Experiments" });
  const body = el("div", { id: "experiments" });
  main.append(title, body);

  async function load() {
    let data;
    try {
      data = await api("/api/experiments");
    } catch (error) {
      clear(body);
      UI.showError(body, error);
      return;
    }
    clear(body);
    if (!data.experiments.length) {
      body.append(el("p", { class: "muted", id: "empty" },
        "No experiments yet in ", el("code", { text: data.root }),
        ". Start a sweep (", el("code", { text: "sweeps run configs/quickstart.yaml" }),
        "); this page refreshes by itself."));
      return;
    }
    const rows = data.experiments.map((e) => el("tr", { "data-id": e.experiment_id },
      el("td", {}, el("a", { href: experimentUrl(e.experiment_id), text: e.name })),
      el("td", { class: "num", text: e.run_count }),
      el("td", { class: "num", text: e.top_level_count }),
      el("td", { class: "num", text: e.sweep_count }),
      el("td", { class: "num" }, e.running_count ? UI.badge("RUNNING") : "", " ",
        e.running_count ? String(e.running_count) : "0"),
      el("td", { title: fmtTime(e.last_activity), text: fmtAgo(e.last_activity) })));
    body.append(UI.table(["Experiment", "Runs", "Top-level", "Sweeps", "Running", "Last activity"],
      rows, { class: "grid", id: "experiments-table" }));
  }

  load();
  setInterval(load, 5000);
})();
