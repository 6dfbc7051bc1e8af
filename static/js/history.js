// What played in this nest and who added it, exportable as M3U and JSON (server-made files).

import { errorWords } from "./api.js";
import { $, h, relTime } from "./dom.js";

export function createHistory(ctx, nestCode) {
  const dialog = $("#history-dialog");
  const button = $("#history-btn");
  const body = $("#history-body");
  const base = `/api/nests/${encodeURIComponent(nestCode)}`;

  async function draw() {
    let data;
    try {
      data = await ctx.api.request("GET", `${base}/history`);
    } catch (e) {
      body.replaceChildren(h("p", { class: "inline-error", text: errorWords(e) }));
      return;
    }
    const plays = Array.isArray(data.plays) ? data.plays : [];
    const list = plays.length
      ? h("ol", { class: "history-list" }, ...plays.map((p) => h("li", { class: "history-row" }, h("span", { class: "history-title", text: p.title || p.uri }), h("span", { class: "history-meta", text: `${p.artist || ""} · added by ${p.added_by} · ${relTime(p.played_at)}` }))))
      : h("p", { class: "setting-help", text: "Nothing has finished playing here yet." });
    body.replaceChildren(
      list,
      h(
        "div",
        { class: "dialog-actions" },
        h("a", { class: "btn btn-ghost", href: `${base}/history.m3u`, download: `${nestCode}.m3u`, text: "Export M3U" }),
        h("a", { class: "btn btn-ghost", href: `${base}/history?download=1`, download: `${nestCode}-history.json`, text: "Export JSON" }),
      ),
    );
  }

  button?.addEventListener("click", async () => {
    body.replaceChildren(h("p", { class: "setting-help", text: "Loading…" }));
    dialog.showModal();
    await draw();
  });
}
