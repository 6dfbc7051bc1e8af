"""The closed list of real-time events and their one envelope (SPEC §7).

Writers publish a small envelope on the nest's channel inside the same atomic step as the
write; web processes fill in heavy payloads (the queue body) once per process before fan-out.
SSE and WebSocket send the same serialized bytes.
"""

from __future__ import annotations

import json
from typing import Any

QUEUE_UPDATE = "queue_update"
# Only ever sent, never published: a web process derives it for listeners that asked for
# patches (echonest.queue_patch).
QUEUE_PATCH = "queue_patch"
NOW_PLAYING = "now_playing"
PLAYER_POSITION = "player_position"
MEMBER_UPDATE = "member_update"
AIRHORN = "airhorn"
VOLUME = "volume"
NEST_UPDATE = "nest_update"
NEST_DELETED = "nest_deleted"
MEMBER_KICKED = "member_kicked"  # {user, ban, until}: that user's connections close

EVENT_NAMES = frozenset(
    {QUEUE_UPDATE, NOW_PLAYING, PLAYER_POSITION, MEMBER_UPDATE, AIRHORN, VOLUME, NEST_UPDATE,
     NEST_DELETED, MEMBER_KICKED}
)


def envelope(event: str, nest_id: str, version: int, data: dict[str, Any] | None = None) -> dict:
    if event not in EVENT_NAMES:
        raise ValueError(f"unknown event {event!r}")
    return {"event": event, "nest": nest_id, "v": int(version), "data": data or {}}


def dumps(obj: Any) -> str:
    """Compact, stable JSON used for every frame and every pub/sub message."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def sse_frame(env: dict[str, Any]) -> str:
    """The SSE rendering of one envelope: ``event:``/``id:`` lines, the data payload as JSON."""
    return f"event: {env['event']}\nid: {env['v']}\ndata: {dumps(env['data'])}\n\n"
