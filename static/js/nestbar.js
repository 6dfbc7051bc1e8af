// The nest bar: Build / Join / live nests in Main; name, code, Share + QR, rename, listeners in a temp nest.

import qrcode from "../vendor/qrcode-generator/qrcode.mjs";
import { errorWords } from "./api.js";
import { $, h, icon, setText, toast } from "./dom.js";

export const CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_RE = new RegExp(`^[${CODE_ALPHABET}]{5}$`);

export function normalizeCode(text) {
  const code = String(text || "").trim().toUpperCase();
  return CODE_RE.test(code) ? code : null;
}

export function shareUrl(nest, config) {
  if (nest.share_url) return String(nest.share_url);
  const domain = config.ECHONEST_DOMAIN;
  if (domain) return `https://${domain}/${nest.code}`;
  return `${location.origin}/nest/${encodeURIComponent(nest.code)}`;
}

export function drawQr(canvas, text) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 2;
  const scale = Math.max(4, Math.floor(220 / (n + quiet * 2)));
  const size = (n + quiet * 2) * scale;
  canvas.width = size;
  canvas.height = size;
  const g = canvas.getContext("2d");
  g.fillStyle = "#ffffff";
  g.fillRect(0, 0, size, size);
  g.fillStyle = "#111111";
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) g.fillRect((c + quiet) * scale, (r + quiet) * scale, scale, scale);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `QR code for ${text}`);
}

export async function copyText(text, fallbackInput) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!fallbackInput) return false;
    fallbackInput.focus();
    fallbackInput.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

// The code/link/QR block shared by the Share dialog and the "nest built" step.
function shareBlock(url, code) {
  const link = h("input", { class: "input share-link", type: "text", readonly: true, value: url, "aria-label": "Share link" });
  const copy = h("button", { class: "btn btn-accent", type: "button" }, icon("copy"), h("span", { text: "Copy link" }));
  const canvas = h("canvas", { class: "qr" });
  copy.addEventListener("click", async () => {
    const ok = await copyText(url, link);
    setText(copy.querySelector("span"), ok ? "Copied!" : "Select and copy");
    setTimeout(() => setText(copy.querySelector("span"), "Copy link"), 1800);
  });
  drawQr(canvas, url);
  // Phones have a native share sheet (Messages, WhatsApp, …): offer it where it exists.
  let native = null;
  if (typeof navigator.share === "function") {
    native = h("button", { class: "btn btn-ghost", type: "button" }, icon("share"), h("span", { text: "Share…" }));
    native.addEventListener("click", () => navigator.share({ title: "Join my EchoNest", text: `Join nest ${code} on EchoNest`, url }).catch(() => {}));
  }
  return h(
    "div",
    { class: "share-block" },
    h("div", { class: "share-code", "aria-label": `Nest code ${code}` }, ...String(code).split("").map((ch) => h("span", { text: ch }))),
    h("div", { class: "share-row" }, link, copy, native),
    h("div", { class: "qr-wrap" }, canvas, h("p", { class: "qr-hint", text: "Point a phone camera here to join" })),
  );
}

export function createNestBar(ctx) {
  const nest = ctx.nestInfo;
  const countEl = $("#listener-count");
  const nameEl = $("#nest-name");

  function setCount(n) {
    const value = Math.max(0, Number(n) || 0);
    if (countEl.textContent === String(value)) return;
    setText(countEl, value);
    const pill = $("#listeners");
    pill.classList.remove("bump");
    void pill.offsetWidth;
    pill.classList.add("bump");
  }

  function setNest(meta) {
    if (!meta) return;
    if (meta.name && !nest.is_main) {
      nest.name = meta.name;
      if (nameEl) setText(nameEl, meta.name);
    }
    if (meta.member_count !== undefined) setCount(meta.member_count);
  }

  // Build a Nest (main).
  const buildDialog = $("#build-dialog");
  if ($("#build-btn") && buildDialog) {
    const form = $("#build-form", buildDialog);
    const input = $("#build-name", buildDialog);
    const err = $("#build-error", buildDialog);
    const result = $("#build-result", buildDialog);
    $("#build-btn").addEventListener("click", () => {
      form.hidden = false;
      result.hidden = true;
      result.replaceChildren();
      err.hidden = true;
      input.value = "";
      buildDialog.showModal();
      input.focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const submit = $("button[type=submit]", form);
      submit.disabled = true;
      err.hidden = true;
      try {
        const created = await ctx.api.createNest(input.value.trim());
        const url = shareUrl(created, ctx.config);
        form.hidden = true;
        result.hidden = false;
        result.replaceChildren(
          h("p", { class: "dialog-lead" }, "Your nest ", h("strong", { class: "built-name", text: created.name || `Nest ${created.code}` }), " is live. Share the code:"),
          shareBlock(url, created.code),
          h("a", { class: "btn btn-accent btn-lg go-nest", href: `/nest/${encodeURIComponent(created.code)}` }, h("span", { text: "Go to your nest" })),
        );
      } catch (e) {
        setText(err, errorWords(e));
        err.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
  }

  // Join a Nest (main).
  const joinForm = $("#join-form");
  if (joinForm) {
    const input = $("#join-code");
    const err = $("#join-error");
    input.addEventListener("input", () => {
      const clean = input.value.toUpperCase().replace(/[^A-Z0-9]/g, "").slice(0, 5);
      if (clean !== input.value) input.value = clean;
      err.hidden = true;
    });
    joinForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const code = normalizeCode(input.value);
      if (!code) {
        setText(err, "Codes are 5 characters: letters and digits, no 0, O, 1, I or L.");
        err.hidden = false;
        input.focus();
        return;
      }
      try {
        await ctx.api.request("GET", `/api/nests/${code}`);
      } catch (e) {
        if (e.status === 404) {
          setText(err, `No nest with code ${code} right now.`);
          err.hidden = false;
          return;
        }
        if (e.code === "rate_limited") {
          setText(err, errorWords(e));
          err.hidden = false;
          return;
        }
      }
      location.assign(`/nest/${code}`);
    });
  }

  // Share (temporary nest).
  const shareDialog = $("#share-dialog");
  if ($("#share-btn") && shareDialog) {
    $("#share-btn").addEventListener("click", () => {
      const body = $("#share-body", shareDialog);
      body.replaceChildren(shareBlock(shareUrl(nest, ctx.config), nest.code));
      shareDialog.showModal();
      $(".btn-accent", body)?.focus();
    });
  }

  // Rename (hosts of a temporary nest).
  const renameBtn = $("#rename-btn");
  const renameDialog = $("#rename-dialog");
  if (renameBtn && renameDialog) {
    renameBtn.hidden = !ctx.isHost();
    const form = $("#rename-form", renameDialog);
    const input = $("#rename-name", renameDialog);
    const err = $("#rename-error", renameDialog);
    renameBtn.addEventListener("click", () => {
      input.value = nest.name || "";
      err.hidden = true;
      renameDialog.showModal();
      input.select();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const meta = await ctx.api.renameNest(nest.code, input.value.trim());
        setNest(meta || { name: input.value.trim() });
        renameDialog.close();
        toast("Nest renamed");
      } catch (e) {
        setText(err, errorWords(e));
        err.hidden = false;
      }
    });
  }

  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.addEventListener("click", (ev) => {
      if (ev.target === dialog) dialog.close();
    });
    for (const btn of dialog.querySelectorAll("[data-close]")) btn.addEventListener("click", () => dialog.close());
  }

  return { setCount, setNest };
}

// Live nests with now playing and listener counts (Main).
export function createLiveNests(root, ctx) {
  const list = h("ul", { class: "live-list" });
  const empty = h("p", { class: "live-empty", text: "No other nests right now. Build one for your team!" });
  root.append(h("div", { class: "panel-head" }, h("h2", { class: "panel-title", text: "Live nests" }), h("span", { class: "panel-hint", text: "Jump into another room" })), empty, list);

  async function refresh() {
    let nests = [];
    try {
      const data = await ctx.api.listNests();
      nests = Array.isArray(data) ? data : data?.nests || [];
    } catch {
      return;
    }
    nests = nests.filter((n) => n && n.code && !n.is_main && n.id !== "main");
    nests.sort((a, b) => (Number(b.member_count) || 0) - (Number(a.member_count) || 0));
    empty.hidden = nests.length > 0;
    list.replaceChildren(
      ...nests.map((n) => {
        const np = n.now_playing || n.playing || null;
        const song = np && np.title ? `${np.title}${np.artist ? ` — ${np.artist}` : ""}` : "Nothing playing";
        const count = Number(n.member_count) || 0;
        return h(
          "li",
          {},
          h(
            "a",
            { class: "live-nest", href: `/nest/${encodeURIComponent(n.code)}` },
            h("span", { class: "live-code", text: n.code }),
            h("span", { class: "live-text" }, h("span", { class: "live-name", text: n.name || `Nest ${n.code}` }), h("span", { class: "live-song", text: song })),
            h("span", { class: "live-count", title: `${count} listening` }, icon("people"), h("span", { text: count })),
          ),
        );
      }),
    );
  }
  refresh();
  setInterval(() => document.visibilityState === "visible" && refresh(), 20000);
  return { refresh };
}
