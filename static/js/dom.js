// Tiny DOM helpers. Every piece of data goes in through textContent or setAttribute: never innerHTML.

const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") el.textContent = String(value);
    else if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function setText(el, value) {
  const text = value === null || value === undefined ? "" : String(value);
  if (el.textContent !== text) el.textContent = text;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

// Icons are fixed path data from this file, so building them from strings is safe.
const ICONS = {
  up: "M12 5l7 8h-4.5v6h-5v-6H5z",
  down: "M12 19l-7-8h4.5V5h5v6H19z",
  heart: "M12 21s-7.5-4.6-9.5-9.2C1.2 8.6 3.3 5 6.9 5c2 0 3.5 1.1 5.1 3 1.6-1.9 3.1-3 5.1-3 3.6 0 5.7 3.6 4.4 6.8C19.5 16.4 12 21 12 21z",
  trash: "M9 3h6l1 2h4v2H4V5h4zm-3 6h12l-1 12H7z",
  chat: "M4 4h16v12H8l-4 4z",
  search: "M10.5 3a7.5 7.5 0 015.9 12.1l4.3 4.3-1.4 1.4-4.3-4.3A7.5 7.5 0 1110.5 3zm0 2a5.5 5.5 0 100 11 5.5 5.5 0 000-11z",
  plus: "M11 4h2v7h7v2h-7v7h-2v-7H4v-2h7z",
  check: "M9.5 16.2L5.3 12l-1.4 1.4 5.6 5.6L20.1 8.4 18.7 7z",
  share: "M18 8a3 3 0 10-2.8-4H15a3 3 0 00.1 1.1L8.6 8.4a3 3 0 100 7.2l6.5 3.3A3 3 0 1018 16a3 3 0 00-2.1.9l-6.3-3.2a3 3 0 000-3.4l6.3-3.2A3 3 0 0018 8z",
  people: "M9 11a4 4 0 110-8 4 4 0 010 8zm7 0a3 3 0 110-6 3 3 0 010 6zM1 20c0-3.9 3.6-6 8-6s8 2.1 8 6zm17 0c0-1.9-.7-3.5-1.9-4.6 3 .3 5.9 1.8 5.9 4.6z",
  skip: "M5 5l9 7-9 7zm10 0h3v14h-3z",
  pause: "M6 5h4v14H6zm8 0h4v14h-4z",
  play: "M7 4l13 8-13 8z",
  horn: "M3 10v4h3l7 5V5L6 10zm13-2a5 5 0 010 8l-1.2-1.6a3 3 0 000-4.8zm2.4-3.2a9 9 0 010 14.4L17.2 17.6a7 7 0 000-11.2z",
  palette: "M12 3a9 9 0 000 18c1.1 0 1.7-.8 1.7-1.6 0-.9-.7-1.2-.7-2.1 0-.9.7-1.6 1.6-1.6H17a4 4 0 004-4c0-4.8-4-8.7-9-8.7zM7 13a1.5 1.5 0 110-3 1.5 1.5 0 010 3zm3-4a1.5 1.5 0 110-3 1.5 1.5 0 010 3zm4 0a1.5 1.5 0 110-3 1.5 1.5 0 010 3zm3 4a1.5 1.5 0 110-3 1.5 1.5 0 010 3z",
  close: "M6.4 5L12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
  edit: "M4 17.2V20h2.8l8.3-8.3-2.8-2.8zM18.7 8.1a1 1 0 000-1.4l-1.4-1.4a1 1 0 00-1.4 0l-1.2 1.2 2.8 2.8z",
  home: "M12 3l9 8h-3v9h-5v-6h-2v6H6v-9H3z",
  robot: "M11 2h2v3h4a3 3 0 013 3v8a3 3 0 01-3 3H7a3 3 0 01-3-3V8a3 3 0 013-3h4zM9 10a1.5 1.5 0 100 3 1.5 1.5 0 000-3zm6 0a1.5 1.5 0 100 3 1.5 1.5 0 000-3zm-6 5v1.5h6V15z",
  filter: "M12 2a10 10 0 110 20 10 10 0 010-20zm0 2a8 8 0 00-6.3 12.9L16.9 5.7A8 8 0 0012 4zm6.3 3.1L7.1 18.3A8 8 0 0018.3 7.1z",
  headphones: "M12 3a9 9 0 00-9 9v6a3 3 0 003 3h2v-8H5v-1a7 7 0 0114 0v1h-3v8h2a3 3 0 003-3v-6a9 9 0 00-9-9z",
  copy: "M8 3h11a2 2 0 012 2v11h-2V5H8zM5 7h10a2 2 0 012 2v10a2 2 0 01-2 2H5a2 2 0 01-2-2V9a2 2 0 012-2z",
  shuffle: "M16 3h5v5l-1.8-1.8-4 4-1.4-1.4 4-4zM3 5.4L4.4 4 20 19.6 18.6 21zM14 15.4l1.4-1.4 3.8 3.8L21 16v5h-5l1.8-1.8z",
};

export function icon(name, label) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name] || "");
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  if (!label) return svg;
  return h("span", { class: "icon-label" }, svg, h("span", { class: "sr-only", text: label }));
}

// Items carry user ids; queue and now-playing bodies carry a `users` map {id: {name, avatar_url}}
// that we remember here, so every view (rows, jammers, comments, horns) shows people by name.
let self = { id: null, name: null };
export function setSelf(id, name) {
  self = { id: id || null, name: name || null };
}

const known = new Map();
const KNOWN_MAX = 2000;
export function rememberUsers(users) {
  if (!users || typeof users !== "object") return;
  for (const [id, info] of Object.entries(users)) {
    if (!info || typeof info.name !== "string" || !info.name) continue;
    known.delete(id); // re-insert: the Map's order doubles as least-recently-seen first
    known.set(id, { name: info.name, avatar_url: typeof info.avatar_url === "string" ? info.avatar_url : "" });
  }
  while (known.size > KNOWN_MAX) known.delete(known.keys().next().value);
}

export function knownUser(user) {
  return known.get(String(user)) || null;
}

export function displayName(user, nameHint) {
  if (!user && !nameHint) return "Someone";
  const s = String(user || "");
  if (self.id && s === self.id) return self.name ? `${self.name} (you)` : "You";
  if (s === "bender") return "Bender";
  if (nameHint) return String(nameHint);
  const info = known.get(s);
  if (info) return info.name;
  if (s.startsWith("guest:")) return "Guest";
  const local = s.includes("@") ? s.split("@")[0] : s;
  return local.replace(/[._-]+/g, " ").trim() || "Someone";
}

export function initials(name) {
  const parts = String(name).trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
  return letters.toUpperCase();
}

function hue(s) {
  let x = 0;
  for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) % 360;
  return x;
}

export function avatar(user, { name, url, size = "md", auto = false } = {}) {
  const label = auto ? "Bender" : displayName(user, name).replace(/ \(you\)$/, "");
  const el = h("span", { class: `avatar avatar-${size}${auto ? " avatar-bot" : ""}`, title: label, role: "img", "aria-label": label });
  if (auto) el.append(icon("robot"));
  else el.textContent = initials(label);
  el.style.setProperty("--avatar-hue", String(hue(user || label)));
  if (!url && !auto) url = known.get(String(user))?.avatar_url || "";
  if (!url || !/^https:\/\//.test(String(url))) return el;
  // A picture that fails to load falls back to the initials.
  const img = h("img", { class: `avatar avatar-${size}`, src: url, alt: label, title: label, loading: "lazy", referrerpolicy: "no-referrer" });
  img.addEventListener("error", () => img.replaceWith(el));
  return img;
}

export function coverArt(src, title, cls = "art") {
  const wrap = h("div", { class: `${cls} art-fallback` });
  wrap.style.setProperty("--art-hue", String(hue(title || "")));
  wrap.append(h("span", { class: "art-letter", text: initials(title || "♪").slice(0, 1) }));
  if (src && /^(https?:|data:image\/|\/)/.test(String(src))) {
    const img = h("img", { src, alt: "", loading: String(src).startsWith("data:") ? "eager" : "lazy", referrerpolicy: "no-referrer" });
    img.addEventListener("error", () => img.remove());
    wrap.append(img);
  }
  return wrap;
}

export function updateArt(wrap, src, title) {
  const img = wrap.querySelector("img");
  const want = src && /^(https?:|data:image\/|\/)/.test(String(src)) ? String(src) : "";
  wrap.style.setProperty("--art-hue", String(hue(title || "")));
  setText(wrap.querySelector(".art-letter"), initials(title || "♪").slice(0, 1));
  if (img && img.getAttribute("src") === want) return;
  if (img) img.remove();
  if (want) {
    const next = h("img", { src: want, alt: "", referrerpolicy: "no-referrer" });
    next.addEventListener("error", () => next.remove());
    wrap.append(next);
  }
}

export function mmss(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export function clockTime(date) {
  return date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

export function relTime(iso, nowMs = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "";
  const s = Math.max(0, Math.round((nowMs - t) / 1000));
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

export function toast(message, kind = "info") {
  const host = document.getElementById("toasts");
  if (!host) return;
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", text: message });
  host.append(el);
  setTimeout(() => el.classList.add("toast-out"), 3600);
  setTimeout(() => el.remove(), 4200);
}

// The page's boot data: the JSON tag the server renders (no inline script; see main.html).
export function readBoot() {
  try {
    return JSON.parse(document.getElementById("echonest-boot").textContent || "{}");
  } catch {
    return {};
  }
}
