"""The player worker: one pass over every nest advances songs, records plays, lets Bender fill.

``master_player_tick_all(now)`` is the pure one-pass step; ``run()`` is the thin loop around it
that also runs ``cleanup_tick`` every NEST_CLEANUP_INTERVAL_SECONDS. Several workers may run
against one Redis: a per-nest lock (SET NX PX with an owner token, compare-and-delete release)
makes sure only one of them touches a nest at a time, and ``run`` splits the nests between the
workers by leased buckets (echonest/player_shares.py), so each pass reads only its share.
Idle nests cost no extra round trips: the due check and the listener counts are each one pipelined batch for all nests.

The lock is a short lease (LOCK_MS) that a keeper thread renews while the worker still works on
the nest, so a worker that dies holding it freezes that nest for seconds, not minutes. A Redis
outage is one log line when it starts and one when a whole pass succeeds again, never a
traceback per pass; and the worker stops when the runner that started it is gone.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import threading
import time
import weakref
from datetime import datetime
from typing import Any

import redis

import db as db_module
from config import CONF
from echonest import keys, logs, metrics
from echonest.errors import NestGone
from echonest.membership import QuietableScript, live_member_counts
from echonest.nest_registry import as_utc, decode_metadata, utc_now
from echonest.parent_watch import parent_gone
from nests import MAIN_NEST_ID, NestManager, should_delete_nest

log = logging.getLogger("master_player")

LOCK_MS = 5_000  # a lease: renewed every LOCK_MS/3 while held, so a dead worker's frees fast
LOCK_MAX_HOLD_SECONDS = 120.0  # a nest's work wedged this long stops being renewed

# Redis is unreachable (not a bug in a pass): reported once per outage by the run loop.
# (A cluster mid-failover answers CLUSTERDOWN / MOVED storms: an outage too, not a bug.)
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError,
              redis.exceptions.ClusterError)

# Guarded so a worker that listed a nest just before it was deleted cannot recreate its keys.
_ACQUIRE = QuietableScript("""
local result = 0
if redis.call('SET', KEYS[5], ARGV[4], 'NX', 'PX', tonumber(ARGV[5])) then result = 1 end
quiet = true
""")

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Every lease this worker holds, renewed in one round trip; ARGV = tokens..., ttl_ms.
_RENEW_LUA = """
local renewed = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('PEXPIRE', key, ARGV[#ARGV])
    renewed = renewed + 1
  end
end
return renewed
"""


def lock_key(nest_id: str) -> str:
    return keys.nest_key(nest_id, keys.MASTER_PLAYER_LOCK)


def acquire_lock(client: redis.Redis, nest_id: str, token: str, ttl_ms: int = LOCK_MS) -> bool:
    """Take the nest's player lock for ``token``; False when another worker holds it."""
    _, got = _ACQUIRE(client, nest_id, keys_=[lock_key(nest_id)], args=[token, int(ttl_ms)])
    return bool(got)


def release_lock(client: redis.Redis, nest_id: str, token: str) -> bool:
    """Release only our own lock: after a pause longer than the TTL it may be someone else's."""
    return bool(client.eval(_RELEASE_LUA, 1, lock_key(nest_id), token))


class LeaseKeeper:
    """Renews the nest leases one worker holds, from a thread that lives while any is held.

    The thread dies with the worker process, so a SIGKILLed worker's lease simply expires
    within LOCK_MS; a worker whose nest pass is wedged past LOCK_MAX_HOLD_SECONDS lets go.
    """

    def __init__(self, client: redis.Redis, ttl_ms: int = LOCK_MS):
        self.client, self.ttl_ms = client, int(ttl_ms)
        self._held: dict[str, tuple[str, float]] = {}
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, nest_id: str, token: str) -> None:
        with self._mutex:
            self._held[nest_id] = (token, time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-keeper",
                                                daemon=True)
                self._thread.start()

    def drop(self, nest_id: str) -> None:
        with self._mutex:
            self._held.pop(nest_id, None)

    def renew(self) -> int:
        """One round trip renewing every lease still ours; how many were."""
        now = time.monotonic()
        with self._mutex:
            for nest_id, (_, since) in list(self._held.items()):
                if now - since > LOCK_MAX_HOLD_SECONDS:
                    log.warning("nest %s held for over %.0f s; no longer renewing its lock",
                                nest_id, LOCK_MAX_HOLD_SECONDS)
                    del self._held[nest_id]
            held = list(self._held.items())
        if not held:
            return 0
        lock_keys = [lock_key(nest_id) for nest_id, _ in held]
        tokens = [token for _, (token, _) in held]
        if keys.cluster_layout():
            # Each lock lives in its own nest's slot: one call per lock, one pipeline per shard.
            from echonest import per_nest

            return sum(int(n) for n in per_nest.run(self.client, _RENEW_LUA, [
                ([key], [token, self.ttl_ms]) for key, token in zip(lock_keys, tokens,
                                                                    strict=True)]))
        return int(self.client.eval(_RENEW_LUA, len(lock_keys), *lock_keys, *tokens,
                                    self.ttl_ms))

    def _run(self) -> None:
        while True:
            time.sleep(self.ttl_ms / 3000)
            with self._mutex:
                if not self._held:
                    self._thread = None
                    return
            try:
                self.renew()
            except redis.RedisError:
                pass  # an outage: the run loop reports it; the lease may lapse meanwhile


_keepers: weakref.WeakKeyDictionary[redis.Redis, LeaseKeeper] = weakref.WeakKeyDictionary()
_keepers_mutex = threading.Lock()


def lease_keeper(client: redis.Redis) -> LeaseKeeper:
    with _keepers_mutex:
        keeper = _keepers.get(client)
        if keeper is None:
            keeper = _keepers[client] = LeaseKeeper(client)
        return keeper


def _nest_ids(client: redis.Redis) -> list[str]:
    ids = client.hkeys(keys.NESTS_REGISTRY)
    return ids if MAIN_NEST_ID in ids else [MAIN_NEST_ID, *ids]


def _metadata(raw: str | None, nest_id: str) -> dict[str, Any]:
    return decode_metadata(raw) or {"id": nest_id, "is_main": nest_id == MAIN_NEST_ID}


def _record_play(client: redis.Redis, nest_id: str, finished: dict, now: datetime) -> None:
    try:
        from echonest.history import record_play
    except ImportError:
        return
    try:
        record_play(client, nest_id, finished, now)
    except REDIS_DOWN:
        raise
    except Exception:
        log.exception("could not record a play in nest %s", nest_id)


def _fill(db: Any, catalog: Any, meta: dict[str, Any], now: datetime, listeners: int) -> int:
    try:
        from echonest.bender import fill_nest
    except ImportError:
        return 0
    try:
        return len(fill_nest(db, catalog, meta, now, listeners) or [])
    except REDIS_DOWN:
        raise
    except Exception:
        log.exception("bender failed in nest %s", db.nest_id)
        return 0


class _CatalogOnce:
    """One catalog (one Spotify client and token) for every nest in a pass, built on demand."""

    def __init__(self, catalog: Any, client: redis.Redis):
        self._catalog, self._client, self._tried = catalog, client, catalog is not None

    def get(self) -> Any:
        if not self._tried:
            self._tried = True
            try:
                from echonest.catalog import get_catalog

                self._catalog = get_catalog(CONF, redis_client=self._client)
            except Exception:
                log.exception("no catalog: Bender sits this pass out")
        return self._catalog


def _bender_wanted(meta: dict[str, Any], listeners: int) -> bool:
    # The nest's own bender_enabled is fill_nest's call: switched off, it clears the preview row.
    return bool(CONF.USE_BENDER) and listeners > 0


def _tick_nest(client: redis.Redis, nest_id: str, meta: dict[str, Any], now: datetime,
               is_due: bool, listeners: int, catalogs: _CatalogOnce, summary: dict) -> None:
    token = secrets.token_hex(16)
    if not acquire_lock(client, nest_id, token):
        summary["locked_out"].append(nest_id)
        return
    keeper = lease_keeper(client)
    keeper.hold(nest_id, token)
    try:
        db = db_module.DB(nest_id, init_history_to_redis=False, redis_client=client)
        if is_due:
            finished = db.advance(now)
            summary["advanced"].append(nest_id)
            if finished:
                _record_play(client, nest_id, finished, now)
        if _bender_wanted(meta, listeners):
            catalog = catalogs.get()
            if catalog is not None:
                summary["bender_added"] += _fill(db, catalog, meta, now, listeners)
    finally:
        keeper.drop(nest_id)
        release_lock(client, nest_id, token)


def master_player_tick_all(now: datetime | None = None, redis_client: redis.Redis | None = None,
                           catalog: Any = None, shares: Any = None) -> dict[str, Any]:
    """One pass over all nests — or, with ``shares`` (echonest.player_shares.Shares), over
    the nests of the buckets this worker holds; returns what it did."""
    client = redis_client or _default_client()
    now = as_utc(now) if now is not None else utc_now()
    if shares is not None:
        shares.refresh(int(now.timestamp() * 1000))
        nest_ids = shares.nest_ids()
    else:
        nest_ids = _nest_ids(client)
    if keys.cluster_layout():
        from echonest.per_nest import due_and_live

        due, listeners = due_and_live(client, nest_ids, now.timestamp())
    else:
        due = set(db_module.due_nests(client, nest_ids, now))
        listeners = live_member_counts(client, nest_ids)
    active = [n for n in nest_ids if n in due or (CONF.USE_BENDER and listeners[n] > 0)]
    summary: dict[str, Any] = {"nests": len(nest_ids), "due": sorted(due), "advanced": [],
                               "locked_out": [], "bender_added": 0, "errors": {}}
    if not active:
        return summary
    metas = _current_metas(client, active)
    catalogs = _CatalogOnce(catalog, client)
    for nest_id in active:
        try:
            _tick_nest(client, nest_id, _metadata(metas[nest_id], nest_id), now,
                       nest_id in due, listeners[nest_id], catalogs, summary)
        except NestGone:
            continue  # deleted mid-pass
        except REDIS_DOWN:
            raise  # not this nest's fault: the run loop reports the outage once
        except Exception as exc:
            log.exception("player pass failed for nest %s", nest_id)
            summary["errors"][nest_id] = repr(exc)
    return summary


def _current_metas(client: redis.Redis, nest_ids: list[str]) -> dict[str, str | None]:
    """Each nest's metadata as it is now: the registry, or in the cluster layout the nest's
    own alive hash (where touches land), one pipelined read either way."""
    if not nest_ids:
        return {}
    if not keys.cluster_layout():
        return dict(zip(nest_ids, client.hmget(keys.NESTS_REGISTRY, nest_ids), strict=True))
    pipe = client.pipeline(transaction=False)
    for nest_id in nest_ids:
        pipe.hget(keys.nest_guard_key(nest_id), nest_id)
    return dict(zip(nest_ids, pipe.execute(), strict=True))


def cleanup_tick(now: datetime, redis_client: redis.Redis | None = None,
                 shares: Any = None) -> list[str]:
    """Delete every temporary nest ``should_delete_nest`` condemns; returns the deleted ids.

    With ``shares``, only the nests of this worker's buckets are judged."""
    client = redis_client or _default_client()
    manager = NestManager(client)
    try:
        manager.finish_deletes(now=as_utc(now))
    except REDIS_DOWN:
        raise
    except Exception:
        log.exception("could not finish interrupted nest deletes")
    if shares is not None:
        ids = [n for n in shares.nest_ids() if n != MAIN_NEST_ID]
        found = _current_metas(client, ids)
    elif keys.cluster_layout():
        found = _current_metas(client, [n for n in client.hkeys(keys.NESTS_REGISTRY)
                                        if n != MAIN_NEST_ID])
    else:
        found = client.hgetall(keys.NESTS_REGISTRY)
    metas = {nest_id: _metadata(raw, nest_id) for nest_id, raw in found.items()
             if nest_id != MAIN_NEST_ID and raw is not None}
    if not metas:
        return []
    ids = list(metas)
    members = live_member_counts(client, ids)
    pipe = client.pipeline(transaction=False)
    for nest_id in ids:
        pipe.zcard(keys.nest_key(nest_id, keys.PRIORITY_QUEUE))
    sizes = dict(zip(ids, pipe.execute(), strict=True))
    deleted = []
    for nest_id in ids:
        meta = metas[nest_id]
        if not should_delete_nest(meta, members[nest_id], sizes[nest_id], now):
            continue
        try:
            # Re-checked inside the delete step: someone may have joined since we looked.
            if manager.delete_nest(nest_id, only_if_idle_since=meta.get("last_activity")):
                deleted.append(nest_id)
        except REDIS_DOWN:
            raise
        except Exception:
            log.exception("could not delete idle nest %s", nest_id)
    if deleted:
        log.info("deleted idle nests: %s", ", ".join(deleted))
    return deleted


def nest_cleanup_loop(stop_event: threading.Event | None = None, interval: float | None = None,
                      redis_client: redis.Redis | None = None) -> None:
    """Run ``cleanup_tick`` every ``interval`` seconds until ``stop_event`` is set."""
    stop = stop_event or threading.Event()
    wait = float(interval if interval is not None else CONF.NEST_CLEANUP_INTERVAL_SECONDS or 60)
    while not stop.is_set():
        try:
            cleanup_tick(utc_now(), redis_client)
        except Exception:
            log.exception("nest cleanup pass failed")
        stop.wait(wait)


class OutageLog:
    """One line when Redis becomes unreachable and one when a whole pass succeeds again."""

    def __init__(self, logger: logging.Logger = log):
        self.log = logger
        self.down_since: float | None = None

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.log.warning("Redis unreachable (%s); the player waits for it", exc)

    def succeeded(self) -> None:
        if self.down_since is not None:
            self.log.warning("Redis connection back after %.0f s; the player carries on",
                             time.monotonic() - self.down_since)
            self.down_since = None


def run(stop_event: threading.Event | None = None,
        redis_client: redis.Redis | None = None, parent_pid: int | None = None) -> None:
    """The worker loop: a player pass every PLAYER_TICK_SECONDS, cleanup every interval.

    Ends when ``stop_event`` is set or when ``parent_pid`` (the runner) is gone.
    """
    stop = stop_event or threading.Event()
    client = redis_client or _default_client()
    _start_up(client)
    _start_library_scanner(client, stop)
    from echonest.player_shares import Shares, heal_index

    shares = Shares(client, lease_ms=int(float(CONF.PLAYER_LEASE_SECONDS or 10) * 1000))
    tick = float(CONF.PLAYER_TICK_SECONDS or 1.0)
    cleanup_every = float(CONF.NEST_CLEANUP_INTERVAL_SECONDS or 60)
    next_cleanup = time.monotonic()
    outage = OutageLog()
    while not stop.is_set():
        if parent_gone(parent_pid):
            log.warning("runner %s is gone; stopping", parent_pid)
            stop.set()  # and the background threads (the library scanner) with us
            return
        started = time.monotonic()
        try:
            master_player_tick_all(redis_client=client, shares=shares)
            metrics.observe_pass(time.monotonic() - started, client)
            if started >= next_cleanup:
                heal_index(client)
                cleanup_tick(utc_now(), client, shares=shares)
                next_cleanup = started + cleanup_every
            outage.succeeded()
        except REDIS_DOWN as exc:
            outage.failed(exc)
        except Exception:
            log.exception("player pass failed")
        stop.wait(max(0.05, tick - (time.monotonic() - started)))
    try:
        shares.release_all()
    except redis.RedisError:
        log.warning("could not hand the player buckets back; they lapse after the lease")


def _start_up(client: redis.Redis) -> None:
    try:
        NestManager(client).ensure_main()
    except Exception:
        log.exception("could not ensure the main nest's registry entry")
    try:
        from echonest.player_shares import index_all

        index_all(client, _nest_ids(client))
    except Exception:
        log.exception("could not list the nests in their player buckets")
    try:
        from echonest.history import load_history
    except ImportError:
        return
    try:
        load_history(client)
    except Exception:
        log.exception("could not load play history")


def _start_library_scanner(client: redis.Redis, stop: threading.Event) -> None:
    """Rescan the music folders in the background: a big first scan never delays the player.

    Runs even with no folder configured, so songs of a folder since removed from MUSIC_DIR
    leave the shared index (their audio_url turns null) instead of lingering.
    """
    try:
        from echonest.catalog.library.scan import start_scan_loop

        start_scan_loop(client, CONF, stop)
    except Exception:
        log.exception("could not start the music library scanner")


def _default_client() -> redis.Redis:
    from echonest.store import default_client

    return default_client()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m master_player")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="stop when this process goes away (set by the runner)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logs.configure(CONF)
    metrics.serve_as_player()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("player worker started")
    run(stop, parent_pid=args.parent_pid)
    log.info("player worker stopped")


if __name__ == "__main__":
    main()
