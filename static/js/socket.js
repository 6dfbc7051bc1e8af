// The nest's live feed: one WebSocket, reconnect with backoff, and a refetch whenever we may have missed events.
import { applyQueuePatch } from "./queuepatch.js";

// The socket asks for queue patches: after its first whole queue, a change comes as what changed.

export function socketUrl(nestId) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const path = !nestId || nestId === "main" ? "/socket" : `/socket/${encodeURIComponent(nestId)}`;
  return `${scheme}://${location.host}${path}?patches=1`;
}

// onEvent(name, data, envelope), onResync() when state must be refetched, onStatus("live"|"connecting"|"offline"),
// onClosed(code) when the server closed for good (4404 nest ended, 4403 removed by a host,
// 4401 this session was signed out).
export const FINAL_CLOSE_CODES = [4401, 4403, 4404];
export function connectSocket(nestId, { onEvent, onResync, onStatus, onClosed }) {
  let ws = null;
  let attempt = 0;
  let lastVersion = null;
  // The queue this connection last delivered, whole: what the server's next queue_patch starts from.
  let queueBody = null;
  let pingTimer = null;
  let retryTimer = null;
  let stopped = false;
  let refSeq = 0;
  const pending = new Map();

  function open() {
    clearTimeout(retryTimer);
    onStatus?.("connecting");
    try {
      ws = new WebSocket(socketUrl(nestId));
    } catch {
      scheduleRetry();
      return;
    }
    ws.addEventListener("open", () => {
      attempt = 0;
      onStatus?.("live");
      // Anything may have happened while we were away: start from a fresh snapshot.
      lastVersion = null;
      queueBody = null;
      onResync?.("open");
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send("ping").catch(() => {}), 25000);
    });
    ws.addEventListener("message", (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!msg || typeof msg !== "object") return;
      if ((msg.event === "ack" || msg.event === "error") && msg.ref !== undefined) {
        const p = pending.get(msg.ref);
        if (p) {
          pending.delete(msg.ref);
          if (msg.event === "ack") p.resolve(msg.data);
          else p.reject(msg.data || {});
        }
        return;
      }
      if (msg.event === "queue_patch") {
        // Listeners get the whole queue either way; a patch that does not fit what we hold
        // (never expected) reconnects, which starts again from a whole snapshot.
        queueBody = applyQueuePatch(queueBody, msg.data);
        if (!queueBody) {
          ws.close();
          return;
        }
        msg = { ...msg, event: "queue_update", data: queueBody };
      } else if (msg.event === "queue_update" && Array.isArray(msg.data?.queue)) queueBody = msg.data;
      if (typeof msg.v === "number") {
        const gap = lastVersion !== null && msg.v > lastVersion + 1;
        if (lastVersion === null || msg.v > lastVersion) lastVersion = msg.v;
        if (gap) {
          onResync?.("gap");
          return;
        }
      }
      onEvent?.(msg.event, msg.data || {}, msg);
    });
    ws.addEventListener("close", (ev) => {
      clearInterval(pingTimer);
      for (const p of pending.values()) p.reject({ error: "network", message: "Connection lost" });
      pending.clear();
      if (FINAL_CLOSE_CODES.includes(ev.code)) {
        stopped = true;
        onClosed?.(ev.code);
        return;
      }
      if (!stopped) scheduleRetry();
    });
    ws.addEventListener("error", () => {
      try {
        ws.close();
      } catch {
        /* already closing */
      }
    });
  }

  function scheduleRetry() {
    onStatus?.("offline");
    const base = Math.min(15000, 500 * 2 ** attempt);
    attempt += 1;
    retryTimer = setTimeout(open, base / 2 + Math.random() * base / 2);
  }

  function send(action, args = {}) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject({ error: "network", message: "Not connected" });
        return;
      }
      const ref = `r${++refSeq}`;
      pending.set(ref, { resolve, reject });
      ws.send(JSON.stringify({ action, args, ref }));
    });
  }

  // A snapshot fetched over HTTP tells us which version we are at.
  function setVersion(v) {
    if (typeof v === "number" && (lastVersion === null || v > lastVersion)) lastVersion = v;
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && ws && ws.readyState > WebSocket.OPEN) open();
  });

  open();
  return {
    send,
    setVersion,
    // Lose the connection as a flaky network would (the reconnect path takes over).
    drop() {
      ws?.close();
    },
    close() {
      stopped = true;
      clearInterval(pingTimer);
      clearTimeout(retryTimer);
      ws?.close();
    },
  };
}
