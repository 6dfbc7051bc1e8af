// A comment thread for one queue item (or the playing song): newest last, text only.

import { errorWords } from "./api.js";
import { avatar, displayName, h, relTime, setText } from "./dom.js";

export function createComments(ctx, getItemId, { label = "Add a comment" } = {}) {
  const list = h("ol", { class: "comment-list", "aria-live": "polite" });
  const empty = h("p", { class: "comment-empty", text: "No comments yet. Say something nice." });
  const input = h("input", { class: "input comment-input", type: "text", maxlength: "500", placeholder: label, "aria-label": label, autocomplete: "off" });
  const err = h("p", { class: "inline-error", role: "alert", hidden: true });
  const send = h("button", { class: "btn btn-accent btn-sm", type: "submit", text: "Post" });
  const form = h("form", { class: "comment-form" }, input, send);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    const id = getItemId();
    if (!text || !id) return;
    send.disabled = true;
    err.hidden = true;
    try {
      await ctx.api.comment(id, text);
      input.value = "";
    } catch (e) {
      setText(err, errorWords(e));
      err.hidden = false;
    } finally {
      send.disabled = false;
    }
  });
  const el = h("div", { class: "comments" }, empty, list, form, err);
  let lastKey = "";

  function render(comments) {
    const items = Array.isArray(comments) ? comments : [];
    // Names can arrive after the comments (a newer users map), so they are part of the key.
    const key = JSON.stringify(items.map((c) => [c, displayName(c.user, c.user_name || c.name)]));
    if (key === lastKey) return;
    lastKey = key;
    empty.hidden = items.length > 0;
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    while (list.firstChild) list.firstChild.remove();
    for (const c of items) {
      const who = displayName(c.user, c.user_name || c.name);
      list.append(
        h(
          "li",
          { class: "comment" },
          avatar(c.user, { name: c.user_name || c.name, size: "sm" }),
          h("div", { class: "comment-body" }, h("span", { class: "comment-who", text: who }), h("span", { class: "comment-time", text: relTime(c.time) }), h("p", { class: "comment-text", text: c.body ?? c.text ?? "" })),
        ),
      );
    }
    if (stick) list.scrollTop = list.scrollHeight;
  }

  return { el, render, focus: () => input.focus() };
}
