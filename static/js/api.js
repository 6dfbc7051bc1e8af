// JSON API client: same-origin fetch with the CSRF header, errors turned into words people read.

const WORDS = {
  queue_full: "This nest's queue is full. Let a few songs play first.",
  already_queued: "That song is already in the queue.",
  rate_limited: "Slow down a little — try again in a moment.",
  nest_limit_reached: "Every nest slot is taken right now. Try again later.",
  not_found: "That isn't here any more.",
  forbidden: "You're not allowed to do that here.",
  invalid_request: "That didn't look right.",
  unauthorized: "Your session ended. Reload to sign in again.",
  nest_gone: "This nest has closed.",
  network: "Can't reach the server. Check your connection.",
};

export class ApiError extends Error {
  constructor(code, message, status, body) {
    super(message);
    this.code = code;
    this.status = status;
    this.body = body || {};
  }
}

// Words people read. Our own sentences for the common refusals; the server's message otherwise.
const OURS = new Set(["queue_full", "already_queued", "rate_limited", "network", "unauthorized", "nest_gone"]);

export function errorWords(err) {
  if (!err) return "Something went wrong.";
  const code = err.code || err.error || "";
  const retry = Number(err.retryAfter ?? err.body?.retry_after ?? err.retry_after);
  if (code === "rate_limited" && retry > 0) {
    const wait = retry >= 90 ? `${Math.ceil(retry / 60)} minutes` : `${Math.ceil(retry)} seconds`;
    return `Slow down — you can do that again in ${wait}.`;
  }
  if (OURS.has(code)) return WORDS[code];
  return err.message || WORDS[code] || "Something went wrong.";
}

export function createApi({ csrfToken, nestCode }) {
  const nestBase = `/api/nests/${encodeURIComponent(nestCode)}`;

  async function request(method, url, body) {
    const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined || method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrfToken || "";
      opts.body = JSON.stringify(body === undefined ? {} : body);
    }
    let res;
    try {
      res = await fetch(url, opts);
    } catch {
      throw new ApiError("network", WORDS.network, 0);
    }
    let data = null;
    const text = await res.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const code = (data && data.error) || (res.status === 429 ? "rate_limited" : `http_${res.status}`);
      const err = new ApiError(code, (data && data.message) || `Request failed (${res.status})`, res.status, data);
      const retry = Number(res.headers.get("Retry-After"));
      if (Number.isFinite(retry) && retry > 0) err.retryAfter = retry;
      throw err;
    }
    return data;
  }

  return {
    request,
    queue: () => request("GET", `${nestBase}/queue`),
    playing: () => request("GET", `${nestBase}/playing`),
    airhorns: () => request("GET", `${nestBase}/airhorns`),
    nest: () => request("GET", nestBase),
    addSong: (uri) => request("POST", `${nestBase}/songs`, { track_uri: uri }),
    vote: (id, up) => request("POST", `${nestBase}/vote`, { id, up }),
    jam: (id) => request("POST", `${nestBase}/jam`, { id }),
    comment: (id, text) => request("POST", `${nestBase}/comments`, { id, text }),
    remove: (id) => request("POST", `${nestBase}/remove`, { id }),
    skip: () => request("POST", `${nestBase}/skip`),
    pause: () => request("POST", `${nestBase}/pause`),
    resume: () => request("POST", `${nestBase}/resume`),
    airhorn: (name) => request("POST", `${nestBase}/airhorn`, { name }),
    benderQueue: (uri) => request("POST", `${nestBase}/bender/queue`, { uri }),
    benderFilter: (uri) => request("POST", `${nestBase}/bender/filter`, { uri }),
    search: (q, signal) =>
      fetch(`/api/search?q=${encodeURIComponent(q)}`, { credentials: "same-origin", signal, headers: { Accept: "application/json" } }).then(
        async (res) => {
          if (!res.ok) {
            const data = await res.json().catch(() => ({}));
            throw new ApiError(data.error || `http_${res.status}`, data.message || "Search failed", res.status, data);
          }
          return res.json();
        },
      ),
    listNests: () => request("GET", "/api/nests"),
    createNest: (name) => request("POST", "/api/nests", name ? { name } : {}),
    renameNest: (code, name) => request("PATCH", `/api/nests/${encodeURIComponent(code)}`, { name }),
    setBender: (code, on) => request("PATCH", `/api/nests/${encodeURIComponent(code)}`, { bender_enabled: Boolean(on) }),
    clear: () => request("POST", `${nestBase}/clear`),
  };
}
