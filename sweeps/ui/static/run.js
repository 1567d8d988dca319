// A run's page: params, metrics with step charts, tags, note, source, children, artifacts.
"use strict";

(() => {
  const { el, api, clear, fmtNum, fmtTime, fmtDuration, fmtBytes, runUrl, sweepUrl, section } = UI;
  const runId = document.body.dataset.run;
  const main = UI.app();
  const base = `/api/runs/${encodeURIComponent(runId)}`;
  const MAX_CHARTS = 12;

  async function load() {
    let run;
    try {
      run = await api(base);
    } catch (error) {
      UI.crumbs([{ text: "Experiments", href: "/" }, { text: "Run" }]);
      UI.showError(main, error);
      return;
    }
    const info = run.info;
    UI.crumbs([{ text: "Experiments", href: "/" },
      { text: info.experiment_name, href: UI.experimentUrl(info.experiment_id) },
      ...(run.parent ? [{ text: run.parent.run_name, href: parentUrl(run) }] : []),
      { text: info.run_name }]);
    main.append(
      el("h1", { id: "run-name", text: info.run_name }),
      el("p", { class: "meta" }, UI.badge(info.status),
        " started ", fmtTime(info.start_time), " · ", fmtDuration(info.start_time, info.end_time),
        " · id ", el("code", { text: info.run_id }),
        run.is_sweep ? [" · ", el("a", { href: sweepUrl(info.run_id), id: "sweep-link", text: "sweep page (live report)" })] : "",
        run.parent ? [" · ", run.is_trial ? "trial of " : "child of ", el("a", { href: parentUrl(run), text: run.parent.run_name })] : ""),
    );
    if (run.failure) main.append(failureSection(run.failure));
    if (run.model_versions.length) {
      main.append(section("Registered models", el("ul", { id: "model-versions" },
        run.model_versions.map((v) => el("li", {}, el("a", { href: `/models/${encodeURIComponent(v.name)}`,
          text: `${v.name} version ${v.version}` }), v.aliases.length ? ` (${v.aliases.map((a) => "@" + a).join(", ")})` : "")))));
    }
    const grid = el("div", { class: "columns" });
    grid.append(section("Parameters", UI.kvTable(run.params, "No parameters.")),
      section("Metrics (latest)", metricsTable(run)));
    main.append(grid);
    main.append(chartsSection(run));
    main.append(noteSection(run));
    main.append(tagsSection(run));
    if (run.child_count) main.append(childrenSection(run));
    main.append(artifactsSection());
    const src = run.tag_groups.source;
    const env = run.tag_groups.environment;
    main.append(el("div", { class: "columns" },
      section("Source", UI.kvTable(src, "Not recorded.")),
      section("Environment", UI.kvTable(env, "Not recorded."))));
    if (Object.keys(run.tag_groups.sweep).length) {
      main.append(section(run.is_sweep ? "Sweep settings" : "Trial", UI.kvTable(run.tag_groups.sweep)));
    }
  }

  // A trial's parent is its sweep: its name opens the sweep's page, not the sweep's run page.
  function parentUrl(run) {
    return run.is_trial ? sweepUrl(run.parent.run_id) : runUrl(run.parent.run_id);
  }

  // A failed trial's error, and its traceback when one was saved, first on the page.
  function failureSection(failure) {
    const card = section("Error", el("pre", { class: "error", id: "error-message", text: failure.error }));
    card.classList.add("failure");
    if (failure.traceback) {
      const pre = el("pre", { class: "traceback", id: "traceback", text: "Loading…" });
      card.append(el("h3", { text: "Traceback" }), pre);
      api(`${base}/artifacts/preview?path=${encodeURIComponent(failure.traceback)}`)
        .then((p) => { pre.textContent = p.text || ""; })
        .catch((error) => UI.showError(pre, error));
    }
    return card;
  }

  function metricsTable(run) {
    const keys = Object.keys(run.metrics);
    if (!keys.length) return el("p", { class: "muted", text: "No metrics." });
    const points = Object.fromEntries(run.metric_keys.map((m) => [m.key, m.points]));
    return el("table", { class: "kv" }, el("tbody", {}, keys.map((k) => el("tr", {},
      el("th", { text: k }), el("td", { class: "num", text: fmtNum(run.metrics[k]) }),
      el("td", { class: "muted small", text: `${points[k] || 0} pts` })))));
  }

  function chartsSection(run) {
    const keys = run.metric_keys.filter((m) => m.points > 1);
    const box = el("div", { class: "charts", id: "charts" });
    const card = section("Metric history", keys.length ? box
      : el("p", { class: "muted", text: "No metric has more than one step." }));
    keys.slice(0, MAX_CHARTS).forEach((m) => {
      const holder = el("div", { class: "chart", "data-metric": m.key });
      box.append(holder);
      api(`${base}/metrics/${encodeURIComponent(m.key)}`).then((h) => {
        UI.lineChart(holder, [{ name: m.key, x: h.steps, y: h.values }], { title: m.key });
      }).catch((error) => UI.showError(holder, error));
    });
    if (keys.length > MAX_CHARTS) {
      card.append(el("p", { class: "muted", text: `First ${MAX_CHARTS} of ${keys.length} metrics shown.` }));
    }
    return card;
  }

  function noteSection(run) {
    const view = el("div", { class: "note", id: "note" });
    // note_html is Markdown rendered on the server with raw HTML disabled and unsafe links
    // removed (sweeps.report.markdown); it is the only HTML the UI inserts.
    if (run.note_html) view.innerHTML = run.note_html;
    else view.append(el("p", { class: "muted", text: "No note." }));
    const card = section("Note", view);
    if (run.allow_edits) {
      const area = el("textarea", { id: "note-edit", rows: "5", "aria-label": "Note (Markdown)" });
      area.value = run.note || "";
      const status = el("span", { class: "muted", role: "status" });
      card.append(area, el("div", { class: "toolbar" }, el("button", { id: "note-save", text: "Save note", onclick: async () => {
        try {
          await UI.patch(base, { note: area.value });
          status.textContent = "Saved.";
          location.reload();
        } catch (error) { status.textContent = error.message; }
      } }), status));
    }
    return card;
  }

  function tagsSection(run) {
    const card = section("Tags", UI.kvTable(run.tag_groups.user, "No tags."));
    if (run.allow_edits) {
      const key = el("input", { id: "tag-key", placeholder: "key" });
      const value = el("input", { id: "tag-value", placeholder: "value" });
      const status = el("span", { class: "muted", role: "status" });
      card.append(el("div", { class: "toolbar" }, key, value, el("button", { text: "Set tag", onclick: async () => {
        try {
          await UI.patch(base, { tags: { [key.value]: value.value } });
          location.reload();
        } catch (error) { status.textContent = error.message; }
      } }), status));
    }
    return card;
  }

  function childrenSection(run) {
    const box = el("div", { id: "children" });
    const card = section(`Child runs (${run.child_count})`, box);
    let page = 1;
    async function show() {
      clear(box);
      try {
        const data = await api(`${base}/children`, { page, page_size: 50 });
        const rows = data.rows.map((c) => el("tr", {},
          el("td", { text: c.trial_number ?? "" }),
          el("td", {}, el("a", { href: runUrl(c.run_id), text: c.run_name })),
          el("td", {}, UI.badge(c.status)), el("td", { text: fmtTime(c.start_time) }),
          el("td", { class: "num", text: fmtDuration(c.start_time, c.end_time) })));
        box.append(UI.table(["#", "Name", "Status", "Started", "Duration"], rows));
        if (data.pages > 1) {
          box.append(el("div", { class: "toolbar" },
            el("button", { disabled: page <= 1, text: "‹ Prev", onclick: () => { page -= 1; show(); } }),
            el("span", { text: `Page ${page} of ${data.pages}` }),
            el("button", { disabled: page >= data.pages, text: "Next ›", onclick: () => { page += 1; show(); } })));
        }
      } catch (error) { UI.showError(box, error); }
    }
    show();
    return card;
  }

  function downloadUrl(path, inline) {
    return `${base}/artifacts/download?path=${encodeURIComponent(path)}${inline ? "&inline=1" : ""}`;
  }

  function artifactsSection() {
    const tree = el("ul", { class: "tree", id: "artifact-tree" });
    const preview = el("div", { class: "preview", id: "artifact-preview" },
      el("p", { class: "muted", text: "Select a file to preview it." }));
    const card = section("Artifacts", el("div", { class: "artifacts" }, tree, preview));
    listFolder("", tree, true);
    return card;

    async function listFolder(path, into, top) {
      let data;
      try {
        data = await api(`${base}/artifacts`, { path });
      } catch (error) { UI.showError(into, error); return; }
      if (!data.files.length && top) {
        into.append(el("li", { class: "muted", text: "No artifacts." }));
      }
      for (const f of data.files) {
        if (f.is_dir) {
          const children = el("ul", { class: "tree hidden" });
          let loaded = false;
          const toggle = el("button", { class: "link folder", "data-path": f.path, text: `▸ ${f.name}/` });
          toggle.addEventListener("click", async () => {
            const open = children.classList.toggle("hidden") === false;
            toggle.textContent = `${open ? "▾" : "▸"} ${f.name}/`;
            if (open && !loaded) { loaded = true; await listFolder(f.path, children, false); }
          });
          into.append(el("li", {}, toggle, children));
        } else {
          const open = el("button", { class: "link file", "data-path": f.path, text: f.name });
          open.addEventListener("click", () => showPreview(f));
          into.append(el("li", {}, open, " ", el("span", { class: "muted small", text: fmtBytes(f.size) }), " ",
            el("a", { class: "download", href: downloadUrl(f.path), download: f.name, title: "Download", text: "⤓" })));
        }
      }
    }

    async function showPreview(file) {
      clear(preview);
      preview.append(el("div", { class: "preview-head" }, el("strong", { text: file.path }), " ",
        el("a", { href: downloadUrl(file.path), download: file.name, id: "preview-download", text: "download" })));
      let data;
      try {
        data = await api(`${base}/artifacts/preview`, { path: file.path });
      } catch (error) { UI.showError(preview, error); return; }
      if (data.kind === "image") {
        preview.append(el("img", { src: downloadUrl(file.path, true), alt: file.name, class: "preview-img" }));
      } else if (data.kind === "csv") {
        const rows = data.rows || [];
        preview.append(UI.table(rows[0] || [], rows.slice(1).map((r) => el("tr", {}, r.map((c) => el("td", { text: c })))),
          { class: "grid csv" }));
      } else if (data.kind === "json" || data.kind === "text") {
        preview.append(el("pre", { class: "text-preview", text: data.text }));
      } else {
        preview.append(el("p", { class: "muted", text: "No preview for this file type; download it instead." }));
      }
      if (data.truncated) preview.append(el("p", { class: "muted", text: "Preview truncated." }));
    }
  }

  load();
})();
