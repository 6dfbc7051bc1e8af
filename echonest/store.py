"""Redis connections: one pooled client per URL per process, created on first use."""

from __future__ import annotations

import threading

import redis

from config import CONF

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


class NoRedisConfigured(RuntimeError):
    pass


def connect(url: str) -> redis.Redis:
    """A decoded-string client; every EchoNest module talks str, never bytes."""
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


def default_client() -> redis.Redis:
    """The process-wide client for CONF.REDIS_URL (read at call time, so tests can point it)."""
    url = CONF.REDIS_URL
    if not url:
        raise NoRedisConfigured(
            "REDIS_URL is not set: start EchoNest with `make run` (which starts the embedded "
            "engine) or point REDIS_URL at a Redis 7+/Valkey 8+ server")
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = connect(url)
    return client
