"""Real-time delivery: WebSocket ``/socket[/<code>]`` and SSE ``/api[/nests/<code>]/events``.

Both carry the fan-out's frames (echonest.web.fanout): the same envelopes, serialized once per
process. A refused WebSocket is refused *before* the upgrade with the usual JSON error and
status (401 anonymous, 404 unknown nest), so a client never holds a socket it cannot use.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from echonest import actions, events, keys
from echonest.errors import EchoNestError, NestGone, StaleNest, Unauthorized
from echonest.web import context
from echonest.web.auth import sync_readable
from echonest.web.fanout import CLOSE, SSE, SSE_LEGACY, WS, Fanout, Listener, NestReader

log = logging.getLogger(__name__)

bp = Blueprint("stream", __name__)

EXTENSION = "echonest.stream"
MAX_REF_LENGTH = 200
# {"action": "time"} is answered by the socket session itself: {"t": server epoch ms}.
TIME_ACTION = "time"
# App-defined close codes (4000-4999) so a client can tell "go elsewhere" from "reconnect".
CLOSE_CODES = {
    "nest_deleted": (4404, "nest deleted"),
    "nest_gone": (4404, "nest not found"),
    "kicked": (4403, "removed from this nest by a host"),
    "overflow": (1013, "client too slow; reconnect and refetch"),
    "shutdown": (1001, "server going away"),
    "closed": (1000, "bye"),
}
_lock = threading.Lock()
# Set in the WSGI environ once a request became a WebSocket: the server must then close the
# TCP connection after the view returns instead of reading the next "request" from it
# (echonest.web.connections checks the same string).
UPGRADED_ENVIRON_KEY = "echonest.websocket_upgraded"


@bp.record_once
def _on_register(state) -> None:
    init_app(state.app)


def init_app(app: Flask) -> None:
    """Reserve the app's fan-out slot; the fan-out itself starts with the first listener."""
    app.extensions.setdefault(EXTENSION, {"fanout": None})


def fanout() -> Fanout:
    """This process's fan-out for the current app, created on first use."""
    slot = current_app.extensions.setdefault(EXTENSION, {"fanout": None})
    fan = slot["fanout"]
    if fan is None:
        with _lock:
            fan = slot["fanout"]
            if fan is None:
                from db import DB

                client = context.redis()

                def make_db(nest_id: str) -> Any:
                    return DB(nest_id=nest_id, init_history_to_redis=False, redis_client=client)

                seconds = float(context.conf().PLAYER_POSITION_SECONDS or 10)
                fan = slot["fanout"] = Fanout(client, NestReader(make_db),
                                              position_seconds=seconds)
    return fan


def shutdown(app: Flask) -> None:
    """End every local stream (WebSockets close with 1001) and drop the subscription."""
    slot = app.extensions.get(EXTENSION) or {}
    fan = slot.get("fanout")
    if fan is not None:
        fan.stop()


# --- shared checks ---------------------------------------------------------------------------
def _require_user() -> Any:
    from echonest.web.auth import current_user

    user = current_user()
    if user is None or not getattr(user, "id", None):
        raise Unauthorized("Sign in first.")
    return user


def _resolve(code: str) -> str:
    """Code/vanity/'main' → nest id; unknown → NotFound (counted against code guessing)."""
    nest_id, _ = context.resolve_nest(code)
    return nest_id


# --- WebSocket -------------------------------------------------------------------------------
class _LockedSocket:
    """The connection's socket with one lock over every write.

    simple-websocket writes from two places (our senders, and its reader thread answering
    pings); a large frame can block mid-``sendall`` under gevent, and another write landing in
    that gap would corrupt the stream. ``send`` becomes ``sendall`` for the same reason.
    """

    def __init__(self, sock: Any):
        self._sock = sock
        self._write = threading.Lock()

    def send(self, data: bytes) -> int:
        with self._write:
            self._sock.sendall(data)
        return len(data)

    def sendall(self, data: bytes) -> None:
        with self._write:
            self._sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@functools.cache
def _server_class():
    from simple_websocket import Server

    class EchoSocket(Server):
        def handshake(self) -> None:
            self.sock = _LockedSocket(self.sock)
            super().handshake()

    return EchoSocket


@functools.cache
def _reader_thread_class() -> Any:
    """Under gevent, simple-websocket's per-socket reader as a bare greenlet: a monkey-patched
    ``threading.Thread`` parked for the socket's life costs ~5 KiB more (bench_ops memory)."""
    try:
        from gevent import monkey
    except ImportError:
        return None
    if not monkey.is_module_patched("threading"):
        return None
    import gevent

    class GreenReader:
        def __init__(self, target: Any) -> None:
            self._target, self._greenlet = target, None
            self.name, self.daemon = "ws-reader", True

        def start(self) -> None:
            self._greenlet = gevent.spawn(self._target)

        def join(self, timeout: float | None = None) -> None:
            if self._greenlet is not None:
                self._greenlet.join(timeout)

        def is_alive(self) -> bool:
            return self._greenlet is not None and not self._greenlet.dead

    return GreenReader


def accept(environ: dict) -> Any:
    """Complete the upgrade (flask-sock's approach, minus its unlocked writes)."""
    options = {"ping_interval": 25, "max_message_size": 64 * 1024}
    if _reader_thread_class() is not None:
        options["thread_class"] = _reader_thread_class()
    options.update(current_app.config.get("SOCK_SERVER_OPTIONS", {}))
    return _server_class()(environ, **options)


class UpgradedResponse(Response):
    """What the view returns once the socket is done: nothing more may be written on it."""

    def __init__(self, ws: Any):
        super().__init__()
        self._mode = ws.mode

    def __call__(self, environ, start_response):
        if self._mode == "werkzeug":
            return super().__call__(environ, start_response)
        if self._mode == "gunicorn":
            raise StopIteration()
        return []


@bp.route("/socket", websocket=True)
def socket_main() -> Response:
    return _websocket("main")


@bp.route("/socket/<code>", websocket=True)
def socket_nest(code: str) -> Response:
    return _websocket(code)


def _websocket(code: str) -> Response:
    user = _require_user()
    nest_id = _resolve(code)
    session = SocketSession(
        nest_id, user, lambda: context.action_context(nest_id, user), fanout(),
        context.nest_manager(), float(context.conf().MEMBER_HEARTBEAT_SECONDS or 30))
    # Join and read the first state *before* the upgrade: if storage cannot serve this client
    # (a reconnect burst, an outage) it gets a 503 JSON answer, never an accepted socket that
    # stays silent.
    session.prepare()
    try:
        ws = accept(request.environ)
    except BaseException:
        session.abandon()
        raise
    request.environ[UPGRADED_ENVIRON_KEY] = True
    try:
        session.run(ws)
    except OSError as exc:
        # A socket closed while a write was under way: the client is gone; nothing to fix.
        log.info("WebSocket in nest %s ended: %s", nest_id, exc)
    except Exception:
        log.exception("WebSocket session for nest %s ended with an error", nest_id)
    return UpgradedResponse(ws)


class OutageLog:
    """Logs a shared dependency going down and coming back: one line per change of state per
    process, however many callers (1,000 sockets beating every 30 s) see the failure."""

    def __init__(self, logger: logging.Logger, what: str):
        self.log = logger
        self.what = what
        self.down = False
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self.down:
                return
            self.down = True
        self.log.warning("%s failing: %s (logged once until it recovers)", self.what,
                         str(exc)[:200] or type(exc).__name__)

    def ok(self) -> None:
        if not self.down:
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
        self.log.info("%s working again", self.what)


HEARTBEATS = OutageLog(log, "member heartbeats")


class SocketSession:
    """One open WebSocket: membership, heartbeat, actions in, fan-out frames out."""

    def __init__(self, nest_id: str, user: Any, ctx_factory: Any, fan: Fanout,
                 nest_manager: Any, heartbeat_seconds: float):
        self.nest_id = nest_id
        self.user = user
        # Built on the first action (inside the request context): a connection that only
        # listens never needs the catalog.
        self._ctx_factory = ctx_factory
        self._ctx = None
        self.fan = fan
        self.nests = nest_manager
        self.heartbeat_seconds = max(heartbeat_seconds, 0.5)
        self.listener = Listener(nest_id, WS, user=getattr(user, "id", "") or "")
        self._joined = False
        # The sender runs only while the outbox holds frames (see _wake): idle sockets are the
        # common case (10,000 listeners, a few events a minute), and a parked thread per socket
        # costs ~13 KiB of stack.
        self._send_lock = threading.Lock()
        self._sender: threading.Thread | None = None
        self._ws: Any = None

    def prepare(self) -> None:
        """Register, join and queue the first frames; raises (after undoing) if it cannot."""
        self.fan.add(self.listener)
        try:
            self.nests.join_nest(self.nest_id, self.user.id)
            self._joined = True
            _recount_skip_vote(self.nests, self.nest_id)
            for frame in self.fan.initial_frames(self.nest_id, WS):
                self.listener.deliver(frame)
        except NestGone:
            self.listener.end("nest_gone")
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Undo ``prepare`` (the upgrade never happened or the session is over)."""
        self.fan.remove(self.listener)
        if self._joined:
            self._joined = False
            try:
                self.nests.leave_nest(self.nest_id, self.user.id)
            except Exception as exc:
                log.warning("leave_nest(%s, %s) failed: %s", self.nest_id, self.user.id, exc)
            _recount_skip_vote(self.nests, self.nest_id)

    def run(self, ws: Any) -> None:
        try:
            self._ws = ws
            self.listener.on_ready = self._wake
            self._wake()  # the first frames were queued before the upgrade
            self._receive_loop(ws)
        finally:
            # Every way out (client close, dropped TCP, error, nest deleted, server stopping)
            # passes here, so the member count never keeps a ghost.
            self.abandon()
            sender = self._sender
            if sender is not None and sender.ident is not None:  # started (see _wake)
                sender.join(timeout=5)
            _close(ws, "closed")

    def _wake(self) -> None:
        """Start a sender for what the outbox holds, unless one is already running."""
        with self._send_lock:
            if self._sender is not None or self._ws is None:
                return
            self._sender = threading.Thread(target=self._drain, daemon=True,
                                            name=f"ws-send-{self.nest_id}")
        self._sender.start()

    def _receive_loop(self, ws: Any) -> None:
        from simple_websocket import ConnectionClosed
        from wsproto.utilities import LocalProtocolError

        next_beat = time.monotonic() + self.heartbeat_seconds
        while ws.connected and not self.listener.ended:
            try:
                raw = ws.receive(timeout=max(0.0, next_beat - time.monotonic()))
            except ConnectionClosed:
                return
            except OSError:
                return  # the socket went away under us (nest deleted, client vanished)
            if raw is not None:
                reply = self.answer(raw)
                if self.listener.ended:
                    return  # the sender is closing this socket (nest deleted, kicked, …)
                try:
                    ws.send(reply)
                except (ConnectionClosed, OSError, LocalProtocolError):
                    return  # closed under us between the check and the send
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.heartbeat_seconds
                self._heartbeat()

    def _heartbeat(self) -> None:
        try:
            self.nests.heartbeat(self.nest_id, self.user.id)
        except NestGone:
            self.listener.end("nest_gone")
        except Exception as exc:
            # Redis blipped: the member key outlives a few missed beats (TTL 3x the interval).
            # One line per outage per process, not one per socket per beat.
            HEARTBEATS.failed(exc)
        else:
            HEARTBEATS.ok()

    def _drain(self) -> None:
        """Send what the outbox holds, then end (the next frame starts a new sender)."""
        from simple_websocket import ConnectionClosed
        from wsproto.utilities import LocalProtocolError

        ws = self._ws
        while True:
            with self._send_lock:
                frame = self.listener.next_frame(timeout=0)
                if frame is None:
                    self._sender = None
                    return
            if frame is CLOSE:
                break
            try:
                ws.send(frame)
            except (ConnectionClosed, OSError, LocalProtocolError):
                break
        _close(ws, self.listener.reason or "closed")
        with self._send_lock:
            self._sender = None

    def _dispatch(self, action: Any, args: Any) -> dict:
        """One action on the nest as this socket last read it; its write checks that reading
        is still current (settings may change between frames) in the same round trip, and a
        stale one runs again on a fresh read."""
        ctx = self._ctx
        if keys.cluster_layout():
            ctx.nest = None  # no in-script check there: read the settings for every frame
        elif ctx.nest is None or ctx.expected_meta is None:
            ctx.nest, ctx.expected_meta = context.nest_snapshot(self.nest_id)
        try:
            return actions.dispatch(ctx, action, args)
        except StaleNest:
            ctx.nest, ctx.expected_meta = None, None
            return actions.dispatch(ctx, action, args)

    def answer(self, raw: Any) -> str:
        """The one ack/error frame for one client frame; never raises."""
        ref = None
        try:
            message = _parse_frame(raw)
            ref = _check_ref(message.get("ref"))
            if message.get("action") == TIME_ACTION:
                # Clock sync: answered here, with no Redis or catalog in the way, so the round
                # trip the client measures is the network's and nothing else's.
                return events.dumps({"event": "ack", "nest": self.nest_id, "ref": ref,
                                     "data": {"t": round(time.time() * 1000, 3)}})
            if self._ctx is None:
                self._ctx = self._ctx_factory()
            data = self._dispatch(message.get("action"), message.get("args"))
            reply = {"event": "ack", "nest": self.nest_id, "ref": ref, "data": data}
        except EchoNestError as exc:
            reply = {"event": "error", "nest": self.nest_id, "ref": ref, "data": exc.to_dict()}
        except Exception:
            log.exception("WebSocket action failed in nest %s", self.nest_id)
            reply = {"event": "error", "nest": self.nest_id, "ref": ref,
                     "data": {"error": "internal_error",
                              "message": "Something went wrong on our side."}}
        return events.dumps(reply)


def _recount_skip_vote(nests: Any, nest_id: str) -> None:
    """A listener came or went: an open skip vote's threshold moves with the room."""
    from echonest import skip_votes

    try:
        skip_votes.recount(nests.redis, nest_id)
    except NestGone:
        pass
    except Exception:
        log.warning("skip-vote recount for %s failed", nest_id, exc_info=True)


def _parse_frame(raw: Any) -> dict:
    from echonest.errors import InvalidRequest

    if not isinstance(raw, str):
        raise InvalidRequest("Frames must be JSON text, not binary.")
    from echonest.validation import parse_json

    message = parse_json(raw, "The frame")
    if not isinstance(message, dict):
        raise InvalidRequest('A frame must be a JSON object: {"action", "args", "ref"}.')
    return message


def _check_ref(ref: Any) -> Any:
    from echonest.errors import InvalidRequest

    if ref is None or (isinstance(ref, (int, float)) and not isinstance(ref, bool)):
        return ref
    if isinstance(ref, str) and len(ref) <= MAX_REF_LENGTH:
        return ref
    raise InvalidRequest(f"'ref' must be a string of at most {MAX_REF_LENGTH} characters.")


def _close(ws: Any, reason: str) -> None:
    code, message = CLOSE_CODES.get(reason, CLOSE_CODES["closed"])
    try:
        if ws.connected:
            ws.close(reason=code, message=message)
    except Exception:  # noqa: S110 - already closed by the peer; nothing left to tell it
        pass
    # Wake a receive() that is waiting out its heartbeat timeout on a socket we just closed.
    ws.event.set()


# --- Server-Sent Events ----------------------------------------------------------------------
@bp.route("/api/events")
@sync_readable
def events_main() -> Response:
    user = _require_user()
    return _event_stream("main", SSE_LEGACY, user.id)


@bp.route("/api/nests/<code>/events")
def events_nest(code: str) -> Response:
    user = _require_user()
    return _event_stream(_resolve(code), SSE, user.id)


def _event_stream(nest_id: str, kind: str, user_id: str = "") -> Response:
    from echonest.web.auth import token_checker

    fan = fanout()
    keepalive = max(float(context.conf().SSE_KEEPALIVE_SECONDS or 15), 0.1)
    token_valid = token_checker()  # a revoked token's stream ends within one keepalive

    def generate():
        # Registered inside the generator: a client gone before the first byte leaks nothing.
        listener = Listener(nest_id, kind, user=user_id)
        fan.add(listener)
        try:
            for frame in fan.initial_frames(nest_id, kind):
                listener.deliver(frame)
            yield "retry: 2000\n\n"
            next_check = time.monotonic() + keepalive
            while True:
                frame = listener.next_frame(timeout=keepalive)
                if frame is CLOSE:
                    return
                if token_valid is not None and time.monotonic() >= next_check:
                    next_check = time.monotonic() + keepalive
                    if not token_valid():
                        return
                # A comment line keeps proxies from timing out and surfaces dead clients.
                yield ": keepalive\n\n" if frame is None else frame
        finally:
            fan.remove(listener)

    return Response(generate(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
