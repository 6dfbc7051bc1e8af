"""Server-Sent Events: ``/api/events`` (the main nest, legacy shapes) and
``/api/nests/<code>/events``, fed by the same fan-out as the WebSockets (echonest.web.fanout).

A streaming response keeps its WSGI greenlet for the stream's life (SSE clients are few: the
page and the players use the WebSocket); the listener's outbox coalesces queue updates the same
way, and a keepalive comment every ``SSE_KEEPALIVE_SECONDS`` surfaces dead clients.
"""

from __future__ import annotations

import time

from flask import Response

from echonest.web import context
from echonest.web.auth import sync_readable
from echonest.web.fanout import CLOSE, SSE, SSE_LEGACY, Listener
from echonest.web.stream import _require_user, _resolve, bp, fanout


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
    from echonest.web.auth import credential_checker

    fan = fanout()
    keepalive = max(float(context.conf().SSE_KEEPALIVE_SECONDS or 15), 0.1)
    token_valid = credential_checker()  # signed out / revoked: ends within one keepalive

    def generate():
        # Registered inside the generator: a client gone before the first byte leaks nothing.
        listener = Listener(nest_id, kind, user=user_id)
        fan.add(listener)
        try:
            queue_frame, playing_frame = fan.initial_frames(nest_id, kind)
            listener.deliver(queue_frame, True)
            listener.deliver(playing_frame)
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
