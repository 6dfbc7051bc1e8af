"""One Redis pub/sub subscription per web process, fanned out to local WebSocket/SSE listeners.

(Cluster mode: one sharded subscription per shard instead, see echonest/web/shard_pubsub.py.)

A nest's channel is subscribed when its first local listener arrives and released with the last
(encode/broadcaster style). Each envelope's heavy payload (queue body, now playing) is built once
per process and serialized once per frame kind; every listener gets the same string object.

Plain ``threading`` primitives: the web server monkey-patches them into greenlets, so no OS
thread is ever made per connection. What is sent is built in echonest.web.frames.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis

from echonest import events, keys, metrics
from echonest.web import memory
from echonest.web.fanout_sources import (  # noqa: F401 - NestReader is imported from here
    NestReader,
    parse_envelope,
    pubsub_client,
)
from echonest.web.frames import (  # noqa: F401 - the names callers import from here
    KINDS,
    SSE,
    SSE_LEGACY,
    WS,
    BodyCache,
    FrameSet,
    QueueFrames,
    legacy_airhorn,
    legacy_position,
    legacy_queue,
)
from echonest.web.outbox import CLOSE, OUTBOX_SIZE, Listener  # noqa: F401 - re-exported
from echonest.web.queue_pacing import QueuePacer

log = logging.getLogger(__name__)


READ_TIMEOUT = 1.0           # pub/sub poll, so stop() and the Redis ping get a turn
SUBSCRIBE_WAIT = 2.0         # seconds a new subscription waits for Redis to confirm it
PUBSUB_PING_SECONDS = 30


class Fanout:
    """The process's single subscriber. ``add``/``remove`` listeners; ``stop`` ends it all."""

    def __init__(self, client: redis.Redis, reader: NestReader, *,
                 position_seconds: float = 10.0):
        self._reader = reader
        self._position_seconds = position_seconds
        from echonest.store import is_cluster

        if is_cluster(client):
            # Cluster mode: SSUBSCRIBE, one connection per shard (echonest.web.shard_pubsub).
            from echonest.web.shard_pubsub import ShardedSubscriber

            self._pubsub = ShardedSubscriber(client)  # its subscribe waits for confirmation
            self._confirming: dict[str, threading.Event] | None = None
        else:
            self._client = pubsub_client(client)
            self._pubsub = self._client.pubsub()
            # SUBSCRIBEs sent and not yet confirmed: a join published in the same event-loop
            # pass as an unconfirmed SUBSCRIBE may be handled first, and the joiner would miss
            # its own member_update (a browser test caught it once).
            self._confirming = {}
        self._listeners: dict[str, set[Listener]] = {}
        # Per nest: the newest queue body read and the newest version everyone was sent.
        self._cache = BodyCache(reader.queue_body, lambda nest_id: nest_id in self._listeners)
        # Serializes writes on the pub/sub connection (SUBSCRIBE/UNSUBSCRIBE/PING) against
        # each other; the reader thread is the only one that reads from it.
        self._lock = threading.Lock()
        # Under a burst, one queue read per nest per QUEUE_READ_GAP shows every change held.
        self._pacer = QueuePacer()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        # After a wave of leaves a nest's listener set keeps the table it grew to
        # (echonest.web.memory); held weakly, so a stopped fan-out is not kept alive.
        memory.on_trim(self._compact)

    def _compact(self) -> None:
        with self._lock:
            for local in self._listeners.values():
                memory.rebuild(local)
            memory.rebuild(self._listeners)

    # --- listeners ---------------------------------------------------------------------------
    def add(self, listener: Listener) -> None:
        self._ensure_started()
        channel = keys.pubsub_channel(listener.nest_id)
        confirmed = None
        with self._lock:
            local = self._listeners.setdefault(listener.nest_id, set())
            local.add(listener)
            if len(local) == 1:
                if self._confirming is not None:
                    confirmed = self._confirming[channel] = threading.Event()
                self._pubsub.subscribe(channel)
            elif self._confirming is not None:
                confirmed = self._confirming.get(channel)
        if confirmed is not None and not confirmed.wait(SUBSCRIBE_WAIT):
            self._confirming.pop(channel, None)
            log.warning("no confirmation of the subscription to %s within %s s", channel,
                        SUBSCRIBE_WAIT)

    def remove(self, listener: Listener) -> None:
        listener.end()
        channel = keys.pubsub_channel(listener.nest_id)
        with self._lock:
            local = self._listeners.get(listener.nest_id)
            if not local or listener not in local:
                return
            local.discard(listener)
            memory.listeners_left()
            if not local:
                del self._listeners[listener.nest_id]
                self._forget(listener.nest_id)
                try:
                    self._pubsub.unsubscribe(channel)
                except redis.RedisError:
                    log.warning("unsubscribe from %s failed; the reconnect drops it", channel)

    def listener_count(self, nest_id: str) -> int:
        return len(self._listeners.get(nest_id, ()))

    def listener_total(self) -> int:
        return sum(len(local) for local in list(self._listeners.values()))

    def _forget(self, nest_id: str) -> None:
        self._cache.forget(nest_id)
        self._pacer.forget(nest_id)

    def queue_body(self, nest_id: str, version: int) -> dict:
        """The queue body showing at least ``version`` (frames.BodyCache)."""
        return self._cache.body(nest_id, version)

    def initial_frames(self, nest_id: str, kind: str) -> list[str]:
        """Current state (queue_update, now_playing) for a new connection, one frame each.

        A burst of joiners costs one version read each, not a queue rebuild each: the body
        the fan-out last read is reused while the nest's version has not moved.
        """
        body = self.queue_body(nest_id, self._reader.version(nest_id))
        version = int(body.get("version") or 0)
        queue_env = events.envelope(events.QUEUE_UPDATE, nest_id, version, body)
        playing_env = events.envelope(events.NOW_PLAYING, nest_id, version,
                                      self._reader.now_playing(nest_id))
        return [FrameSet(queue_env, legacy_queue(body)).frame(kind),
                FrameSet(playing_env).frame(kind)]

    # --- lifecycle ---------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._threads:
            return
        with self._lock:
            if self._threads:
                return
            for target, name in ((self._read_loop, "fanout-reader"),
                                 (self._position_loop, "fanout-position")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            everyone = [lst for local in self._listeners.values() for lst in local]
            self._listeners.clear()
        for listener in everyone:
            listener.end("shutdown")
        try:
            self._pubsub.close()
        except redis.RedisError:
            pass

    # --- reading -----------------------------------------------------------------------------
    def _read_loop(self) -> None:
        next_ping = time.monotonic() + PUBSUB_PING_SECONDS
        outage = False
        while not self._stopping.is_set():
            try:
                message = self._next_message()
                kind = message.get("type") if message else None
                if kind == "message":
                    self._receive(message["data"])
                elif kind == "subscribe" and self._confirming:
                    channel = message.get("channel")
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    confirmed = self._confirming.pop(channel, None)
                    if confirmed is not None:
                        confirmed.set()
                for held in self._pacer.due():
                    self._dispatch(held)
                if time.monotonic() >= next_ping:
                    next_ping = time.monotonic() + PUBSUB_PING_SECONDS
                    self._ping()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                if self._stopping.is_set():
                    return
                if not outage:
                    log.warning("pub/sub connection lost (%s); reconnecting", exc)
                outage = True
                self._stopping.wait(1.0)
                # redis-py resubscribes on reconnect; whatever was published meanwhile is
                # lost, so every local listener gets a fresh snapshot once Redis answers.
                if self._resync():
                    log.warning("pub/sub connection back; listeners resynced")
                    outage = False
            except Exception:
                if self._stopping.is_set():
                    return  # stop() closed the connection under us
                log.exception("fan-out reader error; carrying on")
                self._stopping.wait(0.5)

    def _next_message(self) -> dict | None:
        """The next pub/sub message, waiting no longer than the first held queue update may.

        redis-py applies get_message's timeout to reading the message too, so a short wait
        only looks for data; a message that has begun to arrive gets the full READ_TIMEOUT
        (the sharded subscriber hands over whole messages from its own queue)."""
        wait = self._pacer.wait(READ_TIMEOUT)
        if wait < READ_TIMEOUT and self._confirming is not None:
            connection = self._pubsub.connection
            if connection is None or not connection.can_read(timeout=wait):
                return None
        return self._pubsub.get_message(timeout=READ_TIMEOUT)

    def _ping(self) -> None:
        with self._lock:
            if self._pubsub.subscribed:
                self._pubsub.ping()

    def _resync(self) -> bool:
        try:
            with self._lock:
                if self._listeners:
                    self._pubsub.ping()  # reconnects (and resubscribes) now, or raises
            for nest_id in list(self._listeners):
                self._forget(nest_id)  # whatever we held may predate the outage
                version = self._reader.version(nest_id)
                for event in (events.QUEUE_UPDATE, events.NOW_PLAYING):
                    self.dispatch(events.dumps(events.envelope(event, nest_id, version)))
        except (redis.RedisError, OSError):
            return False
        return True

    def _receive(self, raw: str) -> None:
        """The reader's way in: queue updates paced per nest (echonest.web.queue_pacing)."""
        env = parse_envelope(raw)
        if env is None:
            return
        if env["event"] == events.QUEUE_UPDATE:
            if self._pacer.admit(env):
                self._dispatch(env)
            return
        held = self._pacer.take(env["nest"])
        if held is not None:
            self._dispatch(held)
        self._dispatch(env)

    def dispatch(self, raw: str) -> None:
        """Fill in one published envelope's payload and hand its frames to local listeners."""
        env = parse_envelope(raw)
        if env is not None:
            self._dispatch(env)

    def _dispatch(self, env: dict) -> None:
        nest_id = env["nest"]
        local = list(self._listeners.get(nest_id, ()))
        if not local:
            return
        self._deliver(env, local)
        if env["event"] == events.NOW_PLAYING:
            # A song starting leaves the queue in the same atomic step, but a write publishes
            # one event: the queue listeners see is refreshed alongside.
            self._deliver({**env, "event": events.QUEUE_UPDATE, "data": {}}, local)

    def _deliver(self, env: dict, local: list) -> None:
        is_queue = env["event"] == events.QUEUE_UPDATE
        if is_queue and self._cache.already_sent(env["nest"], env["v"]):
            return  # every local listener already holds a body showing this change
        frames = self._frames_for(env, {lst.kind for lst in local})
        if frames is None:
            return
        for listener in local:
            if is_queue:
                listener.deliver_queue(frames)
            else:
                listener.deliver(frames.frame(listener.kind))
            if env["event"] == events.NEST_DELETED:
                listener.end("nest_deleted")
            elif (env["event"] == events.MEMBER_KICKED and listener.user
                  and listener.user == (env.get("data") or {}).get("user")):
                listener.end("kicked")
        if is_queue:
            self._cache.sent(env["nest"], int(frames.env["data"].get("version") or 0))
        elif env["event"] == events.NEST_DELETED:
            self._forget(env["nest"])
        metrics.fanned_out(len(local))

    def _frames_for(self, env: dict, kinds: set[str]) -> FrameSet | None:
        nest_id, event = env["nest"], env["event"]
        try:
            if event == events.QUEUE_UPDATE:
                body = self.queue_body(nest_id, env["v"])
                env = {**env, "data": body}
                return QueueFrames(env, legacy_queue(body) if SSE_LEGACY in kinds else None,
                                   self._cache.previous(nest_id, body))
            if event == events.NOW_PLAYING:
                return FrameSet({**env, "data": self._reader.now_playing(nest_id)})
            if event == events.AIRHORN:
                data = self._with_name(nest_id, env["data"])
                return FrameSet({**env, "data": data}, legacy_airhorn(data))
        except Exception:
            # A nest deleted between the publish and this read, or Redis hiccuping: the
            # next event (or the client's refetch on a version gap) catches up.
            log.warning("could not build %s for nest %s", event, nest_id, exc_info=True)
            return None
        return FrameSet(env)

    def _with_name(self, nest_id: str, data: Any) -> Any:
        """An airhorn's data plus who fired it by name, looked up once for every listener."""
        user = data.get("user") if isinstance(data, dict) else None
        if not isinstance(user, str) or not user:
            return data
        try:
            known = self._reader.names(nest_id, [user]).get(user) or {}
        except Exception:
            # A horn without a name still sounds; the page falls back to a generic name.
            log.warning("could not look up the name of %.80r", user, exc_info=True)
            return data
        return {**data, "user_name": known.get("name", ""),
                "avatar_url": known.get("avatar_url", "")}

    # --- player position --------------------------------------------------------------------
    def _position_loop(self) -> None:
        while not self._stopping.wait(self._position_seconds):
            for nest_id in list(self._listeners):
                try:
                    self._emit_position(nest_id)
                except Exception:
                    log.warning("player_position for %s failed", nest_id, exc_info=True)

    def _emit_position(self, nest_id: str) -> None:
        playing = self._reader.now_playing(nest_id)
        if not playing.get("id"):
            return
        data = {name: playing.get(name) for name in
                ("id", "starttime", "endtime", "pos", "paused", "now")}
        version = self._reader.version(nest_id)
        env = events.envelope(events.PLAYER_POSITION, nest_id, version, data)
        frames = FrameSet(env, legacy_position(data, playing))
        for listener in list(self._listeners.get(nest_id, ())):
            listener.deliver(frames.frame(listener.kind))
