"""Redis connections: one pooled client per URL per process, created on first use.

With REDIS_CLUSTER the client is redis-py's ``RedisCluster``: REDIS_URL names any node, the
rest are discovered, and MOVED/ASK redirects and topology refreshes after a failover are the
library's job. Every caller then uses the cluster key layout (echonest.keys).
"""

from __future__ import annotations

import threading

import redis

from config import CONF

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


class NoRedisConfigured(RuntimeError):
    pass


def connect(url: str, cluster: bool | None = None) -> redis.Redis:
    """A decoded-string client; every EchoNest module talks str, never bytes.

    ``cluster`` defaults to CONF.REDIS_CLUSTER; a cluster client also switches this process
    to the cluster key layout, so keys and client can never disagree.
    """
    if cluster is None:
        cluster = bool(CONF.REDIS_CLUSTER)
    if not cluster:
        return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.cluster import RedisCluster
    from redis.retry import Retry

    from echonest import keys

    keys.use_cluster_layout(True)
    # A failover takes ~node-timeout (+ election): retry long enough to ride it out, with
    # a topology refresh between tries (redis-py reinitializes on connection errors).
    return RedisCluster.from_url(
        url, decode_responses=True, health_check_interval=30,
        socket_connect_timeout=1, socket_timeout=5,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 12))


def default_client() -> redis.Redis:
    """The process-wide client for CONF.REDIS_URL (read at call time, so tests can point it)."""
    url = CONF.REDIS_URL
    if not url:
        raise NoRedisConfigured(
            "REDIS_URL is not set: start EchoNest with `make run` (which starts the embedded "
            "engine) or point REDIS_URL at a Redis 7+/Valkey 8+ server")
    cache_key = f"{url}#cluster" if CONF.REDIS_CLUSTER else url
    client = _clients.get(cache_key)
    if client is None:
        with _lock:
            client = _clients.get(cache_key)
            if client is None:
                client = _clients[cache_key] = connect(url)
    return client


def is_cluster(client: redis.Redis) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)
