// The room speaker (/nest/<code>/speaker): plays the nest out loud in sync and shows a party
// screen — big now playing, up next, join code + QR, listeners, airhorns heard. Phones stay
// remotes: nothing plays on them unless they press Sync audio themselves.

import { createApi } from "./api.js";
import { hornLabel } from "./airhorns.js";
import { createClockSync } from "./clocksync.js";
import { $, readBoot, coverArt, displayName, h, mmss, relTime, rememberUsers, setText, toast, updateArt } from "./dom.js";
import { drawQr, shareUrl } from "./nestbar.js";
import { NestClock, SyncAudio } from "./player.js";
import { connectSocket } from "./socket.js";
import { createSyncPlayer } from "./syncplayer.js";

const boot = readBoot();
const nest = boot.nest_info || { id: "main", code: "main", is_main: true };
const nestId = boot.nest_id || nest.id || "main";
const nestCode = nestId === "main" ? "main" : nest.code || nestId;
const api = createApi({ csrfToken: boot.csrf_token, nestCode });
const audio = new SyncAudio();
const clock = new NestClock();
let socket = null;
const timeSync = createClockSync((action) => (socket ? socket.send(action) : Promise.reject(new Error("no socket"))));
const sync = createSyncPlayer(audio, timeSync);

// --- join: code and a big QR ---------------------------------------------------------------------
const joinUrl = shareUrl(nest, boot.config || {});
drawQr($("#spk-qr"), joinUrl);
setText($("#spk-url"), joinUrl.replace(/^https?:\/\//, ""));

// --- now playing ---------------------------------------------------------------------------------
const art = coverArt(null, "", "art spk-art");
$("#spk-art").append(art);
let current = null;

function renderPlaying(playing) {
  rememberUsers(playing && playing.users);
  clock.update(playing || { paused: true, now: new Date().toISOString() });
  const has = Boolean(playing && playing.id !== undefined);
  if (!has) clock.duration = 0;
  current = has ? playing : null;
  document.body.classList.toggle("is-idle", !has);
  if (!has) {
    setText($("#spk-title"), "Silence, for now.");
    setText($("#spk-artist"), "Scan the code and add a song.");
    setText($("#spk-adder"), "");
    updateArt(art, null, "");
    $("#spk-noaudio").hidden = true;
  } else {
    updateArt(art, playing.big_img || playing.img, playing.title);
    setText($("#spk-title"), playing.title || "Untitled");
    setText($("#spk-artist"), [playing.artist, playing.album].filter(Boolean).join(" · "));
    setText($("#spk-adder"), `Added by ${playing.auto ? "Bender" : displayName(playing.user, playing.user_name)}`);
    $("#spk-noaudio").hidden = typeof playing.audio_url === "string" && playing.audio_url !== "";
  }
  sync.update(playing);
  tick();
}

function tick() {
  const paused = clock.paused && current;
  setText($("#spk-status"), current ? (paused ? "Paused" : "Now playing") : "");
  const pos = clock.position();
  const dur = clock.duration || 0;
  $("#spk-fill").style.width = `${dur ? Math.min(100, (pos / dur) * 100) : 0}%`;
  setText($("#spk-elapsed"), mmss(pos));
  setText($("#spk-total"), mmss(dur));
}

// --- up next -------------------------------------------------------------------------------------
let queueVersion = -1;
function renderQueue(body) {
  if (!body || !Array.isArray(body.queue)) return;
  if (typeof body.version === "number") {
    if (body.version < queueVersion) return;
    queueVersion = body.version;
    socket?.setVersion(body.version);
  }
  rememberUsers(body.users);
  const items = body.queue;
  sync.upNext(items[0]);
  $("#spk-queue-empty").hidden = items.length > 0;
  $("#spk-queue").replaceChildren(
    ...items.slice(0, 5).map((item) =>
      h(
        "li",
        { class: "spk-qitem" },
        coverArt(item.img, item.title, "art spk-qart"),
        h("span", { class: "spk-qtext" }, h("b", { text: item.title || "Untitled" }), h("span", { text: item.artist || "" })),
      ),
    ),
  );
}

// --- airhorns ------------------------------------------------------------------------------------
let horns = [];
function renderHorns() {
  $("#spk-horns-empty").hidden = horns.length > 0;
  $("#spk-horns").replaceChildren(
    ...horns.slice(0, 4).map((e) =>
      h("li", { class: "spk-horn" }, h("b", { text: hornLabel(e.name) }), h("span", { text: ` ${displayName(e.user, e.user_name)} · ${relTime(e.time)}` })),
    ),
  );
}
function heardHorn(data) {
  if (!data || !data.name) return;
  if (data.user && data.user_name) rememberUsers({ [data.user]: { name: data.user_name, avatar_url: data.avatar_url } });
  horns.unshift({ name: data.name, user: data.user, user_name: data.user_name, time: data.time || new Date().toISOString() });
  horns = horns.slice(0, 20);
  renderHorns();
  const flash = $("#spk-flash");
  setText(flash, `${hornLabel(data.name)}!`);
  flash.classList.remove("is-on");
  void flash.offsetWidth;
  flash.classList.add("is-on");
  audio.playHorn(data.name, data.volume);
}

// --- live feed -----------------------------------------------------------------------------------
function refetch() {
  return Promise.allSettled([
    api.queue().then(renderQueue),
    api.playing().then(renderPlaying),
    api.airhorns().then((body) => {
      if (!Array.isArray(body?.airhorns)) return;
      horns = body.airhorns.filter((e) => e && e.name);
      renderHorns();
    }),
  ]);
}

function onEvent(name, data) {
  switch (name) {
    case "queue_update":
      if (Array.isArray(data.queue)) renderQueue(data);
      else api.queue().then(renderQueue).catch(() => {});
      break;
    case "now_playing": {
      const before = current?.id;
      const after = () => current?.id !== before && api.queue().then(renderQueue).catch(() => {});
      if (data.id !== undefined || "paused" in data) {
        renderPlaying(data);
        after();
      } else api.playing().then(renderPlaying).then(after).catch(() => {});
      break;
    }
    case "player_position":
      clock.update({ ...data, uri: undefined });
      sync.update({ ...data, uri: undefined });
      break;
    case "member_update":
      setText($("#listener-count"), Math.max(0, Number(data.count) || 0));
      break;
    case "airhorn":
      heardHorn(data);
      break;
    case "nest_update":
      if (data.name && !nest.is_main) setText($("#spk-nest"), data.name);
      break;
    case "nest_deleted":
      setText($("#spk-title"), "This nest has closed.");
      break;
    default:
      break;
  }
}

function onStatus(status) {
  if (status === "live" && timeSync.active()) timeSync.start();
  const conn = $("#conn-status");
  conn.dataset.state = status;
  setText($(".conn-text", conn), status === "live" ? "Live" : status === "connecting" ? "Connecting…" : "Reconnecting…");
}

// --- sound on ------------------------------------------------------------------------------------
const startOverlay = $("#spk-start");
async function startMusic() {
  await sync.enable();
  startOverlay.hidden = audio.ctx?.state === "running";
}
$("#spk-start-btn").addEventListener("click", () => startMusic());
// Without a tap most browsers keep audio suspended; the overlay asks for one, once.
audio.enable().then(() => {
  if (audio.ctx?.state === "running") startMusic();
  else startOverlay.hidden = false;
});

const indicator = $("#sync-indicator");
const WORDS = { loading: "loading…", paused: "paused", no_audio: "no audio for this song", blocked: "tap to start", error: "can't load this song", idle: "waiting for a song", ended: "" };
sync.onStatus(({ state, errMs }) => {
  indicator.hidden = state === "off";
  indicator.dataset.state = state;
  if (state === "playing" && errMs !== null) {
    const n = Math.max(1, Math.ceil(Math.abs(errMs) + (timeSync.uncertaintyMs() ?? 0)));
    setText(indicator, `in sync ±${n} ms`);
  } else setText(indicator, WORDS[state] ?? "");
});
const muteBtn = $("#mute-btn");
muteBtn.addEventListener("click", () => {
  const muted = !audio.muted;
  sync.setMuted(muted);
  muteBtn.setAttribute("aria-pressed", String(muted));
  muteBtn.classList.toggle("is-on", muted);
  setText($("span", muteBtn), muted ? "Muted" : "Mute");
  toast(muted ? "Speaker muted — still in sync" : "Sound on");
});

refetch();
socket = connectSocket(nestId, {
  onEvent,
  onResync: () => refetch(),
  onStatus,
  // Signed out elsewhere: the speaker stops and asks to sign in again, as the page does.
  onClosed: (code) => code === 4401 && location.assign(`/login/?next=${encodeURIComponent(location.pathname)}`),
});
setInterval(tick, 250);
setInterval(renderHorns, 30000);

window.echonest = { sync, socket, timeSync };
window.EchoNest = Object.freeze({ playback: () => sync.playback() });
