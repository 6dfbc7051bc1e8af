"""Sharded pub/sub for the fan-out in cluster mode: one SSUBSCRIBE connection per shard.

A nest's channel carries the nest's hash tag, so SPUBLISH sends an event only through the
shard that owns the nest. This process keeps one subscription connection per shard it has
listeners on, each read by its own (green) thread into one inbox, and offers the slice of
redis-py's PubSub that ``Fanout`` uses (subscribe, unsubscribe, get_message, ping, close).

After a failover or a slot move a shard's connection breaks (or the server unsubscribes us):
``get_message`` then raises ConnectionError once, and the fan-out's resync calls ``ping``,
which refreshes the topology and subscribes every channel again on its current owner. Events
published meanwhile are lost; the resync sends every listener a fresh snapshot.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import redis

log = logging.getLogger(__name__)

_LOST = object()  # inbox marker: a shard's subscription broke
SUBSCRIBE_WAIT = 2.0  # seconds a new subscription waits for its node to confirm it


class _Shard:
    """One node's subscription connection and the channels it carries."""

    def __init__(self, name: str, host: str, port: int, on_message, on_lost,
                 credentials: dict | None = None):
        self.name = name
        client = redis.Redis(host=host, port=port, decode_responses=True, **(credentials or {}),
                             health_check_interval=0, socket_timeout=None,
                             socket_connect_timeout=1, single_connection_client=False)
        self.pubsub = client.pubsub()
        self.channels: set[str] = set()
        self.dropping: set[str] = set()  # our own SUNSUBSCRIBEs not yet confirmed
        self.confirming: dict[str, threading.Event] = {}  # SSUBSCRIBEs sent, not yet confirmed
        self.alive = True
        self._on_message, self._on_lost = on_message, on_lost
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._read, name=f"shard-{self.name}",
                                       daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self.alive:
            try:
                message = self.pubsub.get_message(timeout=1.0)
            except (redis.RedisError, OSError, ValueError) as exc:
                if self.alive:
                    self._on_lost(self, f"{type(exc).__name__}: {exc}")
                return
            if not message:
                continue
            kind = message.get("type")
            if kind == "smessage":
                self._on_message(message["data"])
            elif kind == "ssubscribe":
                confirmed = self.confirming.pop(message.get("channel"), None)
                if confirmed is not None:
                    confirmed.set()
            elif kind == "sunsubscribe":
                channel = message.get("channel")
                if channel in self.dropping:
                    self.dropping.discard(channel)
                elif channel in self.channels:
                    # The server let go of a channel we still want: its slot moved.
                    self._on_lost(self, f"server unsubscribed {channel}")
                    return

    def close(self) -> None:
        self.alive = False
        try:
            self.pubsub.close()
        except (redis.RedisError, OSError):
            pass


class ShardedSubscriber:
    """The fan-out's subscription in cluster mode (see module doc)."""

    def __init__(self, cluster: Any):
        self._cluster = cluster
        self._wanted: set[str] = set()
        self._shards: dict[str, _Shard] = {}
        self._home: dict[str, str] = {}  # channel → shard name it is subscribed on
        self._inbox: queue.Queue = queue.Queue()
        self._lock = threading.RLock()
        self._closed = False

    @property
    def subscribed(self) -> bool:
        return bool(self._wanted)

    def shard_count(self) -> int:
        return sum(1 for shard in self._shards.values() if shard.alive)

    # --- subscriptions ---------------------------------------------------------------------
    def subscribe(self, channel: str) -> None:
        with self._lock:
            self._wanted.add(channel)
            self._place(channel)

    def unsubscribe(self, channel: str) -> None:
        with self._lock:
            self._wanted.discard(channel)
            name = self._home.pop(channel, None)
            shard = self._shards.get(name) if name else None
            if shard is None or not shard.alive:
                return
            shard.channels.discard(channel)
            shard.dropping.add(channel)
            shard.pubsub.sunsubscribe(channel)

    def _place(self, channel: str) -> None:
        """Subscribe ``channel`` on the shard that owns its slot now (raises when unreachable;
        the channel then stays homeless until the next ``ping``)."""
        node = self._cluster.get_node_from_key(channel)
        name = self._home.get(channel)
        if name == node.name and self._shards.get(name) and self._shards[name].alive:
            return
        self._home.pop(channel, None)
        shard = self._shards.get(node.name)
        if shard is None or not shard.alive:
            # The cluster's own credentials (a deployment's nodes need AUTH, docker-compose).
            kwargs = node.redis_connection.connection_pool.connection_kwargs
            credentials = {k: kwargs[k] for k in ("username", "password") if kwargs.get(k)}
            shard = _Shard(node.name, node.host, node.port, self._inbox.put, self._lost,
                           credentials)
            confirmed = shard.confirming[channel] = threading.Event()
            shard.pubsub.ssubscribe(channel)  # connects now: raises before we keep it
            self._shards[node.name] = shard
            shard.start()
        else:
            confirmed = shard.confirming[channel] = threading.Event()
            shard.pubsub.ssubscribe(channel)
        shard.channels.add(channel)
        # Wait for the node to confirm: a publish it handles in the same event-loop pass as an
        # unconfirmed SSUBSCRIBE may come first, and the listener joining right after would
        # miss its own member_update (seen once in four cluster runs).
        if not confirmed.wait(SUBSCRIBE_WAIT):
            shard.confirming.pop(channel, None)
            log.warning("no confirmation of the subscription to %s within %s s", channel,
                        SUBSCRIBE_WAIT)
        self._home[channel] = node.name

    def _lost(self, shard: _Shard, why: str) -> None:
        with self._lock:
            shard.alive = False
            for channel in shard.channels:
                self._home.pop(channel, None)
            if self._shards.get(shard.name) is shard:
                del self._shards[shard.name]
        log.warning("shard subscription %s lost (%s)", shard.name, why)
        shard.close()
        self._inbox.put(_LOST)

    # --- the PubSub slice Fanout uses -------------------------------------------------------
    def get_message(self, timeout: float = 0.0) -> dict | None:
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _LOST:
            raise redis.ConnectionError("a shard's pub/sub connection was lost")
        return {"type": "message", "data": item}

    def ping(self) -> None:
        """Home every wanted channel on its current owner (refreshing the topology first when
        one is homeless), then ping each shard; raises while the cluster cannot serve."""
        with self._lock:
            homeless = [c for c in self._wanted if c not in self._home]
            if homeless:
                self._cluster.nodes_manager.initialize()
                for channel in homeless:
                    self._place(channel)
            # A slot may have moved without breaking anything we hold: re-check homes.
            for channel in list(self._wanted):
                self._place(channel)
            for shard in list(self._shards.values()):
                if shard.alive and shard.channels:
                    shard.pubsub.ping()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            shards, self._shards = list(self._shards.values()), {}
            self._home.clear()
        for shard in shards:
            shard.close()
