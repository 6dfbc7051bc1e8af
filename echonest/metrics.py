"""Prometheus metrics: each process counts its own, Redis carries them so any web process answers.

Every process (web ×N, the player worker, in one container or several) keeps its counters in
its own ``prometheus_client`` registry and every ``PUSH_SECONDS`` writes a snapshot of it to
Redis (one pipelined round trip, expiring after ``SNAPSHOT_TTL``). ``GET /metrics`` on any web
process renders its own live registry plus every other live snapshot, each sample labelled
``process="<role>:<pid>@<host>"``, and the cluster-wide facts read once per scrape (nests,
Spotify back-off). So a scrape through a load balancer sees the whole deployment, and nothing
needs a shared directory (prometheus multiprocess mode would, which separate containers lack).
See docs/decisions.md, "Operations".

Instrumentation is one call at each place that knows the fact: ``action_outcome`` in
actions.dispatch, ``fanned_out`` in the fan-out, ``observe_pass`` in the player loop.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric

from echonest import keys
from echonest.errors import EchoNestError

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUSH_SECONDS = 10.0
SNAPSHOT_TTL = 60  # a process silent this long is gone (its series disappear)

REGISTRY = CollectorRegistry(auto_describe=True)
ACTIONS = Counter("echonest_actions", "Actions dispatched (HTTP and WebSocket), by outcome: "
                  "ok or the error code.", ["action", "outcome"], registry=REGISTRY)
EVENTS = Counter("echonest_events_fanned_out", "Frames handed to this process's listeners.",
                 registry=REGISTRY)
LISTENERS = Gauge("echonest_listeners", "Open WebSocket/SSE listeners in this process.",
                  registry=REGISTRY)
PLAYER_PASS = Histogram("echonest_player_pass_seconds", "Wall time of one player pass over "
                        "every nest.", registry=REGISTRY,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
REDIS_TRIPS = Counter("echonest_redis_round_trips", "Commands or pipelines sent to Redis by "
                      "this process (one per network round trip).", registry=REGISTRY)

_state: dict[str, Any] = {"role": "web", "pushed_at": 0.0, "pusher": None, "client": None,
                          "push_failing": False, "player_pushes": False}
_lock = threading.Lock()


def process_label() -> str:
    return f"{_state['role']}:{os.getpid()}@{socket.gethostname()}"


# --- hooks -----------------------------------------------------------------------------------
@contextmanager
def action_outcome(action: str) -> Iterator[None]:
    """Count one dispatched action as ok, its error code, or internal_error (re-raises)."""
    try:
        yield
    except EchoNestError as exc:
        _action_counter(action, exc.code).inc()
        raise
    except Exception:
        _action_counter(action, "internal_error").inc()
        raise
    _action_counter(action, "ok").inc()


_ACTION_COUNTERS: dict[tuple[str, str], Any] = {}


def _action_counter(action: str, outcome: str) -> Any:
    """ACTIONS' child for (action, outcome), looked up once: ``labels()`` validates and locks on
    every call, ~2 % of an HTTP vote's web CPU. Both labels come from closed sets (the action
    table, the error codes), so the cache stays small."""
    child = _ACTION_COUNTERS.get((action, outcome))
    if child is None:
        child = _ACTION_COUNTERS[(action, outcome)] = ACTIONS.labels(action, outcome)
    return child


def fanned_out(frames: int) -> None:
    EVENTS.inc(frames)


def serve_as_player() -> None:
    """The player worker process (master_player.main): label it and push its snapshots.

    Only a real worker process pushes; a test driving ``run()`` in-process writes no keys.
    """
    _state["role"] = "player"
    _state["player_pushes"] = True


def observe_pass(seconds: float, client: Any) -> None:
    """The player loop's timer: record the pass and, every PUSH_SECONDS, push the snapshot."""
    PLAYER_PASS.observe(seconds)
    if _state["player_pushes"] and time.monotonic() - _state["pushed_at"] >= PUSH_SECONDS:
        if not _state["pushed_at"]:
            instrument(client)
        push(client)


def track_listeners(count) -> None:
    """``count()`` → this process's open listeners, read at each snapshot or scrape."""
    LISTENERS.set_function(lambda: float(count()))


# --- Redis round trips ------------------------------------------------------------------------
def instrument(client: Any) -> None:
    """Count every packed send (a command or a whole pipeline) on ``client``'s connections."""
    pool = getattr(client, "connection_pool", None)
    base = getattr(pool, "connection_class", None)
    if base is None or getattr(base, "_echonest_counted", False):
        return

    class Counted(base):  # type: ignore[misc, valid-type]
        _echonest_counted = True

        def send_packed_command(self, command, check_health=True):
            REDIS_TRIPS.inc()
            return super().send_packed_command(command, check_health)

    Counted.__name__ = f"Counted{base.__name__}"
    pool.connection_class = Counted
    # Idle connections already in the pool are counted from now on too (same class but for
    # the one method; a worker's single connection would otherwise never be counted).
    for conn in list(getattr(pool, "_available_connections", None) or ()):
        if type(conn) is base:
            conn.__class__ = Counted


# --- snapshots through Redis ------------------------------------------------------------------
def snapshot() -> list[dict[str, Any]]:
    """This process's families as JSON-ready dicts (no ``_created`` samples)."""
    return [{"name": fam.name, "type": fam.type, "help": fam.documentation,
             "samples": [[s.name, s.labels, s.value] for s in fam.samples
                         if not s.name.endswith("_created")]}
            for fam in REGISTRY.collect()]


def push(client: Any) -> bool:
    """Write this process's snapshot (one round trip); failures are logged once per outage."""
    now = time.time()
    _state["pushed_at"] = time.monotonic()
    label = process_label()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set(keys.metrics_snapshot(label), json.dumps(snapshot()), ex=SNAPSHOT_TTL)
        pipe.zadd(keys.METRICS_PROCESSES, {label: now})
        pipe.zremrangebyscore(keys.METRICS_PROCESSES, "-inf", now - SNAPSHOT_TTL)
        pipe.execute()
    except Exception as exc:
        if not _state["push_failing"]:
            log.warning("could not push metrics to Redis: %s", exc)
        _state["push_failing"] = True
        return False
    if _state["push_failing"]:
        log.info("metrics push works again")
    _state["push_failing"] = False
    return True


def start_pusher(client: Any) -> None:
    """One daemon loop per process pushing the snapshot; later calls only retarget the client."""
    _state["client"] = client
    with _lock:
        if _state["pusher"] is not None:
            return

        def loop() -> None:
            while True:
                push(_state["client"])
                time.sleep(PUSH_SECONDS)

        _state["pusher"] = threading.Thread(target=loop, name="metrics-push", daemon=True)
        _state["pusher"].start()


def _others(client: Any) -> tuple[list[tuple[str, list]], int, int]:
    """Other live processes' snapshots, the number of nests, Spotify back-off seconds left."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zrangebyscore(keys.METRICS_PROCESSES, now - SNAPSHOT_TTL, "+inf")
    pipe.hlen(keys.NESTS_REGISTRY)
    pipe.ttl(keys.SPOTIFY_RATE_LIMITED)
    labels, nests, backoff = pipe.execute()
    mine = process_label()
    labels = [label for label in labels if label != mine]
    found: list[tuple[str, list]] = []
    if labels:
        for label, raw in zip(labels, client.mget([keys.metrics_snapshot(x) for x in labels]),
                              strict=True):
            try:
                families = json.loads(raw) if raw else None
            except ValueError:
                families = None
            if isinstance(families, list):
                found.append((label, families))
    return found, int(nests or 0), max(0, int(backoff or 0))


class _Cluster:
    """A one-shot collector: every process's families merged by name, plus cluster gauges."""

    def __init__(self, snapshots: list[tuple[str, list]], nests: int | None,
                 backoff: int | None):
        self.snapshots, self.nests, self.backoff = snapshots, nests, backoff

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for label, families in self.snapshots:
            for fam in families:
                try:
                    metric = merged.get(fam["name"])
                    if metric is None:
                        metric = merged[fam["name"]] = Metric(fam["name"], fam["help"],
                                                              fam["type"])
                    for name, sample_labels, value in fam["samples"]:
                        metric.add_sample(name, {**sample_labels, "process": label},
                                          float(value))
                except (KeyError, TypeError, ValueError):
                    continue  # a snapshot from another version: skip what we cannot read
        yield from merged.values()
        up = Metric("echonest_metrics_redis_up", "1 when this scrape could read Redis (other "
                    "processes and the cluster gauges are included), else 0.", "gauge")
        up.add_sample("echonest_metrics_redis_up", {}, 0.0 if self.nests is None else 1.0)
        yield up
        if self.nests is None:
            return
        nests = Metric("echonest_nests", "Nests in the registry (main included).", "gauge")
        nests.add_sample("echonest_nests", {}, float(self.nests))
        yield nests
        backoff = Metric("echonest_spotify_backoff_seconds",
                         "Seconds left while Spotify has us backing off (0 = not).", "gauge")
        backoff.add_sample("echonest_spotify_backoff_seconds", {}, float(self.backoff))
        yield backoff


def render(client: Any) -> bytes:
    """The Prometheus text exposition for the whole deployment (2 round trips).

    With Redis unreachable this process still reports its own counters, and
    ``echonest_metrics_redis_up`` says 0 (the cluster gauges are left out rather than made up).
    """
    try:
        others, nests, backoff = _others(client)
    except Exception as exc:
        log.info("metrics scrape without Redis: %s", exc)
        others, nests, backoff = [], None, None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Cluster([(process_label(), snapshot()), *others], nests, backoff))
    return generate_latest(registry)


# --- the web side -------------------------------------------------------------------------------
def scrape_allowed(conf: Any, header: str | None) -> bool:
    """Bearer METRICS_TOKEN, or the operator token; compared in constant time, never a cookie."""
    import hmac

    from echonest.web.auth import api_tokens

    scheme, _, presented = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    tokens = [t for t in (conf.METRICS_TOKEN,) if isinstance(t, str) and t.strip()]
    matched = False
    for token in tokens + api_tokens(conf):
        matched |= hmac.compare_digest(presented.strip().encode(), token.strip().encode())
    return matched


def init_app(app: Any) -> None:
    """``GET /metrics`` ahead of the app (token only: no cookie is ever read) and the hooks."""
    from echonest.web import context

    def instrument_first() -> None:
        st = context.state()
        if not st.get("metrics_ready"):
            st["metrics_ready"] = True
            client = context.redis()
            instrument(client)
            if not app.testing:  # in-process test clients: nothing to share, no keys written
                start_pusher(client)
            slot = app.extensions.get("echonest.stream") or {}
            track_listeners(lambda: slot["fanout"].listener_total() if slot.get("fanout") else 0)

    # First, before the auth gate touches Redis, so the pool's first connection is counted too.
    app.before_request_funcs.setdefault(None, []).insert(0, instrument_first)
    app.wsgi_app = MetricsEndpoint(app, app.wsgi_app)


class MetricsEndpoint:
    """WSGI wrapper answering /metrics before Flask: no session, no CSRF, no sign-in redirect.

    A scraper is neither a browser nor a user, so the session gate has nothing to say here; a
    wrong or missing token gets 401 in the API's error shape.
    """

    PATH = "/metrics"

    def __init__(self, app: Any, inner: Any):
        self.app, self.inner = app, inner

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO") != self.PATH:
            return self.inner(environ, start_response)
        from werkzeug.wrappers import Response

        from echonest.web import context
        from echonest.web.errors import error_body

        def answer(status: int, body: Any, **headers: str) -> Any:
            text = json.dumps(body) if not isinstance(body, bytes) else body
            content_type = CONTENT_TYPE if isinstance(body, bytes) else "application/json"
            response = Response(text, status=status, headers={
                "Content-Type": content_type, "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff", **headers})
            return response(environ, start_response)

        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return answer(405, error_body("method_not_allowed", "Use GET."), Allow="GET, HEAD")
        with self.app.app_context():
            if not scrape_allowed(context.conf(), environ.get("HTTP_AUTHORIZATION")):
                return answer(401, error_body("unauthorized", "Send Authorization: Bearer "
                                              "<METRICS_TOKEN or the operator token>."),
                              **{"WWW-Authenticate": 'Bearer realm="echonest-metrics"'})
            return answer(200, render(context.redis()))
