// The big now-playing card: art, title, adder, smooth progress from the server clock, jam, comments.

import { errorWords } from "./api.js";
import { $, avatar, coverArt, displayName, h, icon, mmss, setText, toast, updateArt } from "./dom.js";
import { createComments } from "./comments.js";

export function createNowPlaying(root, ctx) {
  const art = coverArt(null, "", "art art-xl");
  const glow = h("img", { class: "now-glow", alt: "", "aria-hidden": "true" });
  glow.addEventListener("error", () => glow.removeAttribute("src"));
  const status = h("span", { class: "now-status", text: "Now playing" });
  const title = h("h1", { class: "now-title", id: "now-title" });
  const artist = h("p", { class: "now-artist" });
  const adder = h("div", { class: "now-adder" });
  const fill = h("div", { class: "progress-fill" });
  const bar = h("div", { class: "progress", role: "progressbar", "aria-label": "Song progress", "aria-valuemin": "0" }, fill);
  const elapsed = h("span", { class: "time-elapsed", text: "0:00" });
  const total = h("span", { class: "time-total", text: "0:00" });
  const jam = h("button", { class: "btn btn-jam", type: "button" }, icon("heart"), h("span", { class: "jam-label", text: "Jam" }), h("span", { class: "jam-count" }));
  const jammers = h("div", { class: "jammers", "aria-label": "Jammers" });
  const pause = h("button", { class: "icon-btn icon-btn-lg", type: "button", title: "Pause for everyone", "aria-label": "Pause for everyone" }, icon("pause"));
  const skip = h("button", { class: "icon-btn icon-btn-lg", type: "button", title: "Skip this song", "aria-label": "Skip this song" }, icon("skip"));
  // "3 of 5 want to skip": an open skip vote on this song (skip_mode "vote").
  const votes = h("p", { class: "skip-votes", role: "status", hidden: true });
  const talk = h("button", { class: "chip-btn talk-btn", type: "button", "aria-expanded": "false" }, icon("chat"), h("span", { class: "talk-count" }));
  const comments = createComments(ctx, () => current?.id, { label: "Say something about this song" });
  comments.el.hidden = true;
  const idle = h(
    "div",
    { class: "now-idle" },
    h("p", { class: "now-idle-title", text: "Silence, for now." }),
    h("p", { class: "now-idle-sub", text: "Add a song and it starts playing for everyone." }),
  );
  const info = h(
    "div",
    { class: "now-info" },
    status,
    title,
    artist,
    adder,
    h("div", { class: "progress-wrap" }, bar, h("div", { class: "times" }, elapsed, total)),
    h("div", { class: "now-controls" }, jam, jammers, h("div", { class: "spacer" }), talk, pause, skip),
    votes,
    comments.el,
  );
  root.append(glow, h("div", { class: "now-grid" }, art, info), idle);
  let current = null;
  let lastPaused = null;

  async function act(button, fn) {
    button.disabled = true;
    try {
      await fn();
    } catch (e) {
      toast(errorWords(e), "error");
    } finally {
      button.disabled = false;
    }
  }
  jam.addEventListener("click", () => current && act(jam, () => ctx.api.jam(current.id)));
  skip.addEventListener("click", () =>
    act(skip, async () => {
      const answer = await ctx.api.skip();
      if (answer && answer.voted && !answer.skipped) toast(`You asked to skip — ${answer.count} of ${answer.needed} so far`);
    }),
  );
  pause.addEventListener("click", () => act(pause, () => (ctx.clock.paused ? ctx.api.resume() : ctx.api.pause())));
  talk.addEventListener("click", () => {
    const open = comments.el.hidden;
    comments.el.hidden = !open;
    talk.setAttribute("aria-expanded", String(open));
    if (open) comments.focus();
  });

  function render(playing) {
    const has = playing && (playing.id !== undefined || playing.title);
    root.classList.toggle("is-idle", !has);
    idle.hidden = Boolean(has);
    $(".now-grid", root).hidden = !has;
    const changed = has && current?.id !== playing.id;
    current = has ? playing : null;
    if (changed) {
      const grid = $(".now-grid", root);
      grid.classList.remove("is-new");
      void grid.offsetWidth;
      grid.classList.add("is-new");
    }
    if (!has) {
      glow.removeAttribute("src");
      document.title = `${ctx.nestInfo.name || "EchoNest"} · EchoNest`;
      return;
    }
    updateArt(art, playing.big_img || playing.img, playing.title);
    const glowSrc = playing.big_img || playing.img || "";
    if (glowSrc && /^(https?:|data:image\/|\/)/.test(glowSrc)) {
      if (glow.getAttribute("src") !== glowSrc) glow.setAttribute("src", glowSrc);
    } else glow.removeAttribute("src");
    setText(title, playing.title || "Untitled");
    setText(artist, [playing.artist, playing.album].filter(Boolean).join(" · "));
    const name = playing.auto ? "Bender" : displayName(playing.user, playing.user_name);
    adder.replaceChildren(avatar(playing.user, { name: playing.user_name, size: "sm", auto: playing.auto }), h("span", { text: `Added by ${name}` }));
    const jams = Array.isArray(playing.jam) ? playing.jam : [];
    const jammed = jams.includes(ctx.me.id);
    jam.classList.toggle("is-on", jammed);
    jam.setAttribute("aria-pressed", String(jammed));
    setText(jam.querySelector(".jam-label"), jammed ? "Jammed" : "Jam");
    setText(jam.querySelector(".jam-count"), jams.length || "");
    jammers.replaceChildren(...jams.slice(0, 8).map((u) => avatar(u, { size: "xs" })));
    if (jams.length > 8) jammers.append(h("span", { class: "jammers-more", text: `+${jams.length - 8}` }));
    jammers.title = jams.map((u) => displayName(u)).join(", ");
    const nComments = Array.isArray(playing.comments) ? playing.comments.length : 0;
    setText(talk.querySelector(".talk-count"), nComments || "");
    talk.setAttribute("aria-label", `Comments (${nComments})`);
    comments.render(playing.comments);
    const sv = playing.skip_votes;
    votes.hidden = !(sv && sv.count > 0);
    setText(votes, sv && sv.count > 0 ? `${sv.count} of ${sv.needed} want to skip` : "");
    document.title = `${playing.title || "EchoNest"} — ${ctx.nestInfo.name || "EchoNest"}`;
    tick();
  }

  function tick() {
    const clock = ctx.clock;
    const paused = clock.paused;
    if (paused !== lastPaused) {
      lastPaused = paused;
      root.classList.toggle("is-paused", paused);
      setText(status, paused ? "Paused" : "Now playing");
      pause.replaceChildren(icon(paused ? "play" : "pause"));
      pause.setAttribute("aria-label", paused ? "Resume for everyone" : "Pause for everyone");
      pause.title = pause.getAttribute("aria-label");
    }
    const pos = clock.position();
    const dur = clock.duration || 0;
    const pct = dur ? Math.min(100, (pos / dur) * 100) : 0;
    fill.style.width = `${pct}%`;
    bar.setAttribute("aria-valuemax", String(Math.round(dur)));
    bar.setAttribute("aria-valuenow", String(Math.round(pos)));
    bar.setAttribute("aria-valuetext", `${mmss(pos)} of ${mmss(dur)}`);
    setText(elapsed, mmss(pos));
    setText(total, mmss(dur));
  }

  return { render, tick, current: () => current };
}
