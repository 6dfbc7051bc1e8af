"""Shared setup for the NestManager and membership tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from layout_support import subscribe as layout_subscribe

from echonest import keys

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def events_of(pubsub) -> list[dict]:
    """Every envelope published so far (waits briefly for stragglers)."""
    found = []
    while (msg := pubsub.get_message(timeout=0.3)) is not None:
        if msg["type"] == "message":
            found.append(json.loads(msg["data"]))
    return found


def subscribe(r, nest_id):
    pubsub = layout_subscribe(r, keys.pubsub_channel(nest_id))
    pubsub.get_message(timeout=1)
    return pubsub
