// The airhorn panel: fire a named or random horn, see recent horns, hear them in sync mode.

import { errorWords } from "./api.js";
import { avatar, displayName, h, icon, relTime, rememberUsers, setText } from "./dom.js";

const LABELS = {
  classic: "Classic",
  foghorn: "Foghorn",
  triple: "Triple",
  laser: "Laser",
  siren: "Siren",
  tada: "Ta-da",
  rimshot: "Rimshot",
  "sad-trombone": "Sad trombone",
  bwamp: "Bwamp",
  kazoo: "Kazoo",
};

export const hornLabel = (name) => LABELS[name] || String(name).replace(/[-_]+/g, " ");

export function createAirhorns(root, ctx) {
  const names = Array.isArray(ctx.config.airhorn_names) ? ctx.config.airhorn_names : [];
  const err = h("p", { class: "inline-error", role: "alert", hidden: true });
  const grid = h("div", { class: "horn-grid" });
  const recent = h("ol", { class: "horn-recent", "aria-label": "Recent airhorns" });
  const recentEmpty = h("p", { class: "horn-empty", text: "No horns yet. Be the first." });
  const flash = h("div", { class: "horn-flash", "aria-hidden": "true" });
  document.body.append(flash);

  async function fire(name, btn) {
    btn.disabled = true;
    err.hidden = true;
    try {
      await ctx.api.airhorn(name);
      btn.classList.add("is-fired");
      setTimeout(() => btn.classList.remove("is-fired"), 600);
    } catch (e) {
      setText(err, errorWords(e));
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  }

  for (const name of names) {
    const btn = h("button", { class: "horn-btn", type: "button", dataset: { horn: name }, "aria-label": `Fire the ${hornLabel(name)} airhorn` }, h("span", { text: hornLabel(name) }));
    btn.addEventListener("click", () => fire(name, btn));
    grid.append(btn);
  }
  const random = h("button", { class: "horn-btn horn-random", type: "button" }, icon("shuffle"), h("span", { text: "Random" }));
  random.addEventListener("click", () => fire(names[Math.floor(Math.random() * names.length)], random));
  if (names.length) grid.append(random);

  root.append(
    h("div", { class: "panel-head" }, h("h2", { class: "panel-title" }, icon("horn"), h("span", { text: "Airhorns" })), h("span", { class: "panel-hint", text: "Heard by everyone with sync audio on" })),
    grid,
    err,
    h("h3", { class: "subhead", text: "Recent" }),
    recentEmpty,
    recent,
  );

  let entries = [];
  function renderRecent() {
    recentEmpty.hidden = entries.length > 0;
    recent.replaceChildren(
      ...entries.slice(0, 6).map((e) =>
        h(
          "li",
          { class: "horn-entry" },
          avatar(e.user, { name: e.user_name, size: "xs" }),
          h("span", { class: "horn-who", text: displayName(e.user, e.user_name) }),
          h("span", { class: "horn-name", text: hornLabel(e.name) }),
          h("span", { class: "horn-time", text: relTime(e.time) }),
        ),
      ),
    );
  }

  function setRecent(list) {
    if (!Array.isArray(list)) return;
    for (const e of list) if (e && e.user && e.user_name) rememberUsers({ [e.user]: { name: e.user_name, avatar_url: e.avatar_url } });
    entries = list.filter((e) => e && e.name).slice().sort((a, b) => String(b.time).localeCompare(String(a.time)));
    renderRecent();
  }

  // A horn went off in this nest (airhorn event).
  async function heard(data) {
    if (!data || !data.name) return;
    if (data.user && data.user_name) rememberUsers({ [data.user]: { name: data.user_name, avatar_url: data.avatar_url } });
    entries.unshift({ name: data.name, user: data.user, user_name: data.user_name, time: data.time || new Date().toISOString() });
    entries = entries.slice(0, 20);
    renderRecent();
    setText(flash, `${hornLabel(data.name)}!`);
    flash.classList.remove("is-on");
    void flash.offsetWidth;
    flash.classList.add("is-on");
    await ctx.audio.playHorn(data.name, data.volume);
  }

  setInterval(renderRecent, 30000);
  return { heard, setRecent };
}
