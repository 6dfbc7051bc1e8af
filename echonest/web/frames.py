"""What the fan-out sends, built once per process: rendered frames and the per-version queue body.

``FrameSet`` renders one envelope at most once per frame kind (WebSocket JSON, SSE, legacy
SSE); every listener of that kind gets the same string object (and, for WebSockets, the same
wire bytes: echonest.web.ws_frames.wire). ``BodyCache`` keeps each nest's newest queue body and
the newest version every local listener was sent, so a queue_update whose change is already
shown costs no read, no serialization and no frame (test/test_fanout_cost.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from echonest import events, queue_patch

WS = "ws"                    # full envelope as one JSON text frame
SSE = "sse"                  # event:/id:/data: rendering of the same envelope
SSE_LEGACY = "sse_legacy"    # main-nest /api/events: the old shapes (docs/api.md, "legacy stream")
KINDS = (WS, SSE, SSE_LEGACY)


def legacy_queue(body: dict) -> list:
    """The pre-nest queue shape: ordered items with Bender's preview as the last element.

    A list has no room for the body's ``users`` map, so each item gains ``user_name`` instead.
    """
    users = body.get("users") or {}
    items = list(body.get("queue") or [])
    if body.get("preview"):
        items.append(body["preview"])
    return [{**item, "user_name": users[item["user"]]["name"]}
            if isinstance(item, dict) and item.get("user") in users else item for item in items]


def legacy_airhorn(data: Any) -> Any:
    """Old clients take an airhorn's ``volume`` as a 0–1 gain; the page's events carry 0–100."""
    volume = data.get("volume") if isinstance(data, dict) else None
    if isinstance(volume, bool) or not isinstance(volume, (int, float)):
        return data
    return {**data, "volume": round(min(max(volume / 100, 0.0), 1.0), 3)}


def legacy_position(data: dict, playing: dict) -> dict:
    """Old clients drift-correct only on positions that say what is playing (``src``,
    ``trackid``); the page matches positions by item ``id`` and keeps the lean shape."""
    return {**data, "src": playing.get("src"), "trackid": playing.get("trackid"),
            "uri": playing.get("uri")}


class FrameSet:
    """The frames of one envelope, each rendered at most once, on first demand."""

    def __init__(self, env: dict, legacy_data: Any = None):
        self.env = env
        self._legacy_data = legacy_data
        self._frames: dict[str, str] = {}

    def frame(self, kind: str) -> str:
        cached = self._frames.get(kind)
        if cached is None:
            if kind == WS:
                cached = events.dumps(self.env)
            elif kind == SSE:
                cached = events.sse_frame(self.env)
            else:
                env = self.env
                if self._legacy_data is not None:
                    env = {**self.env, "data": self._legacy_data}
                cached = events.sse_frame(env)
            self._frames[kind] = cached
        return cached


class QueueFrames(FrameSet):
    """A queue_update's frames plus, for listeners that asked for them, the patch from the
    body read just before it (built once, on the first listener that can take it)."""

    def __init__(self, env: dict, legacy_data: Any = None, previous: dict | None = None):
        super().__init__(env, legacy_data)
        self.version = int(env["data"].get("version") or 0)
        self._previous = previous
        self._patch: str | None = None

    def patch(self, base: int | None) -> str | None:
        """The queue_patch frame from version ``base`` to this one, or None (no such base here,
        or a patch would not be smaller than the whole body)."""
        previous = self._previous
        if base is None or previous is None or int(previous.get("version") or 0) != base:
            return None
        if self._patch is None:
            change = queue_patch.diff(previous, self.env["data"])
            if change is None:
                self._previous = None
                return None
            # Labelled like the whole frame (the version that triggered it), so a client's
            # version-gap check reads both the same way.
            self._patch = events.dumps({**self.env, "event": events.QUEUE_PATCH, "data": change})
        return self._patch


class BodyCache:
    """Per nest: the newest queue body read and the newest body version sent to everyone."""

    def __init__(self, read: Callable[[str, dict | None], dict], listened: Callable[[str], bool]):
        self._read = read
        self._listened = listened  # a nest without local listeners keeps nothing
        self._bodies: dict[str, dict] = {}
        self._previous: dict[str, dict] = {}  # the body read before the newest: patches' base
        self._sent: dict[str, int] = {}

    def forget(self, nest_id: str) -> None:
        self._bodies.pop(nest_id, None)
        self._previous.pop(nest_id, None)
        self._sent.pop(nest_id, None)

    def previous(self, nest_id: str, body: dict) -> dict | None:
        """The body read just before ``body``, while ``body`` is still the newest held."""
        return self._previous.get(nest_id) if self._bodies.get(nest_id) is body else None

    def body(self, nest_id: str, version: int) -> dict:
        """The queue body showing at least ``version``: the one last read if it does, else a
        fresh read (one read then serves every event up to the version it shows), built from
        the one held plus what changed since it (echonest.queue_revs)."""
        cached = self._bodies.get(nest_id)
        if cached is not None and int(cached.get("version") or 0) >= version:
            return cached
        body = self._read(nest_id, cached)
        latest = self._bodies.get(nest_id)
        version = int(body.get("version") or 0)
        held = -1 if latest is None else int(latest.get("version") or 0)
        if self._listened(nest_id) and version >= held:
            if latest is not None and version > held:
                self._previous[nest_id] = latest
            self._bodies[nest_id] = body
        return body

    def already_sent(self, nest_id: str, version: int) -> bool:
        return version <= self._sent.get(nest_id, -1)

    def sent(self, nest_id: str, shown: int) -> None:
        if self._listened(nest_id):
            self._sent[nest_id] = max(shown, self._sent.get(nest_id, -1))
