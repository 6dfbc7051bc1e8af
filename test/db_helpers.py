"""Helpers for the db tests: tracks, nest registration, key snapshots and event capture."""

from __future__ import annotations

import json
from contextlib import contextmanager

from layout_support import publish, register_alive, subscribe

from config import CONF
from echonest import keys
from echonest.catalog.track import Track

SENTINEL = "--end-of-events--"


def track(name: str, duration: float = 200.0) -> Track:
    return Track(uri=f"local:track:{name}", title=f"Song {name}", artists=("Artist",),
                 album="Album", duration=duration, images=("big.png", "small.png"),
                 src="offline")


def register(r, nest_id: str, created_by: str = "creator@x.io") -> None:
    """What nests.py does on create, minus the rest of the metadata."""
    meta = {"id": nest_id, "code": nest_id, "created_by": created_by, "is_main": False}
    r.hset(keys.NESTS_REGISTRY, nest_id, json.dumps(meta))
    register_alive(r, nest_id, meta)


def snapshot(r, pattern: str = "*") -> dict:
    """Every key's serialized value and whether it has a TTL: equal snapshots = no change."""
    return {key: (r.dump(key), r.pttl(key) > 0) for key in sorted(r.keys(pattern))}


class Events:
    """Collects the envelopes published on one nest's channel."""

    def __init__(self, r, nest_id: str):
        self.r = r
        self.channel = keys.pubsub_channel(nest_id)
        self.pubsub = subscribe(r, self.channel)
        assert self.pubsub.get_message(timeout=5)["type"] == "subscribe"

    def drain(self) -> list[dict]:
        """Everything published so far: a sentinel published after it marks the end."""
        publish(self.r, self.channel, SENTINEL)
        found = []
        while True:
            msg = self.pubsub.get_message(timeout=5)
            assert msg is not None, "pub/sub sentinel never arrived"
            if msg["type"] != "message":
                continue
            if msg["data"] == SENTINEL:
                return found
            found.append(json.loads(msg["data"]))

    def close(self) -> None:
        self.pubsub.close()


@contextmanager
def conf(**values):
    """Temporarily change CONF keys (Config stores values, so monkeypatch cannot restore them)."""
    old = {key: CONF.get(key) for key in values}
    for key, value in values.items():
        setattr(CONF, key, value)
    try:
        yield
    finally:
        for key, value in old.items():
            setattr(CONF, key, value)
