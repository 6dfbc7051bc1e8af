// People in the nest, with host actions: co-host, kick, ban, unban, hand over; the host link,
// invite links and ending the nest. Hosts see the secrets; guests see only who is here.

import { errorWords } from "./api.js";
import { $, avatar, h, setText, toast } from "./dom.js";

export function createMembers(ctx, nestCode) {
  const dialog = $("#members-dialog");
  const button = $("#members-btn");
  const body = $("#members-body");
  const base = `/api/nests/${encodeURIComponent(nestCode)}`;
  const api = (method, path, payload) => ctx.api.request(method, `${base}${path}`, payload);

  async function act(label, fn) {
    try {
      await fn();
      toast(label);
      await draw();
    } catch (e) {
      toast(errorWords(e), "error");
    }
  }

  function copyButton(url, text) {
    return h("button", {
      class: "btn btn-ghost btn-sm",
      type: "button",
      text,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(url);
          toast("Link copied");
        } catch {
          toast("Copy it from the box");
        }
      },
    });
  }

  function linkBox(url, label) {
    return h("input", { class: "input link-box", type: "text", readonly: true, value: url, "aria-label": label, onfocus: (ev) => ev.target.select() });
  }

  function memberRow(m, isHost, me) {
    const actions = h("div", { class: "member-actions" });
    if (isHost && m.id !== me && !m.is_creator) {
      if (m.is_host) actions.append(h("button", { class: "chip-btn", type: "button", text: "Remove co-host", onclick: () => act("No longer a co-host", () => api("POST", "/admin/demote", { user: m.id })) }));
      else {
        actions.append(
          h("button", { class: "chip-btn", type: "button", text: "Make co-host", onclick: () => act("Co-host added", () => api("POST", "/admin/promote", { user: m.id })) }),
          h("button", { class: "chip-btn danger", type: "button", text: "Kick", dataset: { kick: m.id }, onclick: () => act(`${m.name} was removed`, () => api("POST", "/admin/kick", { user: m.id })) }),
          h("button", { class: "chip-btn danger", type: "button", text: "Ban", onclick: () => act(`${m.name} was banned`, () => api("POST", "/admin/ban", { user: m.id })) }),
        );
      }
      if (ctx.me.id === ctx.nestInfo.created_by && !ctx.nestInfo.is_main) {
        actions.append(h("button", { class: "chip-btn", type: "button", text: "Hand over", onclick: () => act(`${m.name} runs the nest now`, () => api("POST", "/admin/handover", { user: m.id })) }));
      }
    }
    const tags = [m.is_creator ? "creator" : m.is_host ? "co-host" : "", m.live ? "" : "away"].filter(Boolean).join(" · ");
    return h("li", { class: "member", dataset: { user: m.id } }, avatar(m.id, { name: m.name, url: m.avatar_url, size: "sm" }), h("span", { class: "member-name", text: m.id === me ? `${m.name} (you)` : m.name }), h("span", { class: "member-tag", text: tags }), actions);
  }

  async function hostSection() {
    const out = [];
    const link = await api("GET", "/admin/host-link");
    out.push(
      h("h3", { class: "panel-title", text: "Host link" }),
      h("p", { class: "setting-help", text: "Whoever opens this link becomes a host — use it on your other devices. Keep it secret; make a new one to revoke it." }),
      h("div", { class: "link-row" }, linkBox(link.url, "Host link"), copyButton(link.url, "Copy"), h("button", { class: "btn btn-ghost btn-sm", type: "button", text: "New link", onclick: () => act("The old host link no longer works", () => api("POST", "/admin/host-link")) })),
    );
    if (ctx.hosting.settings.visibility === "invite_only") {
      const { invites } = await api("GET", "/admin/invites");
      const list = h("ul", { class: "invite-list" }, ...invites.map((inv) => h("li", {}, linkBox(inv.url, "Invite link"), copyButton(inv.url, "Copy"), h("button", { class: "chip-btn danger", type: "button", text: "Revoke", onclick: () => act("Invite revoked", () => api("DELETE", `/admin/invites/${encodeURIComponent(inv.token)}`)) }))));
      out.push(h("h3", { class: "panel-title", text: "Invites" }), h("p", { class: "setting-help", text: "This nest is invite-only: people need one of these links to join." }), list, h("button", { class: "btn btn-ghost btn-sm", type: "button", text: "New invite link", onclick: () => act("Invite link made", () => api("POST", "/admin/invites")) }));
    }
    if (!ctx.nestInfo.is_main) {
      let armed = null;
      const end = h("button", { class: "btn btn-danger", type: "button", id: "end-nest-btn", text: "End this nest" });
      end.addEventListener("click", async () => {
        if (!armed) {
          setText(end, "Tap again to end it for everyone");
          armed = setTimeout(() => {
            armed = null;
            setText(end, "End this nest");
          }, 4000);
          return;
        }
        clearTimeout(armed);
        try {
          await ctx.api.request("DELETE", base);
        } catch (e) {
          toast(errorWords(e), "error");
        }
      });
      out.push(h("div", { class: "dialog-actions" }, end));
    }
    return out;
  }

  async function draw() {
    const isHost = Boolean(ctx.hosting.is_host);
    let data;
    try {
      data = await api("GET", isHost ? "/admin/members" : "/members");
    } catch (e) {
      body.replaceChildren(h("p", { class: "inline-error", text: errorWords(e) }));
      return;
    }
    const me = ctx.me.id;
    const parts = [h("ul", { class: "member-list" }, ...data.members.map((m) => memberRow(m, isHost, me)))];
    if (isHost && data.blocked && data.blocked.length) {
      parts.push(
        h("h3", { class: "panel-title", text: "Kicked and banned" }),
        h("ul", { class: "member-list" }, ...data.blocked.map((b) => h("li", { class: "member" }, h("span", { class: "member-name", text: b.name }), h("span", { class: "member-tag", text: b.ban ? "banned" : `kicked until ${new Date(b.until * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` }), h("button", { class: "chip-btn", type: "button", text: "Let back in", onclick: () => act(`${b.name} may join again`, () => api("POST", "/admin/unban", { user: b.user })) })))),
      );
    }
    if (isHost) {
      try {
        parts.push(...(await hostSection()));
      } catch (e) {
        parts.push(h("p", { class: "inline-error", text: errorWords(e) }));
      }
    }
    body.replaceChildren(...parts);
  }

  button?.addEventListener("click", async () => {
    body.replaceChildren(h("p", { class: "setting-help", text: "Loading…" }));
    dialog.showModal();
    await draw();
  });

  return { refresh: () => dialog?.open && draw() };
}
