// EchoNest page entry: reads the server-rendered boot data, wires the views, keeps them live over the socket.

import { createApi, errorWords } from "./api.js";
import { createAirhorns } from "./airhorns.js";
import { createClockSync } from "./clocksync.js";
import { createHostTools } from "./hosttools.js";
import { createPlayAlong } from "./playalong.js";
import { $, avatar, readBoot, icon, mmss, rememberUsers, setSelf, setText, toast } from "./dom.js";
import { createLiveNests, createNestBar } from "./nestbar.js";
import { createNowPlaying } from "./nowplaying.js";
import { NestClock, SyncAudio } from "./player.js";
import { createQueueView } from "./queue.js";
import { createSearch } from "./search.js";
import { createSyncPlayer } from "./syncplayer.js";
import { connectSocket } from "./socket.js";
import { createSettingsPanel } from "./settings.js";
import { createMembers } from "./members.js";
import { createHistory } from "./history.js";
import { createPageState, endingFor } from "./pagestate.js";
import { currentTheme, nextTheme } from "./themes.js";

const boot = readBoot();
const nestInfo = boot.nest_info || { id: "main", code: "main", name: "Home Nest", is_main: true };
window.NEST_ID = boot.nest_id || nestInfo.id || "main";
window.NEST_INFO = nestInfo;
const me = boot.user || {};
setSelf(me.id, me.name);
const config = boot.config || {};
const nestCode = window.NEST_ID === "main" ? "main" : nestInfo.code || window.NEST_ID;

// Votes used to be remembered per browser; the server now says who voted, so drop the leftovers.
try {
  localStorage.removeItem(`echonest.votes.${window.NEST_ID}`);
} catch {
  /* storage unavailable: nothing to tidy */
}

const ctx = {
  api: createApi({ csrfToken: boot.csrf_token, nestCode }),
  me,
  nestInfo,
  config,
  hosting: boot.hosting || { settings: {}, schema: [], hosts: [], is_host: false },
  isHost: () => Boolean(ctx.hosting.is_host),
  clock: new NestClock(),
  audio: new SyncAudio(),
  // The server clock over the socket (NTP-style), and this device's synchronized playback.
  timeSync: createClockSync((action) => (socket ? socket.send(action) : Promise.reject(new Error("no socket")))),
  // Every item lists its voters ({user: 1 | -1}), so my vote follows me to every device.
  myVote(item) {
    const votes = item && item.votes;
    if (!votes || typeof votes !== "object" || !me.id || !Object.hasOwn(votes, me.id)) return 0;
    return Math.sign(Number(votes[me.id])) || 0;
  },
  canRemove(item) {
    if (!item || !me.id) return false;
    return item.user === me.id || ctx.isHost() || ctx.hosting.settings.remove_mode === "anyone";
  },
};

ctx.sync = createSyncPlayer(ctx.audio, ctx.timeSync);

const nowView = createNowPlaying($("#now"), ctx);
const queueView = createQueueView($("#queue"), ctx);
const search = createSearch($("#search"), ctx);
const horns = createAirhorns($("#airhorns"), ctx);
const bar = createNestBar(ctx);
const live = $("#live-nests") ? createLiveNests($("#live-nests"), ctx) : null;
const host = createHostTools(ctx, nestCode);
const playAlong = createPlayAlong(ctx, () => nowView.current());
const page = createPageState({ onEnd: () => socket?.close() });
const members = createMembers(ctx, nestCode);
const settingsPanel = createSettingsPanel(ctx, nestCode, () => host.nestUpdated(ctx.nestInfo));
createHistory(ctx, nestCode);

for (const el of document.querySelectorAll("[data-icon]")) el.prepend(icon(el.dataset.icon));
const meSlot = $("#me");
if (meSlot && me.id) meSlot.replaceChildren(avatar(me.id, { name: me.name, url: me.avatar_url, size: "sm" }));

let lastPlayingId = null;

function applyPlaying(playing) {
  rememberUsers(playing && playing.users);
  const before = ctx.clock.position();
  ctx.clock.update(playing || { paused: true, now: new Date().toISOString() });
  if (!playing || playing.id === undefined) ctx.clock.duration = 0;
  nowView.render(playing);
  ctx.sync.update(playing);
  const id = playing && playing.id !== undefined ? `${playing.id}` : null;
  if (id !== lastPlayingId) {
    lastPlayingId = id;
    if (id) playAlong.songChanged(playing);
  } else if (id) playAlong.clockJumped(playing, before);
  queueView.updateEtas();
}

// Snapshots and events can cross on the wire: never let an older queue replace a newer one.
let queueVersion = -1;
function applyQueue(body) {
  if (!body) return;
  if (typeof body.version === "number") {
    if (body.version < queueVersion) return;
    queueVersion = body.version;
  }
  rememberUsers(body.users);
  const items = queueView.render(body);
  ctx.sync.upNext(items[0]);
  search.syncQueued(new Set(items.map((i) => i.uri || i.trackid)));
  const secs = queueView.totalSeconds();
  setText($("#queue-summary"), items.length ? `${items.length} song${items.length === 1 ? "" : "s"} · ${mmss(secs)}` : "");
  if (typeof body.version === "number") socket?.setVersion(body.version);
}

// One refetch at a time; a request that arrives mid-flight runs once more afterwards, because
// the snapshot already on its way may predate whatever made us ask.
let refetching = null;
let refetchAgain = false;
function refetchAll() {
  if (refetching) {
    refetchAgain = true;
    return refetching;
  }
  refetching = Promise.allSettled([
    ctx.api.queue().then(applyQueue),
    ctx.api.playing().then(applyPlaying),
    // Horns fired before this page opened (or while its socket was down).
    ctx.api.airhorns().then((body) => horns.setRecent(body && body.airhorns)),
  ])
    .then((results) => {
      const failed = results.find((r) => r.status === "rejected");
      const ending = failed && endingFor(failed.reason);
      if (ending) page.end(ending, ending === "ended" ? "" : failed.reason.message);
    })
    .finally(() => {
      refetching = null;
      if (refetchAgain) {
        refetchAgain = false;
        refetchAll();
      }
    });
  return refetching;
}

function nestGone() {
  page.end("ended");
}

// The socket keeps failing: ask over HTTP whether the nest is still there and still ours.
let probing = false;
function probeNest() {
  if (probing || page.ended()) return;
  probing = true;
  ctx.api
    .nest()
    .catch((e) => {
      const ending = endingFor(e);
      if (ending) page.end(ending, ending === "ended" ? "" : e.message);
    })
    .finally(() => {
      probing = false;
    });
}

function onEvent(name, data) {
  switch (name) {
    case "queue_update":
      if (Array.isArray(data.queue)) applyQueue(data);
      else ctx.api.queue().then(applyQueue).catch(() => {});
      break;
    case "now_playing":
      // The server follows every now_playing with the queue it left (a queue_update), so a
      // song change costs this page no request.
      if (data.id !== undefined || "paused" in data) applyPlaying(data);
      else ctx.api.playing().then(applyPlaying).catch(() => {});
      break;
    case "player_position": {
      const before = ctx.clock.position();
      ctx.clock.update({ ...data, uri: undefined });
      ctx.sync.update({ ...data, uri: undefined });
      nowView.tick();
      playAlong.clockJumped(nowView.current(), before);
      break;
    }
    case "member_update":
      bar.setCount(data.count);
      break;
    case "airhorn":
      horns.heard(data);
      break;
    case "nest_update":
      bar.setNest(data);
      settingsPanel.apply(data);
      host.nestUpdated(data);
      members.refresh();
      break;
    case "member_kicked":
      if (data.user === me.id) page.end(data.ban ? "banned" : "kicked");
      else members.refresh();
      break;
    case "nest_deleted":
      nestGone();
      break;
    default:
      break;
  }
}

const conn = $("#conn-status");
function onStatus(status) {
  // A reconnect may hide a changed route to the server: measure the clock again.
  if (status === "live" && ctx.timeSync.active()) ctx.timeSync.start();
  page.connection(status);
  if (status === "offline") probeNest();
  if (!conn) return;
  conn.dataset.state = status;
  setText($(".conn-text", conn), status === "live" ? "Live" : status === "connecting" ? "Connecting…" : "Reconnecting…");
}

// The socket's first frames are the page's snapshot (queue, now playing) on every connect, so
// opening or reconnecting fetches only what it does not push: the recent horns. A version gap
// (events lost) refetches everything; so does a socket that cannot connect at all.
function onResync(reason) {
  if (reason !== "open") return refetchAll();
  ctx.api.airhorns().then((body) => horns.setRecent(body && body.airhorns)).catch(() => {});
}
let socket = null;
socket = connectSocket(window.NEST_ID, {
  onEvent,
  onResync,
  onStatus,
  onClosed: (code) => {
    if (code === 4404) page.end("ended");
    // Signed out (here or on another tab/device): back to the sign-in page, then this nest.
    else if (code === 4401) location.assign(`/login/?next=${encodeURIComponent(location.pathname)}`);
    else probeNest();
  },
});
setTimeout(() => {
  if (queueVersion < 0) refetchAll();
}, 4000);

// Progress bar: smooth while visible, cheap when hidden.
function frame() {
  nowView.tick();
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
setInterval(() => queueView.updateEtas(), 15000);

// Themes.
const themeBtn = $("#theme-btn");
function showTheme() {
  setText($(".theme-name", themeBtn), currentTheme().name);
}
themeBtn?.addEventListener("click", () => {
  nextTheme();
  showTheme();
});
if (themeBtn) showTheme();

// "/" jumps to search, like every music app.
document.addEventListener("keydown", (ev) => {
  if (ev.key === "/" && !/input|textarea|select/i.test(document.activeElement?.tagName || "") && !ev.metaKey && !ev.ctrlKey) {
    ev.preventDefault();
    search.focus();
  }
});

window.addEventListener("unhandledrejection", (ev) => {
  if (ev.reason && ev.reason.code) toast(errorWords(ev.reason), "error");
});

window.echonest = { ctx, refetchAll, live, socket, page };
// The documented read-only hook (docs/api.md, page hooks): the audible position right now.
window.EchoNest = Object.freeze({ playback: () => ctx.sync.playback() });
