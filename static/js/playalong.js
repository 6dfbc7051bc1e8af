// "Sync audio" on this device: library songs in sync (syncplayer.js), Spotify via the server,
// airhorns; plus the "in sync ±N ms" indicator and the local mute.

import { errorWords } from "./api.js";
import { $, h, setText, toast } from "./dom.js";

// Spotify play-along goes through the server's Connect endpoint with the listener's own token;
// if the server has none (404) or the user never connected Spotify, we say so and follow the clock.
export function createPlayAlong(ctx, currentSong) {
  const syncBtn = $("#sync-btn");
  const note = (text) => setText($("#sync-note"), text);
  let spotifyUnavailable = false;
  // Connecting leaves the page for Spotify and comes back here, so a page load tries again.
  let needsConnect = false;

  function askToConnect() {
    const back = `${location.pathname}${location.search}`;
    const link = h("a", { href: `/login/spotify?next=${encodeURIComponent(back)}`, text: "Connect Spotify" });
    $("#sync-note")?.replaceChildren(link, " to hear Spotify songs on your own device.");
  }

  async function spotifyPlay(playing) {
    if (spotifyUnavailable) return;
    if (needsConnect) return askToConnect();
    const uri = String(playing.uri || playing.trackid || "");
    try {
      await ctx.api.request("POST", "/api/spotify/play", { uri, position_ms: Math.round(ctx.clock.position() * 1000) });
      note("Playing along on your Spotify device.");
    } catch (e) {
      if (e.code === "spotify_not_connected") {
        needsConnect = true;
        return askToConnect();
      }
      // An old server without the route, or Spotify not set up here (a device 404 is not this).
      const missing = e.status === 405 || e.code === "spotify_not_configured" || (e.status === 404 && e.code === "not_found");
      if (missing) spotifyUnavailable = true;
      note(missing ? "Spotify play-along isn't available on this server — following the shared clock." : `Spotify play-along: ${errorWords(e)}`);
    }
  }

  const hasAudio = (playing) => typeof playing?.audio_url === "string" && playing.audio_url !== "";

  function songChanged(playing) {
    if (!ctx.audio.enabled || !playing) return;
    const uri = String(playing.uri || playing.trackid || "");
    // The server's own audio first: it plays in sync on every device, no account needed.
    if (hasAudio(playing)) return note("");
    if (uri.startsWith("spotify:")) return spotifyPlay(playing);
    note("No audio on this install for this song — a soft chime marks it; airhorns still play.");
    ctx.audio.chime();
  }

  // Same song, but the shared clock jumped (pause/resume, seek, drift) by more than 3 s: re-sync.
  function clockJumped(playing, before) {
    if (!ctx.audio.enabled || !playing || hasAudio(playing)) return;
    const uri = String(playing.uri || playing.trackid || "");
    if (uri.startsWith("spotify:") && Math.abs(ctx.clock.position() - before) > 3) return spotifyPlay(playing);
  }

  // "in sync ±N ms" next to the button, from the correction loop's measured error plus the
  // clock-sync uncertainty (half the best round trip).
  const indicator = $("#sync-indicator");
  const muteBtn = $("#mute-btn");
  const WORDS = { loading: "loading…", paused: "paused", no_audio: "no audio", blocked: "tap Sync audio to start", error: "can't load this song", ended: "", idle: "" };
  function showStatus({ state, errMs }) {
    if (!indicator) return;
    const on = ctx.audio.enabled && state !== "off";
    indicator.hidden = !on;
    if (muteBtn) muteBtn.hidden = !on;
    if (!on) return;
    indicator.dataset.state = state;
    if (state === "playing" && errMs !== null) {
      const unc = ctx.timeSync?.uncertaintyMs() ?? 0;
      const n = Math.max(1, Math.ceil(Math.abs(errMs) + unc));
      setText(indicator, `in sync ±${n} ms`);
      indicator.title = `Playing at the nest's clock; estimated error ${n} ms`;
    } else setText(indicator, WORDS[state] ?? "");
  }
  ctx.sync?.onStatus(showStatus);
  muteBtn?.addEventListener("click", () => {
    const muted = !ctx.audio.muted;
    ctx.sync.setMuted(muted);
    muteBtn.setAttribute("aria-pressed", String(muted));
    muteBtn.classList.toggle("is-on", muted);
    setText($("span", muteBtn), muted ? "Muted" : "Mute");
    toast(muted ? "Muted here — still in sync" : "Sound on");
  });

  // Sync audio survives a reload in this tab; where the browser holds audio until a gesture,
  // the first tap anywhere starts it again.
  const REMEMBER = "echonest.syncAudio";
  const remember = (on) => {
    try {
      if (on) sessionStorage.setItem(REMEMBER, "1");
      else sessionStorage.removeItem(REMEMBER);
    } catch {
      /* storage off: the button still works */
    }
  };

  async function turnOn({ quiet = false } = {}) {
    await ctx.audio.enable();
    await ctx.sync?.enable();
    syncBtn.setAttribute("aria-pressed", "true");
    syncBtn.classList.add("is-on");
    remember(true);
    const playing = currentSong();
    if (playing) songChanged(playing);
    else note("Sync audio is on: songs and airhorns play on this device.");
    if (!quiet) toast("Sync audio on — the music plays here, in time with everyone");
    if (ctx.audio.ctx && ctx.audio.ctx.state !== "running") {
      const wake = () => ctx.audio.enable().then(() => ctx.sync?.enable());
      document.addEventListener("pointerdown", wake, { once: true, capture: true });
      document.addEventListener("keydown", wake, { once: true, capture: true });
    }
  }

  syncBtn?.addEventListener("click", async () => {
    if (ctx.audio.enabled && ctx.audio.ctx?.state !== "suspended") {
      ctx.sync?.disable();
      ctx.audio.disable();
      syncBtn.setAttribute("aria-pressed", "false");
      syncBtn.classList.remove("is-on");
      remember(false);
      note("");
      toast("Sync audio off");
      return;
    }
    await turnOn();
  });

  let remembered = false;
  try {
    remembered = sessionStorage.getItem(REMEMBER) === "1";
  } catch {
    remembered = false;
  }
  if (remembered && syncBtn) turnOn({ quiet: true });

  return { songChanged, clockJumped };
}
