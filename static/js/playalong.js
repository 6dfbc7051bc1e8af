// "Sync audio" play-along: airhorns and a song-change chime on this device, Spotify via the server.

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

  function songChanged(playing) {
    if (!ctx.audio.enabled || !playing) return;
    const uri = String(playing.uri || playing.trackid || "");
    if (uri.startsWith("spotify:")) return spotifyPlay(playing);
    else {
      note("Catalog songs have no audio here: a soft chime marks each new song; airhorns play out loud.");
      ctx.audio.chime();
    }
  }

  // Same song, but the shared clock jumped (pause/resume, seek, drift) by more than 3 s: re-sync.
  function clockJumped(playing, before) {
    if (!ctx.audio.enabled || !playing) return;
    const uri = String(playing.uri || playing.trackid || "");
    if (uri.startsWith("spotify:") && Math.abs(ctx.clock.position() - before) > 3) return spotifyPlay(playing);
  }

  syncBtn?.addEventListener("click", async () => {
    if (ctx.audio.enabled) {
      ctx.audio.disable();
      syncBtn.setAttribute("aria-pressed", "false");
      syncBtn.classList.remove("is-on");
      note("");
      toast("Sync audio off");
      return;
    }
    await ctx.audio.enable();
    syncBtn.setAttribute("aria-pressed", "true");
    syncBtn.classList.add("is-on");
    const playing = currentSong();
    if (playing) songChanged(playing);
    else note("Sync audio is on: airhorns and song changes play on this device.");
    toast("Sync audio on — airhorns will play here");
  });

  return { songChanged, clockJumped };
}
