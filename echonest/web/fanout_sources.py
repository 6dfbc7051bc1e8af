"""Where the fan-out's input comes from: its own pub/sub connection, the envelopes read off it,
and the nest reads that fill an envelope's heavy payload in (echonest.web.fanout)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis

from echonest import events, queue_revs

log = logging.getLogger("echonest.web.fanout")


class NestReader:
    """How the fan-out reads one nest's heavy payloads; one DB per call over a shared client."""

    def __init__(self, db_factory: Callable[[str], Any]):
        self._db = db_factory

    def queue_body(self, nest_id: str, base: dict | None = None) -> dict:
        """The nest's queue body; with ``base`` (the newest body this reader gave for the
        nest) only what changed since it is read and built (echonest.queue_revs)."""
        return queue_revs.queue_body(self._db(nest_id), base)

    def now_playing(self, nest_id: str) -> dict:
        return self._db(nest_id).now_playing()

    def version(self, nest_id: str) -> int:
        return self._db(nest_id).version()

    def names(self, nest_id: str, user_ids: list[str]) -> dict[str, dict]:
        return self._db(nest_id).names(user_ids)


def parse_envelope(raw: Any) -> dict | None:
    """A published envelope, checked; None (and one warning) for anything else."""
    try:
        env = json.loads(raw)
    except (TypeError, ValueError):
        log.warning("ignoring non-JSON pub/sub message %.200r", raw)
        return None
    if (not isinstance(env, dict) or env.get("event") not in events.EVENT_NAMES
            or not isinstance(env.get("nest"), str)):
        log.warning("ignoring malformed envelope %.200r", raw)
        return None
    env.setdefault("data", {})
    env["v"] = int(env.get("v") or 0)
    return env


def pubsub_client(client: redis.Redis) -> redis.Redis:
    """A client on its own pool for the subscription, without redis-py's health-check PINGs:
    those would be written from the reader thread, racing SUBSCRIBE writes; we ping ourselves
    under the lock instead."""
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs["health_check_interval"] = 0
    kwargs["socket_timeout"] = None
    return redis.Redis(connection_pool=redis.ConnectionPool(
        connection_class=pool.connection_class, max_connections=2, **kwargs))
