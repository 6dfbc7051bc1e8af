"""Has a signed-in session been signed out? Answered from Redis, a "still live" answer trusted
for a moment in this process.

Logout marks the session id in Redis (``keys.session_revoked``, TTL = the session lifetime), so
a copy of the cookie is refused by every web process. Asking Redis on every request was the
second round trip of every HTTP action (a tenth of an HTTP vote's web CPU, issue 10): a party's
phones send the same cookie many times a second. So a "not signed out" answer is trusted for
``SESSION_CHECK_SECONDS`` in the process that got it. Signing out in this process forgets it at
once; a logout served by *another* process takes effect here within that window, and an open
stream's check (``live_check``) always asks Redis. Only "live" is remembered: a revoked answer
is final anyway (the request clears its session).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from echonest import keys
from echonest.web import memory

MAX_REMEMBERED = 8192  # session ids remembered per process (~1 MB at most)
_clock = time.monotonic  # one name for the clock, so tests can move it
_live_until: dict[str, float] = {}
_hooked: list[bool] = []


def _key(sid: str) -> str:
    return keys.session_revoked(sid[:64])


def is_revoked(client: Any, sid: str, trust_seconds: float) -> bool:
    now = _clock()
    if _live_until.get(sid, 0.0) > now:
        return False
    if _exists(client, _key(sid)):
        _live_until.pop(sid, None)
        return True
    trust(sid, trust_seconds)
    return False


def trust(sid: str, trust_seconds: float) -> None:
    """Remember ``sid`` as signed in for ``trust_seconds`` (a new id cannot be signed out yet)."""
    now = _clock()
    if trust_seconds > 0:
        if not _hooked:
            _hooked.append(True)
            memory.on_trim(_release)
        if len(_live_until) >= MAX_REMEMBERED:
            _forget_expired(now)
        _live_until[sid] = now + trust_seconds


def revoke(client: Any, sid: str, lifetime_seconds: int) -> None:
    # Marked first, forgotten after: a check that starts once the mark is set sees it. One
    # whose read was already on its way may still trust the session for one window, the same
    # bound every other process has.
    client.set(_key(sid), 1, ex=max(int(lifetime_seconds), 1))
    _live_until.pop(sid, None)


def live_check(client: Any, sid: str) -> Callable[[], bool]:
    """For an open stream: asks Redis each time (once per heartbeat), never the memory here."""
    key = _key(sid)

    def session_live() -> bool:
        try:
            return not _exists(client, key)
        except Exception:
            return True  # Redis blipped: keep the stream; the next check decides

    return session_live


def _exists(client: Any, key: str) -> bool:
    """One EXISTS sent as is: a cluster client's ``exists()`` would first split its keys by
    slot and build a pipeline, even for one key."""
    return bool(client.execute_command("EXISTS", key))


def _forget_expired(now: float) -> None:
    global _live_until
    kept = {sid: until for sid, until in _live_until.items() if until > now}
    # Over the cap with every entry fresh: start over (each costs one EXISTS to relearn).
    _live_until = kept if len(kept) < MAX_REMEMBERED else {}


def _release() -> None:
    """After a wave of leaves, drop what they left here (echonest.web.memory)."""
    global _live_until
    _live_until = {}

