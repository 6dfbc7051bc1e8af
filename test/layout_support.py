"""Test helpers that work in both key layouts (single server and cluster, see conftest).

In cluster mode a nest's events go out by SPUBLISH, so a test listens with SSUBSCRIBE;
``subscribe`` hides that and hands back messages shaped like plain pub/sub ones.
"""

from __future__ import annotations

import json
import time

from echonest import keys


class Subscription:
    def __init__(self, r, channel: str):
        self.r, self.channel = r, channel
        self.sharded = keys.cluster_layout()
        self.pubsub = r.pubsub()
        if self.sharded:
            self.pubsub.ssubscribe(channel)
        else:
            self.pubsub.subscribe(channel)

    def get_message(self, timeout: float = 0.0):
        if not self.sharded:
            return self.pubsub.get_message(timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:
            msg = self.pubsub.get_sharded_message(timeout=min(0.1, timeout))
            if msg is not None:
                kind = {"smessage": "message", "ssubscribe": "subscribe"}.get(
                    msg["type"], msg["type"])
                return {**msg, "type": kind}
            if time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        self.pubsub.close()


def subscribe(r, channel: str) -> Subscription:
    return Subscription(r, channel)


def publish(r, channel: str, data: str) -> None:
    if keys.cluster_layout():
        r.spublish(channel, data)
    else:
        r.publish(channel, data)


def register_alive(r, nest_id: str, meta: dict) -> None:
    """Cluster layout: the nest's own alive hash, which guarded scripts check."""
    if keys.cluster_layout():
        r.hset(keys.nest_guard_key(nest_id), nest_id, json.dumps(meta))
