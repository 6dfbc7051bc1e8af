"""Redis connections: one pooled client per URL per process, created on first use.

The pool is a *blocking* one of a configured size (``REDIS_MAX_CONNECTIONS``): a burst of
requests (a party's phones reconnecting after a Wi-Fi blip) waits its turn for a connection
for up to ``REDIS_POOL_TIMEOUT_SECONDS`` instead of failing with ``MaxConnectionsError`` the
moment the 101st request arrives. Under gevent the wait is cooperative. Only a request that
still finds no connection after the wait fails, and the web layer answers it with a 503.
Its connections check themselves cheaply before reuse (echonest.redis_pool).

With REDIS_CLUSTER the client is redis-py's ``RedisCluster`` (the same blocking pool, one per
node): REDIS_URL names any node, the rest are discovered, and MOVED/ASK redirects and topology
refreshes after a failover are the library's job. Every caller then uses the cluster key
layout (echonest.keys).
"""

from __future__ import annotations

import threading
from typing import Any

import redis

from config import CONF
from echonest.redis_pool import ProbedBlockingPool, no_maintenance_pushes

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()

DEFAULT_MAX_CONNECTIONS = 200
DEFAULT_POOL_TIMEOUT = 5.0


class NoRedisConfigured(RuntimeError):
    pass


def pool_settings(conf: Any = None) -> tuple[int, float]:
    """(max connections, seconds a caller waits for one) from the config."""
    conf = CONF if conf is None else conf
    size = int(conf.REDIS_MAX_CONNECTIONS or DEFAULT_MAX_CONNECTIONS)
    wait = conf.REDIS_POOL_TIMEOUT_SECONDS
    wait = DEFAULT_POOL_TIMEOUT if wait is None else float(wait)
    return max(size, 1), max(wait, 0.0)


def connect(url: str, conf: Any = None, cluster: bool | None = None) -> redis.Redis:
    """A decoded-string client on a sized blocking pool; EchoNest modules talk str, never bytes.

    ``cluster`` defaults to REDIS_CLUSTER; a cluster client also switches this process to the
    cluster key layout, so keys and client can never disagree.
    """
    size, wait = pool_settings(conf)
    if cluster is None:
        cluster = bool((CONF if conf is None else conf).REDIS_CLUSTER)
    if not cluster:
        pool = ProbedBlockingPool.from_url(
            url, max_connections=size, timeout=wait, decode_responses=True,
            health_check_interval=30)
        return redis.Redis(connection_pool=pool)
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
        connection_pool_class=ProbedBlockingPool, max_connections=size, timeout=wait,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 12),
        **no_maintenance_pushes())


def is_pool_exhausted(exc: BaseException) -> bool:
    """True for the error a blocking pool raises when no connection freed up in time."""
    return isinstance(exc, redis.ConnectionError) and "No connection available" in str(exc)


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
