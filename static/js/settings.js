// The host's settings panel, drawn from the server's one declaration (schema): a row per setting.

import { errorWords } from "./api.js";
import { $, h, setText, toast } from "./dom.js";

// Every setting's value: what the host changed, over the declared defaults.
export function resolveSettings(schema, stored) {
  const out = {};
  for (const row of schema || []) out[row.name] = row.default;
  if (stored && typeof stored === "object") {
    for (const row of schema || []) if (Object.hasOwn(stored, row.name) && !row.fixed) out[row.name] = stored[row.name];
  }
  return out;
}

// Hosts in the order the server lists them: the creator (not on the Home Nest), then co-hosts.
export function hostsOf(meta, isMain) {
  const co = Array.isArray(meta.hosts) ? meta.hosts.filter((x) => typeof x === "string") : [];
  const first = !isMain && meta.created_by ? [meta.created_by] : [];
  return [...first, ...co.filter((x) => !first.includes(x))];
}

const CHOICE_WORDS = { anyone: "Anyone", hosts: "Hosts only", vote: "By vote", listed: "Listed", unlisted: "Unlisted", invite_only: "Invite only" };

function field(row, value) {
  const id = `setting-${row.name}`;
  let input;
  if (row.type === "choice") {
    input = h("select", { class: "input", id, name: row.name }, ...row.choices.map((c) => h("option", { value: c, text: CHOICE_WORDS[c] || c })));
    input.value = value;
  } else if (row.type === "bool") {
    input = h("input", { type: "checkbox", id, name: row.name });
    input.checked = Boolean(value);
  } else {
    input = h("input", { class: "input", type: "number", id, name: row.name, min: row.min, max: row.max, step: row.type === "float" ? "any" : "1" });
    input.value = String(value);
  }
  if (row.fixed) input.disabled = true;
  return h("div", { class: `setting-row setting-${row.type}`, dataset: { setting: row.name } }, h("label", { for: id, class: "field-label", text: row.label }), input, h("p", { class: "setting-help", text: row.help }));
}

function readValue(row, form) {
  const input = form.elements[row.name];
  if (!input) return undefined;
  if (row.type === "bool") return input.checked;
  if (row.type === "choice") return input.value;
  const n = Number(input.value);
  return row.type === "int" ? Math.round(n) : n;
}

export function createSettingsPanel(ctx, nestCode, onChange) {
  const hosting = ctx.hosting;
  const dialog = $("#settings-dialog");
  const button = $("#settings-btn");
  const body = $("#settings-body");

  function draw() {
    const form = h("form", { class: "dialog-form settings-form", id: "settings-form", novalidate: true });
    for (const row of hosting.schema || []) form.append(field(row, hosting.settings[row.name]));
    const err = h("p", { class: "inline-error", role: "alert", hidden: true });
    form.append(err, h("div", { class: "dialog-actions" }, h("button", { class: "btn btn-ghost", type: "button", "data-close": true, text: "Close", onclick: () => dialog.close() }), h("button", { class: "btn btn-accent", type: "submit", text: "Save settings" })));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const changes = {};
      for (const row of hosting.schema || []) {
        if (row.fixed) continue;
        const value = readValue(row, form);
        if (value !== undefined && value !== hosting.settings[row.name]) changes[row.name] = value;
      }
      if (!Object.keys(changes).length) {
        dialog.close();
        return;
      }
      try {
        const meta = await ctx.api.request("PATCH", `/api/nests/${encodeURIComponent(nestCode)}`, { settings: changes });
        apply(meta);
        dialog.close();
        toast("Settings saved");
      } catch (e) {
        setText(err, errorWords(e));
        err.hidden = false;
      }
    });
    body.replaceChildren(form);
  }

  function showButton() {
    if (button) button.hidden = !hosting.is_host;
  }

  // nest_update (or a PATCH answer) carries the registry entry: settings and co-hosts.
  function apply(meta) {
    if (!meta || typeof meta !== "object") return;
    // Resolving over the defaults reads both shapes: the event's changed-only settings and the
    // API's full list; hostsOf() likewise (co-hosts only, or creator first).
    hosting.settings = resolveSettings(hosting.schema, meta.settings);
    hosting.hosts = hostsOf(meta, ctx.nestInfo.is_main);
    hosting.is_host = Boolean(ctx.me.id && (hosting.hosts.includes(ctx.me.id) || (ctx.me.is_admin && ctx.nestInfo.is_main)));
    if (meta.created_by) ctx.nestInfo.created_by = meta.created_by;
    showButton();
    if (dialog?.open) draw();
    onChange?.(hosting);
  }

  button?.addEventListener("click", () => {
    draw();
    dialog.showModal();
  });
  showButton();
  return { apply, settings: () => hosting.settings };
}
