// The queue list: keyed rows updated in place, moves animated (FLIP), the Bender preview row last.

import { errorWords } from "./api.js";
import { avatar, clockTime, coverArt, displayName, h, icon, knownUser, mmss, setText, toast, updateArt } from "./dom.js";
import { createComments } from "./comments.js";

function jamCount(item) {
  return Array.isArray(item.jam) ? item.jam.length : Number(item.jam) || 0;
}

export function createQueueView(root, ctx) {
  const list = h("ol", { class: "queue-list", "aria-label": "Up next" });
  const empty = h(
    "div",
    { class: "queue-empty" },
    h("p", { class: "queue-empty-title", text: "The queue is empty" }),
    h("p", { class: "queue-empty-sub", text: "Search above and add the first song." }),
  );
  root.append(list, empty);
  const rows = new Map();
  let lastBody = { queue: [], preview: null };

  async function act(button, fn, errorEl) {
    button.disabled = true;
    if (errorEl) errorEl.hidden = true;
    try {
      await fn();
    } catch (e) {
      if (errorEl) {
        setText(errorEl, errorWords(e));
        errorEl.hidden = false;
      } else toast(errorWords(e), "error");
    } finally {
      button.disabled = false;
    }
  }

  function buildRow(item) {
    const art = coverArt(item.img, item.title, "art art-sm");
    const title = h("div", { class: "row-title" });
    const artist = h("div", { class: "row-artist" });
    const adder = h("span", { class: "row-adder" });
    const who = h("span", { class: "row-who" });
    const eta = h("span", { class: "row-eta" });
    const err = h("p", { class: "inline-error", role: "alert", hidden: true });
    const up = h("button", { class: "icon-btn vote-up", type: "button" }, icon("up"));
    const down = h("button", { class: "icon-btn vote-down", type: "button" }, icon("down"));
    const votes = h("span", { class: "vote-count", "aria-live": "polite" });
    const jam = h("button", { class: "chip-btn jam-btn", type: "button" }, icon("heart"), h("span", { class: "jam-count" }));
    const talk = h("button", { class: "chip-btn talk-btn", type: "button", "aria-expanded": "false" }, icon("chat"), h("span", { class: "talk-count" }));
    const remove = h("button", { class: "icon-btn remove-btn", type: "button", title: "Remove from queue", "aria-label": "Remove from queue" }, icon("trash"));
    const comments = createComments(ctx, () => row.item.id);
    comments.el.hidden = true;
    const el = h(
      "li",
      { class: "qrow" },
      h(
        "div",
        { class: "qrow-main" },
        h("span", { class: "row-pos" }),
        art,
        h("div", { class: "row-text" }, title, artist, h("div", { class: "row-meta" }, adder, who, eta)),
        h("div", { class: "row-actions" }, h("div", { class: "vote-group", role: "group", "aria-label": "Vote" }, up, votes, down), jam, talk, remove),
      ),
      err,
      comments.el,
    );
    const row = { el, item, art, title, artist, adder, who, eta, up, down, votes, jam, talk, remove, comments, err };
    // The answer is the item with its `votes`: paint our vote at once, before the live update lands.
    const vote = (button, isUp) => act(button, async () => {
      const updated = await ctx.api.vote(row.item.id, isUp);
      if (updated && String(updated.id) === String(row.item.id) && updated.votes) {
        paint(row, { ...row.item, vote: updated.vote, votes: updated.votes });
      }
    }, err);
    up.addEventListener("click", () => vote(up, true));
    down.addEventListener("click", () => vote(down, false));
    jam.addEventListener("click", () => act(jam, () => ctx.api.jam(row.item.id), err));
    remove.addEventListener("click", () => act(remove, () => ctx.api.remove(row.item.id), err));
    talk.addEventListener("click", () => {
      const open = comments.el.hidden;
      comments.el.hidden = !open;
      talk.setAttribute("aria-expanded", String(open));
      el.classList.toggle("is-open", open);
      if (open) comments.focus();
    });
    return row;
  }

  function paint(row, item) {
    row.item = item;
    row.el.dataset.id = item.id;
    row.el.classList.toggle("is-bender", Boolean(item.auto));
    row.el.classList.toggle("is-mine", item.user === ctx.me.id);
    updateArt(row.art, item.img, item.title);
    setText(row.title, item.title || "Untitled");
    setText(row.artist, [item.artist, item.album].filter(Boolean).join(" · "));
    const name = item.auto ? "Bender" : displayName(item.user, item.user_name);
    const adderKey = `${item.user}|${item.auto}|${name}|${knownUser(item.user)?.avatar_url || ""}`;
    if (row.adder.dataset.user !== adderKey) {
      row.adder.dataset.user = adderKey;
      row.adder.replaceChildren(avatar(item.user, { name: item.user_name, size: "xs", auto: item.auto }));
    }
    setText(row.who, name);
    const mine = ctx.myVote(item);
    const count = Number(item.vote) || 0;
    setText(row.votes, count > 0 ? `+${count}` : String(count));
    row.votes.classList.toggle("is-pos", count > 0);
    row.votes.classList.toggle("is-neg", count < 0);
    row.up.classList.toggle("is-on", mine === 1);
    row.down.classList.toggle("is-on", mine === -1);
    row.up.setAttribute("aria-pressed", String(mine === 1));
    row.down.setAttribute("aria-pressed", String(mine === -1));
    const own = item.user === ctx.me.id && !item.auto;
    row.up.hidden = own;
    row.up.setAttribute("aria-label", `Vote up ${item.title || ""}`);
    row.down.setAttribute("aria-label", `Vote down ${item.title || ""}`);
    row.up.title = "Vote up";
    row.down.title = own ? "Push your own song down" : "Vote down";
    const jams = Array.isArray(item.jam) ? item.jam : [];
    const jammed = jams.includes(ctx.me.id);
    row.jam.classList.toggle("is-on", jammed);
    row.jam.setAttribute("aria-pressed", String(jammed));
    row.jam.setAttribute("aria-label", `${jammed ? "Un-jam" : "Jam"} ${item.title || ""} (${jamCount(item)} jams)`);
    row.jam.title = jams.length ? `Jammed by ${jams.map((u) => displayName(u)).join(", ")}` : "Jam this song";
    setText(row.jam.querySelector(".jam-count"), jamCount(item) || "");
    const nComments = Array.isArray(item.comments) ? item.comments.length : 0;
    setText(row.talk.querySelector(".talk-count"), nComments || "");
    row.talk.setAttribute("aria-label", `Comments (${nComments})`);
    row.remove.hidden = !ctx.canRemove(item);
    row.comments.render(item.comments);
  }

  function buildPreview() {
    const art = coverArt(null, "", "art art-sm");
    const title = h("div", { class: "row-title" });
    const artist = h("div", { class: "row-artist" });
    const err = h("p", { class: "inline-error", role: "alert", hidden: true });
    const queueBtn = h("button", { class: "btn btn-sm btn-accent", type: "button", title: "Add Bender's pick to the queue as yours" }, icon("plus"), h("span", { text: "Queue" }));
    const filterBtn = h("button", { class: "btn btn-sm btn-ghost", type: "button", title: "Bender will not pick this song again" }, icon("filter"), h("span", { text: "Filter" }));
    const el = h(
      "li",
      { class: "qrow is-preview" },
      h(
        "div",
        { class: "qrow-main" },
        h("span", { class: "row-pos" }, icon("robot")),
        art,
        h("div", { class: "row-text" }, title, artist, h("div", { class: "row-meta" }, h("span", { class: "row-who", text: "Bender's next pick" }))),
        h("div", { class: "row-actions" }, queueBtn, filterBtn),
      ),
      err,
    );
    const row = { el, art, title, artist, err, item: null, preview: true };
    queueBtn.addEventListener("click", () => act(queueBtn, () => ctx.api.benderQueue(row.item.uri || row.item.trackid), err));
    filterBtn.addEventListener("click", () => act(filterBtn, () => ctx.api.benderFilter(row.item.uri || row.item.trackid), err));
    return row;
  }

  function paintPreview(row, item) {
    row.item = item;
    updateArt(row.art, item.img, item.title);
    setText(row.title, item.title || "Untitled");
    setText(row.artist, [item.artist, item.album].filter(Boolean).join(" · "));
  }

  function render(body) {
    lastBody = body || lastBody;
    const items = Array.isArray(lastBody.queue) ? lastBody.queue.filter((x) => x && x.id !== undefined) : [];
    const preview = lastBody.preview || null;
    const before = new Map();
    for (const [id, row] of rows) before.set(id, row.el.getBoundingClientRect().top);

    const keep = new Set();
    const ordered = [];
    for (const item of items) {
      const key = `q:${item.id}`;
      keep.add(key);
      let row = rows.get(key);
      const fresh = !row;
      if (fresh) {
        row = buildRow(item);
        rows.set(key, row);
      }
      paint(row, item);
      if (fresh) row.el.classList.add("row-enter");
      ordered.push(row);
    }
    if (preview) {
      const key = "preview";
      keep.add(key);
      let row = rows.get(key);
      if (!row) {
        row = buildPreview();
        rows.set(key, row);
        row.el.classList.add("row-enter");
      }
      paintPreview(row, preview);
      ordered.push(row);
    }
    for (const [key, row] of rows) {
      if (keep.has(key)) continue;
      rows.delete(key);
      // Collapse the leaving row's height too, so the rows below glide up instead of jumping.
      row.el.classList.add("row-leave");
      row.el.style.pointerEvents = "none";
      const height = row.el.offsetHeight;
      const out = row.el.animate(
        [
          { opacity: 1, height: `${height}px`, transform: "translateX(0)" },
          { opacity: 0, height: "0px", paddingTop: "0px", paddingBottom: "0px", marginTop: "0px", transform: "translateX(24px)" },
        ],
        { duration: 260, easing: "ease", fill: "forwards" },
      );
      out.finished.then(() => row.el.remove(), () => row.el.remove());
    }
    // Reorder only nodes that are out of place, so focus and open comment threads survive.
    let cursor = list.firstChild;
    for (const row of ordered) {
      while (cursor && cursor.classList.contains("row-leave")) cursor = cursor.nextSibling;
      if (cursor !== row.el) list.insertBefore(row.el, cursor);
      else cursor = cursor.nextSibling;
    }
    ordered.forEach((row, i) => {
      const pos = row.el.querySelector(".row-pos");
      if (!row.preview) setText(pos, i + 1);
    });
    const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    for (const [key, row] of rows) {
      const top = before.get(key);
      if (top === undefined || reduce) continue;
      const dy = top - row.el.getBoundingClientRect().top;
      if (Math.abs(dy) > 2) row.el.animate([{ transform: `translateY(${dy}px)` }, { transform: "translateY(0)" }], { duration: 320, easing: "cubic-bezier(.2,.8,.2,1)" });
    }
    setTimeout(() => ordered.forEach((r) => r.el.classList.remove("row-enter")), 400);
    empty.hidden = items.length > 0 || Boolean(preview);
    updateEtas();
    return items;
  }

  // ETA = when the current song ends plus everything ahead of this row, as a wall-clock time.
  function updateEtas() {
    let at = ctx.clock.serverNowMs() + ctx.clock.remaining() * 1000;
    const offset = ctx.clock.offsetMs;
    for (const item of lastBody.queue || []) {
      const row = rows.get(`q:${item.id}`);
      if (!row) continue;
      const when = new Date(at - offset);
      setText(row.eta, `${mmss(item.duration)} · ${clockTime(when)}`);
      row.eta.title = `Plays around ${clockTime(when)}`;
      at += (Number(item.duration) || 0) * 1000;
    }
  }

  function totalSeconds() {
    return (lastBody.queue || []).reduce((s, i) => s + (Number(i.duration) || 0), 0);
  }

  return { render, updateEtas, totalSeconds, repaint: () => render(lastBody) };
}
