// The model registry: every registered model, or one model's versions (with their runs and
// lineage) and its alias history.
"use strict";

(() => {
  const { el, api, clear, fmtTime, runUrl, sweepUrl, section } = UI;
  const main = UI.app();
  const name = document.body.dataset.model;
  const modelUrl = (n) => `/models/${encodeURIComponent(n)}`;

  async function list() {
    UI.crumbs([{ text: "Models" }]);
    const data = await api("/api/models");
    clear(main);
    main.append(el("h1", { text: "Registered models" }));
    if (!data.models.length) {
      main.append(el("p", { class: "muted", id: "empty" }, "No registered models. Register one with ",
        el("code", { text: "sweeps promote EXPERIMENT" }), " or tracking.register_model."));
      return;
    }
    const rows = data.models.map((m) => el("tr", { "data-name": m.name },
      el("td", {}, el("a", { href: modelUrl(m.name), text: m.name })),
      el("td", { class: "num", text: m.latest_version ?? "" }),
      el("td", { text: Object.entries(m.aliases).map(([a, v]) => `@${a} → ${v}`).join(", ") }),
      el("td", { text: fmtTime(m.last_updated) }),
      el("td", { text: m.description })));
    main.append(UI.table(["Model", "Latest", "Aliases", "Updated", "Description"], rows,
      { class: "grid", id: "models-table" }));
  }

  function lineage(tags) {
    const sweep = tags["lineage.sweep_run_id"] || tags["lineage.parent_run_id"];
    const parts = Object.entries(tags).filter(([k]) => k.startsWith("lineage.")
      && !k.endsWith("run_id")).map(([k, v]) => `${k.slice(8)}=${v}`);
    return [sweep ? el("a", { href: sweepUrl(sweep), class: "sweep-link", text: "sweep" }) : "",
      sweep && parts.length ? " · " : "", parts.join(", ")];
  }

  async function one() {
    UI.crumbs([{ text: "Models", href: "/models" }, { text: name }]);
    const model = await api(`/api/models/${encodeURIComponent(name)}`);
    clear(main);
    main.append(el("h1", { id: "model-name", text: model.name }));
    if (model.description) main.append(el("p", { class: "meta", text: model.description }));
    const versions = model.versions.map((v) => el("tr", { "data-version": v.version },
      el("td", { class: "num", text: v.version }),
      el("td", { text: v.aliases.map((a) => `@${a}`).join(", ") }),
      el("td", { text: fmtTime(v.created) }),
      el("td", {}, v.run_id ? el("a", { href: runUrl(v.run_id), class: "run-link", text: v.run_id }) : ""),
      el("td", {}, lineage(v.tags))));
    main.append(section("Versions", UI.table(["Version", "Aliases", "Created", "Run", "Lineage"],
      versions, { class: "grid", id: "versions-table" })));
    const moves = model.history.map((h) => el("tr", {},
      el("td", { text: fmtTime(h.time) }), el("td", { text: `@${h.alias}` }),
      el("td", { class: "num", text: h.from_version ?? "–" }),
      el("td", { class: "num", text: h.to_version ?? "–" }),
      el("td", { text: h.user }), el("td", { text: h.reason })));
    main.append(section("Alias history", moves.length
      ? UI.table(["When", "Alias", "From", "To", "By", "Reason"], moves, { class: "grid", id: "history-table" })
      : el("p", { class: "muted", text: "No alias was ever set." })));
    if (Object.keys(model.tags).length) main.append(section("Tags", UI.kvTable(model.tags)));
  }

  (name ? one() : list()).catch((error) => { clear(main); UI.showError(main, error); });
})();
