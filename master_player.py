"""The player worker: one pass over every nest advances songs, records plays, lets Bender fill.

``master_player_tick_all(now)`` is the pure one-pass step; ``run()`` is the thin loop around it
that also runs ``cleanup_tick`` every NEST_CLEANUP_INTERVAL_SECONDS. Several workers may run
against one Redis: a per-nest lock (SET NX PX with an owner token, compare-and-delete release)
makes sure only one of them touches a nest at a time, and ``run`` splits the nests between the
workers by leased buckets (echonest/player_shares.py), so each pass reads only its share.
Idle nests cost no extra round trips: the due check and the listener counts are each one pipelined batch for all nests.

The lock is a short lease that a keeper thread renews while the worker still works on the nest
(echonest/player_lock.py); start-up chores and the library scanner thread are in
echonest/player_startup.py. A Redis
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
from datetime import datetime
from typing import Any

import redis

import db as db_module
from config import CONF
from echonest import keys, logs, metrics
from echonest.errors import NestGone
from echonest.membership import live_member_counts
from echonest.nest_registry import as_utc, decode_metadata, utc_now
from echonest.parent_watch import parent_gone
from echonest.player_lock import (  # noqa: F401 (LOCK_MS, LeaseKeeper: tests read them here)
    LOCK_MS,
    LeaseKeeper,
    acquire_lock,
    lease_keeper,
    lock_key,
    release_lock,
)
from echonest.player_startup import start_library_scanner, start_up
from nests import MAIN_NEST_ID, NestManager, should_delete_nest

log = logging.getLogger("master_player")

# Redis is unreachable (not a bug in a pass): reported once per outage by the run loop.
# (A cluster mid-failover answers CLUSTERDOWN / MOVED storms: an outage too, not a bug.)
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError,
              redis.exceptions.ClusterError)

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
    start_up(client)
    start_library_scanner(client, stop)
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
