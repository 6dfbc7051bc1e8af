// The page tells the truth: an ended nest (or being removed) replaces the page with a screen and a
// way back; a lost connection shows a banner and marks live numbers stale until it recovers.

import { $, setText } from "./dom.js";

const SCREENS = {
  ended: ["This nest has ended", "The host ended the party, or it closed after everyone left. The Home Nest is always open."],
  kicked: ["A host removed you from this nest", "You can come back later if the host lets you."],
  banned: ["A host banned you from this nest", "The Home Nest is always open."],
  invite_required: ["This nest is invite-only", "Ask a host for an invite link."],
};

export function createPageState({ onEnd } = {}) {
  const screen = $("#ended-screen");
  const banner = $("#conn-banner");
  let endedAs = null;
  let staleTimer = null;

  // kind: "ended" | "kicked" | "banned" | "invite_required"; detail: the server's own words.
  function end(kind, detail) {
    if (endedAs) return;
    endedAs = kind;
    const [title, lead] = SCREENS[kind] || SCREENS.ended;
    setText($("#ended-title"), title);
    setText($("#ended-lead"), detail || lead);
    document.body.classList.add("is-ended");
    if (screen) screen.hidden = false;
    if (banner) banner.hidden = true;
    for (const dlg of document.querySelectorAll("dialog[open]")) dlg.close();
    onEnd?.(kind);
    $("#ended-back")?.focus();
  }

  // Status from the socket: "live" | "connecting" | "offline". A blip shorter than 2 s stays quiet.
  function connection(status) {
    if (endedAs) return;
    if (status === "live") {
      clearTimeout(staleTimer);
      staleTimer = null;
      document.body.classList.remove("is-stale");
      if (banner) banner.hidden = true;
      return;
    }
    if (staleTimer || document.body.classList.contains("is-stale")) return;
    staleTimer = setTimeout(() => {
      staleTimer = null;
      document.body.classList.add("is-stale");
      if (banner) banner.hidden = false;
    }, 2000);
  }

  return { end, connection, ended: () => endedAs };
}

// Which screen a failed refetch means: gone → ended; refused at the door → why.
export function endingFor(err) {
  if (!err) return null;
  if (err.status === 404 || err.code === "not_found") return "ended";
  if (["kicked", "banned", "invite_required"].includes(err.code)) return err.code;
  return null;
}
