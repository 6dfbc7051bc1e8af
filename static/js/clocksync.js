// Server clock on this device: NTP-style samples over the nest's WebSocket ({"action": "time"}).
//
// Each sample measures a round trip; the server read its clock somewhere inside it, so the
// midpoint is the best guess and half the round trip bounds the error. The sample with the
// shortest round trip among recent rounds wins. performance.now() is monotonic (Date.now() can
// jump when the OS adjusts the clock), so the answer is an offset from performance.now().

const SAMPLES = 8;
const REFRESH_MS = 30000;
const KEEP_MS = 95000; // best sample of roughly the last three rounds
const GAP_MS = 25;

export function createClockSync(send) {
  let samples = []; // {offset, rtt, at}
  let best = null;
  let fallbackOffset = null; // from the server's `now` field until the first exchange
  let running = null;
  let timer = null;
  let active = false; // only while this device plays along: a remote costs the server nothing
  const listeners = new Set();

  async function sample() {
    const t0 = performance.now();
    const data = await send("time");
    const t1 = performance.now();
    const t = Number(data && data.t);
    if (!Number.isFinite(t)) throw new Error("bad time answer");
    return { offset: t - (t0 + t1) / 2, rtt: t1 - t0, at: t1 };
  }

  function choose() {
    const now = performance.now();
    samples = samples.filter((s) => now - s.at < KEEP_MS);
    let pick = null;
    for (const s of samples) if (!pick || s.rtt < pick.rtt) pick = s;
    if (pick) {
      const moved = best ? pick.offset - best.offset : 0;
      best = pick;
      for (const fn of listeners) fn(moved);
    }
  }

  // One round of samples; a round already running is shared, not doubled.
  function resync() {
    if (running) return running;
    running = (async () => {
      for (let i = 0; i < SAMPLES; i++) {
        try {
          samples.push(await sample());
        } catch {
          break; // socket down: the reconnect starts another round
        }
        if (i < SAMPLES - 1) await new Promise((r) => setTimeout(r, GAP_MS));
      }
      choose();
    })().finally(() => {
      running = null;
    });
    return running;
  }

  function start() {
    active = true;
    clearInterval(timer);
    timer = setInterval(resync, REFRESH_MS);
    return resync();
  }

  function stop() {
    active = false;
    clearInterval(timer);
    timer = null;
  }

  document.addEventListener("visibilitychange", () => {
    if (active && document.visibilityState === "visible") resync();
  });

  return {
    start,
    stop,
    resync,
    active: () => active,
    // The server's `now` (ISO) from a snapshot: a rough offset until the first exchange.
    hint(isoNow) {
      const ms = Date.parse(isoNow);
      if (Number.isFinite(ms)) fallbackOffset = ms - performance.now();
    },
    // Server epoch ms at the given performance.now() time (default: now).
    serverMs(perfMs = performance.now()) {
      if (best) return perfMs + best.offset;
      if (fallbackOffset !== null) return perfMs + fallbackOffset;
      return perfMs + performance.timeOrigin;
    },
    synced: () => best !== null,
    // Half the best round trip: how far off the server clock we may be, in ms.
    uncertaintyMs: () => (best ? best.rtt / 2 : null),
    onChange(fn) {
      listeners.add(fn);
    },
  };
}
