// Synchronized playback: this device plays the nest's now-playing track at the server clock's
// position, on the Web Audio clock, and keeps it there.
//
// Three clocks meet here: the server's (clocksync.js, ms since epoch), performance.now() and the
// audio clock (AudioContext time). getOutputTimestamp() says which audio-clock time is leaving the
// speaker at which performance.now(), so output latency is part of the sum. A track starts with
// AudioBufferSourceNode.start(when, offset) at the offset the server clock will have reached when
// `when` is heard; a loop then compares the audible position with the server clock and steers
// with small playbackRate nudges (±0.8 % at most), restarting only past HARD_S.

const LEAD_S = 0.15; // schedule this far ahead of the audio clock: the start is never late
const HARD_S = 0.035; // beyond this error, restart at the right offset instead of nudging
const FINE_S = 0.0015; // within this, play at rate 1
const NUDGE_HORIZON_S = 2; // a nudge removes the error over about this long
const MAX_NUDGE = 0.008; // ±0.8 %: about 14 cents at most, for a few seconds
const LOOP_MS = 200;
const FADE_S = 0.012;
const RETRY_MS = 5000;
const KEEP_BUFFERS = 3; // current, next, and the one just before

export function createSyncPlayer(audio, clock) {
  const statusListeners = new Set();
  const onStatus = (s) => statusListeners.forEach((fn) => fn(s));
  let enabled = false;
  let track = null; // {id, uri, url, startMs, paused, pausedPos, duration, meta}
  let voice = null; // {src, gain, url, id, buffer, anchorCtx, anchorPos, rate}
  const buffers = new Map(); // url → {promise, buffer, failedAt}
  let nextUrl = null;
  let errMs = null; // smoothed audible − server position, ms
  let perfMinusCtx = null; // smoothed performance.now() − audio clock, ms (output latency included)
  let state = "off";
  let loop = null;
  let restarts = 0;

  // --- clocks --------------------------------------------------------------------------------
  function sampleMap() {
    const ctx = audio.ctx;
    const ts = typeof ctx.getOutputTimestamp === "function" ? ctx.getOutputTimestamp() : null;
    let d;
    if (ts && ts.contextTime > 0 && ts.performanceTime > 0) d = ts.performanceTime - ts.contextTime * 1000;
    else d = performance.now() - (ctx.currentTime - (ctx.outputLatency || 0) - (ctx.baseLatency || 0)) * 1000;
    // The pair is read at render callbacks (sub-ms jitter): smooth it, but follow a real jump.
    if (perfMinusCtx === null || Math.abs(d - perfMinusCtx) > 8) perfMinusCtx = d;
    else perfMinusCtx += (d - perfMinusCtx) * 0.2;
    return perfMinusCtx;
  }
  const perfAt = (ctxTime) => ctxTime * 1000 + perfMinusCtx;
  const ctxAt = (perfMs) => (perfMs - perfMinusCtx) / 1000;

  // Where the song should be at this server time (seconds).
  function target(serverMs) {
    if (!track) return 0;
    if (track.paused) return track.pausedPos;
    return (serverMs - track.startMs) / 1000;
  }

  function voicePos(ctxTime, v = voice) {
    if (!v) return null;
    if (ctxTime < v.anchorCtx) return v.prev ? voicePos(ctxTime, v.prev) : null;
    return v.anchorPos + (ctxTime - v.anchorCtx) * v.rate;
  }

  // --- buffers -------------------------------------------------------------------------------
  function load(url) {
    let slot = buffers.get(url);
    if (slot && !(slot.failedAt && performance.now() - slot.failedAt > RETRY_MS)) {
      buffers.delete(url); // re-insert: most recently used last
      buffers.set(url, slot);
      return slot;
    }
    slot = { buffer: null, failedAt: 0, promise: null };
    slot.promise = fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`audio ${r.status}`))))
      .then((bytes) => audio.ctx.decodeAudioData(bytes))
      .then((buf) => {
        slot.buffer = buf;
        return buf;
      })
      .catch((e) => {
        slot.failedAt = performance.now();
        throw e;
      });
    slot.promise.catch(() => {});
    buffers.set(url, slot);
    while (buffers.size > KEEP_BUFFERS) {
      const oldest = buffers.keys().next().value;
      if (oldest === url || oldest === track?.url || oldest === nextUrl) break;
      buffers.delete(oldest);
    }
    return slot;
  }

  // --- voices --------------------------------------------------------------------------------
  function stopVoice(at) {
    if (!voice) return;
    const ctx = audio.ctx;
    const t = Math.max(at || 0, ctx.currentTime);
    const v = voice;
    voice = null;
    try {
      v.gain.gain.cancelScheduledValues(t);
      v.gain.gain.setValueAtTime(v.gain.gain.value, t);
      v.gain.gain.linearRampToValueAtTime(0, t + FADE_S);
      v.src.stop(t + FADE_S + 0.01);
    } catch {
      /* never started or already stopped */
    }
  }

  function startVoice(buffer) {
    const ctx = audio.ctx;
    sampleMap();
    let when = ctx.currentTime + LEAD_S;
    let pos = target(clock.serverMs(perfAt(when)));
    if (pos < 0) {
      when -= pos;
      pos = 0;
    }
    if (pos >= buffer.duration - 0.05) {
      stopVoice();
      return false;
    }
    // Until `when` is heard, the old voice (if any) is what leaves the speaker.
    const prev = voice && voice.id === track.id ? { ...voice, prev: null } : null;
    stopVoice(when);
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0, when);
    gain.gain.linearRampToValueAtTime(1, when + FADE_S);
    src.connect(gain).connect(audio.output);
    src.start(when, pos);
    const v = { src, gain, url: track.url, id: track.id, buffer, anchorCtx: when, anchorPos: pos, rate: 1, prev };
    src.addEventListener("ended", () => {
      if (voice === v) voice = null;
    });
    voice = v;
    return true;
  }

  // One step of the loop: measure the audible error, nudge or restart.
  function correct() {
    const ctx = audio.ctx;
    sampleMap();
    const perfNow = performance.now();
    const heardCtx = ctxAt(perfNow);
    if (heardCtx < voice.anchorCtx) return; // the last (re)start is not audible yet
    if (heardCtx > voice.anchorCtx + 0.5) voice.prev = null;
    const pos = voicePos(heardCtx);
    const err = pos - target(clock.serverMs(perfNow));
    errMs = errMs === null || Math.abs(err * 1000 - errMs) > 20 ? err * 1000 : errMs + (err * 1000 - errMs) * 0.3;
    if (Math.abs(err) > HARD_S) {
      restarts += 1;
      startVoice(voice.buffer);
      return;
    }
    let rate = 1;
    if (Math.abs(err) > FINE_S) rate = 1 - Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, err / NUDGE_HORIZON_S));
    if (rate === voice.rate) return;
    // The new rate applies from `at` (slightly ahead); until then the current segment holds.
    const at = ctx.currentTime + 0.02;
    voice.prev = { anchorCtx: voice.anchorCtx, anchorPos: voice.anchorPos, rate: voice.rate, prev: null };
    voice.anchorPos = voicePos(at);
    voice.anchorCtx = at;
    voice.rate = rate;
    voice.src.playbackRate.setValueAtTime(rate, at);
  }

  // --- the state machine ---------------------------------------------------------------------
  function setState(next, detail) {
    state = next;
    onStatus({ state, errMs, detail, restarts });
  }

  function reconcile() {
    if (!enabled || !audio.ctx) {
      if (audio.ctx) stopVoice();
      return setState("off");
    }
    if (!track) {
      stopVoice();
      return setState("idle");
    }
    if (!track.url) {
      stopVoice();
      return setState("no_audio");
    }
    if (audio.ctx.state !== "running") {
      stopVoice();
      return setState("blocked");
    }
    if (track.paused) {
      stopVoice();
      return setState("paused");
    }
    const slot = load(track.url);
    if (!slot.buffer) {
      if (slot.failedAt) {
        stopVoice();
        return setState("error");
      }
      stopVoice();
      const url = track.url;
      slot.promise.then(() => track?.url === url && reconcile()).catch(() => track?.url === url && reconcile());
      return setState("loading");
    }
    if (nextUrl && nextUrl !== track.url) load(nextUrl);
    if (!voice || voice.url !== track.url || voice.id !== track.id) {
      if (!startVoice(slot.buffer)) return setState("ended");
    } else correct();
    setState("playing");
  }

  function tick() {
    if (enabled && audio.ctx && track?.url && !track.paused) reconcile();
    else onStatus({ state, errMs, restarts });
  }

  // --- lock screen ---------------------------------------------------------------------------
  function mediaSession(playing) {
    const ms = navigator.mediaSession;
    if (!ms || typeof window.MediaMetadata !== "function") return;
    if (!enabled || !playing) {
      ms.metadata = null;
      return;
    }
    const art = playing.big_img || playing.img;
    const artwork = art && /^(https?:|\/)/.test(art) ? [{ src: art, sizes: "512x512" }] : [];
    try {
      ms.metadata = new MediaMetadata({ title: playing.title || "", artist: playing.artist || "", album: playing.album || "", artwork });
      ms.playbackState = playing.paused ? "paused" : "playing";
    } catch {
      /* an artwork URL the browser rejects */
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || !enabled) return;
    // Back from sleep: the audio clock may have stopped; the loop restarts at the right place.
    if (audio.ctx?.state === "suspended") audio.ctx.resume().catch(() => {}).finally(reconcile);
    else reconcile();
  });
  clock.onChange(() => enabled && reconcile());

  return {
    // playing: a now_playing body, or a player_position event (same id, timing fields only).
    update(playing) {
      if (playing?.now) clock.hint(playing.now);
      if (!playing || playing.id === undefined || playing.id === null) {
        track = null;
        mediaSession(null);
        return reconcile();
      }
      const same = track && String(track.id) === String(playing.id);
      if (!same) {
        track = { id: playing.id, uri: null, url: null, startMs: 0, paused: true, pausedPos: 0, duration: 0 };
        errMs = null;
      }
      if (playing.uri !== undefined) track.uri = String(playing.uri || playing.trackid || "") || null;
      if (playing.audio_url !== undefined) track.url = typeof playing.audio_url === "string" && playing.audio_url ? playing.audio_url : null;
      track.paused = Boolean(playing.paused);
      const pos = Number(playing.pos);
      if (Number.isFinite(pos)) track.pausedPos = Math.max(0, pos);
      const start = Date.parse(playing.starttime);
      if (Number.isFinite(start)) track.startMs = start;
      else if (Number.isFinite(pos)) track.startMs = clock.serverMs() - pos * 1000;
      const duration = Number(playing.duration);
      if (Number.isFinite(duration) && duration > 0) track.duration = duration;
      if (!same || playing.title !== undefined) mediaSession(playing);
      else if (navigator.mediaSession && enabled) navigator.mediaSession.playbackState = track.paused ? "paused" : "playing";
      reconcile();
    },
    // The queue's head: fetched and decoded ahead so the next song starts at once.
    upNext(item) {
      nextUrl = item && typeof item.audio_url === "string" && item.audio_url ? item.audio_url : null;
      // After the current song's own decode (never competing with it), or now if it has none.
      if (enabled && audio.ctx && nextUrl && (!track?.url || slotReady(track.url))) load(nextUrl);
    },
    async enable() {
      if (!clock.active()) clock.start();
      await audio.enable();
      enabled = true;
      // Suspended by the OS (a call, a locked phone) and back: reschedule at once.
      if (audio.ctx && !audio.ctx.onstatechange) audio.ctx.onstatechange = () => enabled && reconcile();
      clearInterval(loop);
      loop = setInterval(tick, LOOP_MS);
      reconcile();
    },
    disable() {
      enabled = false;
      clock.stop();
      clearInterval(loop);
      loop = null;
      stopVoice();
      mediaSession(null);
      errMs = null;
      setState("off");
    },
    onStatus(fn) {
      statusListeners.add(fn);
    },
    setMuted(muted) {
      audio.setMuted(muted);
      onStatus({ state, errMs, restarts });
    },
    get enabled() {
      return enabled;
    },
    state: () => state,
    errorMs: () => errMs,
    // The audible position (s) at a server-clock time (ms): read-only diagnostics for tests.
    playback() {
      const perfNow = performance.now();
      const serverTime = clock.serverMs(perfNow);
      let position = null;
      if (enabled && audio.ctx && track) {
        if (voice && voice.id === track.id) {
          sampleMap();
          position = voicePos(ctxAt(perfNow));
        }
        if (position === null && track.paused && track.url) position = track.pausedPos;
      }
      return {
        uri: track ? track.uri : null,
        position,
        serverTime,
        state,
        paused: Boolean(track?.paused),
        muted: Boolean(audio.muted),
        errorMs: errMs,
        restarts,
      };
    },
  };

  function slotReady(url) {
    return Boolean(buffers.get(url)?.buffer);
  }
}
