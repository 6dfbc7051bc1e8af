// Type-ahead search over the catalog, Spotify link/URI paste, one-tap add with a visible "added" state.

import { errorWords } from "./api.js";
import { coverArt, h, icon, mmss, setText } from "./dom.js";

// open.spotify.com/track/ID, /intl-xx/episode/ID, spotify:track:ID, or one of our own local:track: URIs.
export function parseTrackLink(text) {
  const s = String(text || "").trim();
  let m = s.match(/^spotify:(track|episode):([A-Za-z0-9]{22})$/);
  if (m) return `spotify:${m[1]}:${m[2]}`;
  m = s.match(/^https?:\/\/open\.spotify\.com\/(?:intl-[a-z-]+\/)?(track|episode)\/([A-Za-z0-9]{22})(?:[/?#].*)?$/);
  if (m) return `spotify:${m[1]}:${m[2]}`;
  m = s.match(/^local:track:[A-Za-z0-9._-]{1,100}$/);
  if (m) return s;
  return null;
}

function firstImage(images) {
  if (!images) return null;
  if (typeof images === "string") return images;
  if (!Array.isArray(images) || !images.length) return null;
  const pick = images[images.length > 1 ? 1 : 0];
  return typeof pick === "string" ? pick : pick?.url || null;
}

export function createSearch(root, ctx) {
  const input = h("input", {
    class: "search-input",
    id: "search-input",
    type: "search",
    placeholder: window.matchMedia("(max-width: 640px)").matches ? "Search, or paste a Spotify link" : "Search songs and artists — or paste a Spotify link",
    autocomplete: "off",
    spellcheck: "false",
    "aria-label": "Search for a song",
    "aria-controls": "search-results",
  });
  const clearBtn = h("button", { class: "icon-btn search-clear", type: "button", "aria-label": "Close search", hidden: true }, icon("close"));
  const status = h("p", { class: "search-status", role: "status", "aria-live": "polite" });
  const results = h("ul", { class: "search-results", id: "search-results", "aria-label": "Search results" });
  const panel = h("div", { class: "search-panel", hidden: true }, status, results);
  root.append(h("div", { class: "search-box" }, icon("search"), input, clearBtn), panel);

  const queued = new Set();
  let timer = null;
  let controller = null;
  let lastQuery = "";

  function close() {
    input.value = "";
    lastQuery = "";
    panel.hidden = true;
    clearBtn.hidden = true;
    root.classList.remove("is-open");
    results.replaceChildren();
  }

  function resultRow(r) {
    const uri = r.uri;
    const btn = h("button", { class: "btn btn-sm btn-accent add-btn", type: "button", "aria-label": `Add ${r.track_name || "song"} to the queue` }, icon("plus"), h("span", { text: "Add" }));
    const err = h("p", { class: "inline-error", role: "alert", hidden: true });
    const setAdded = () => {
      btn.classList.add("is-added");
      btn.replaceChildren(icon("check"), h("span", { text: "Added" }));
      btn.disabled = true;
    };
    if (queued.has(uri)) setAdded();
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      err.hidden = true;
      btn.classList.add("is-busy");
      try {
        await ctx.api.addSong(uri);
        queued.add(uri);
        setAdded();
      } catch (e) {
        setText(err, errorWords(e));
        err.hidden = false;
        btn.disabled = false;
        if (e.code === "already_queued") setAdded();
      } finally {
        btn.classList.remove("is-busy");
      }
    });
    return h(
      "li",
      { class: "result" },
      coverArt(firstImage(r.images), r.track_name, "art art-sm"),
      h(
        "div",
        { class: "row-text" },
        h("div", { class: "row-title", text: r.track_name || "Untitled" }),
        h("div", { class: "row-artist", text: [r.artist, r.album].filter(Boolean).join(" · ") }),
      ),
      h("span", { class: "result-dur", text: r.duration ? mmss(r.duration) : "" }),
      btn,
      err,
    );
  }

  async function run(q) {
    if (q === lastQuery) return;
    lastQuery = q;
    controller?.abort();
    panel.hidden = false;
    root.classList.add("is-open");
    const link = parseTrackLink(q);
    if (link) {
      setText(status, "Link pasted — add it straight to the queue:");
      results.replaceChildren(resultRow({ uri: link, track_name: link.startsWith("spotify:episode") ? "Spotify episode" : "Song from link", artist: link }));
      return;
    }
    if (q.length < 2) {
      setText(status, "Keep typing…");
      results.replaceChildren();
      return;
    }
    controller = new AbortController();
    setText(status, "Searching…");
    root.classList.add("is-loading");
    try {
      const data = await ctx.api.search(q, controller.signal);
      if (q !== lastQuery) return;
      const list = Array.isArray(data) ? data : data?.results || [];
      setText(status, list.length ? `${list.length} result${list.length === 1 ? "" : "s"} for “${q}”` : `Nothing found for “${q}”. Try an artist name.`);
      results.replaceChildren(...list.map(resultRow));
    } catch (e) {
      if (e.name === "AbortError") return;
      setText(status, errorWords(e));
      results.replaceChildren();
    } finally {
      root.classList.remove("is-loading");
    }
  }

  input.addEventListener("input", () => {
    const q = input.value.trim();
    clearBtn.hidden = !input.value;
    clearTimeout(timer);
    if (!q) {
      close();
      return;
    }
    timer = setTimeout(() => run(q), parseTrackLink(q) ? 0 : 220);
  });
  // On a phone the keyboard covers half the screen: bring the box and its results to the top.
  input.addEventListener("focus", () => {
    if (window.matchMedia("(max-width: 640px)").matches) root.scrollIntoView({ block: "start" });
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") close();
    if (ev.key === "Enter") {
      clearTimeout(timer);
      run(input.value.trim());
    }
  });
  clearBtn.addEventListener("click", () => {
    close();
    input.focus();
  });

  // Keep the "Added" marks honest: a song that left the queue can be added again.
  function syncQueued(uris) {
    for (const u of [...queued]) if (!uris.has(u)) queued.delete(u);
    for (const u of uris) queued.add(u);
  }

  return { focus: () => input.focus(), close, syncQueued };
}
