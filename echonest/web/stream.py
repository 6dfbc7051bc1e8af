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
from echonest.web import context, ws_frames
from echonest.web.fanout import WS, Fanout, Listener, NestReader
from echonest.web.ws_conn import CLOSE_CODES, Connection, wait_closed  # noqa: F401

log = logging.getLogger(__name__)

bp = Blueprint("stream", __name__)

EXTENSION = "echonest.stream"
MAX_REF_LENGTH = 200
# {"action": "time"} is answered by the socket session itself: {"t": server epoch ms}.
TIME_ACTION = "time"
# `/socket?patches=1`: the client applies queue_patch events (docs/api.md, echonest.queue_patch).
PATCHES_ARG = "patches"
# App-defined close codes (4000-4999): echonest.web.ws_conn.CLOSE_CODES.
_lock = threading.Lock()
# Set in the WSGI environ once a request became a WebSocket: the server must then close the
# TCP connection after the view returns instead of reading the next "request" from it
# (echonest.web.connections checks the same string).
UPGRADED_ENVIRON_KEY = "echonest.websocket_upgraded"
# Set by echonest.web.connections' handler: detach(response) writes the 101 response and hands
# the socket's descriptor (and a callback releasing the peer's connection slot) to the caller.
DETACH_ENVIRON_KEY = "echonest.detach"
SHUTDOWN_WAIT_SECONDS = 2.0


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
        wait_closed(SHUTDOWN_WAIT_SECONDS)  # close frames out, members left, before exit


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
class UpgradedResponse(Response):
    """What the view returns once the socket is handed over: nothing more is written."""

    def __call__(self, environ, start_response):
        return []


@bp.route("/socket", websocket=True)
def socket_main() -> Response:
    return _websocket("main")


@bp.route("/socket/<code>", websocket=True)
def socket_nest(code: str) -> Response:
    return _websocket(code)


def _handshake_response() -> bytes:
    """The 101 answer to a valid upgrade request; InvalidRequest (400) for anything else."""
    from echonest.errors import InvalidRequest

    headers = request.headers
    key = headers.get("Sec-WebSocket-Key", "").strip()
    if (headers.get("Sec-WebSocket-Version", "").strip() != "13"
            or "upgrade" not in headers.get("Connection", "").lower()
            or not ws_frames.valid_client_key(key)):
        raise InvalidRequest("Not a valid WebSocket (version 13) upgrade request.")
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {ws_frames.accept_key(key)}\r\n\r\n").encode("ascii")


def _websocket(code: str) -> Response:
    from echonest.errors import Unavailable
    from echonest.web.auth import credential_checker

    user = _require_user()
    nest_id = _resolve(code)
    detach = request.environ.get(DETACH_ENVIRON_KEY)
    if detach is None:
        raise Unavailable("WebSockets need the EchoNest web server (python -m echonest.web.server).")
    response = _handshake_response()
    app = current_app._get_current_object()
    ip = context.client_ip()
    session = SocketSession(
        # A partial, not a closure: ~170 bytes per idle socket instead of ~450.
        nest_id, user, functools.partial(_action_context, app, nest_id, user, ip), fanout(),
        context.nest_manager(), float(context.conf().MEMBER_HEARTBEAT_SECONDS or 30),
        patches=request.args.get(PATCHES_ARG) == "1", still_valid=credential_checker())
    # Join and read the first state *before* the upgrade: if storage cannot serve this client
    # (a reconnect burst, an outage) it gets a 503 JSON answer, never an accepted socket that
    # stays silent.
    session.prepare()
    try:
        fd, release = detach(response)
    except BaseException:
        session.abandon()
        raise
    request.environ[UPGRADED_ENVIRON_KEY] = True
    # From here the connection lives on the event loop; this greenlet (and the request's
    # Flask context) ends now, so an idle socket keeps no stack (echonest.web.ws_conn).
    Connection(fd, session, app, release).start(session.heartbeat_seconds)
    return UpgradedResponse()


def _action_context(app: Any, nest_id: str, user: Any, ip: str) -> Any:
    """The socket's ActionContext, built on its first action, long after the upgrade request
    ended: a request context carrying the client's address stands in for it."""
    with app.test_request_context("/socket", environ_base={"REMOTE_ADDR": ip}):
        return context.action_context(nest_id, user)


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
                 nest_manager: Any, heartbeat_seconds: float, patches: bool = False,
                 still_valid: Any = None):
        self.nest_id = nest_id
        self.user = user
        # Built on the first action (inside the request context): a connection that only
        # listens never needs the catalog.
        self._ctx_factory = ctx_factory
        self._ctx = None
        self.fan = fan
        self.nests = nest_manager
        self.heartbeat_seconds = max(heartbeat_seconds, 0.5)
        self.listener = Listener(nest_id, WS, user=getattr(user, "id", "") or "",
                                 patches=patches)
        self._joined = False
        # The session or token that opened the socket still holds (auth.credential_checker):
        # asked once per heartbeat, so a sign-out elsewhere closes the socket (4401).
        self._still_valid = still_valid

    def prepare(self) -> None:
        """Register, join and queue the first frames; raises (after undoing) if it cannot."""
        self.fan.add(self.listener)
        try:
            self.nests.join_nest(self.nest_id, self.user.id)
            self._joined = True
            _recount_skip_vote(self.nests, self.nest_id)
            queue_frame, playing_frame = self.fan.initial_frames(self.nest_id, WS)
            self.listener.deliver(queue_frame, True)
            self.listener.deliver(playing_frame)
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

    def _heartbeat(self) -> None:
        if self._still_valid is not None and not self._still_valid():
            self.listener.end("signed_out")
            return
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


# The SSE routes live in echonest.web.sse, on this blueprint.
from echonest.web import sse  # noqa: E402,F401 - registers /api[/nests/<code>]/events
