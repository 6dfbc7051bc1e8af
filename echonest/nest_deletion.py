"""Deleting a temporary nest: the atomic start (registry entry and code gone, writers refused),
then the sweep of its keys, and finishing sweeps a crash interrupted (nests.NestManager)."""

from __future__ import annotations

from typing import Any

import redis

from echonest import cluster_registry, events, keys
from echonest.errors import EchoNestError, NestGone, NotFound
from echonest.nest_registry import DELETE_START, script_error, utc_now

SCAN_COUNT = 1000


def delete(manager: Any, nest_id: str, only_if_idle_since: str | None) -> bool:
    if keys.cluster_layout():
        return cluster_registry.delete(manager, nest_id, only_if_idle_since)
    client = manager.redis
    try:
        _, started = DELETE_START(
            client, nest_id,
            keys_=[keys.nest_code(nest_id), keys.members_key(nest_id),
                   keys.nest_key(nest_id, keys.PRIORITY_QUEUE), keys.NESTS_BEING_DELETED],
            args=[only_if_idle_since or "", keys.nest_code(""), keys.member_key(nest_id, ""),
                  int(utc_now().timestamp())],
            event=events.NEST_DELETED)
    except EchoNestError as exc:
        if not isinstance(exc, NestGone):
            raise script_error(exc) from None
        # Another caller is mid-delete, or the nest is half-deleted after a crash: finish it.
        if client.exists(keys.nest_deleting(nest_id)):
            purge(client, nest_id)
            return True
        raise NotFound("no such nest") from None
    if not started:
        return False
    purge(client, nest_id)
    return True


def finish(manager: Any, cutoff: float) -> list[str]:
    """Sweeps started before ``cutoff`` (epoch seconds) whose registry entry is gone."""
    client = manager.redis
    finished = []
    if keys.cluster_layout():
        finished += cluster_registry.finish_orphans(manager)
    for nest_id in client.smembers(keys.NESTS_BEING_DELETED):
        started = client.get(keys.nest_deleting(nest_id))
        try:
            stale = started is None or float(started) <= cutoff
        except ValueError:
            stale = True
        if stale and not client.hexists(keys.NESTS_REGISTRY, nest_id):
            purge(client, nest_id)
            finished.append(nest_id)
    return finished


def purge(client: redis.Redis, nest_id: str) -> None:
    """Writers are refused once the registry entry is gone, so this sweep is final; the marker
    keeps the code from being reused until the sweep is done."""
    from nests import player_bucket

    if keys.cluster_layout():
        cluster_registry.purge_slot(client, nest_id)
    else:
        for batch in _scan_batches(client, keys.nest_pattern(nest_id)):
            client.unlink(*batch)
    client.srem(keys.player_bucket_nests(player_bucket(nest_id)), nest_id)
    client.delete(keys.nest_deleting(nest_id))
    client.srem(keys.NESTS_BEING_DELETED, nest_id)


def _scan_batches(client: redis.Redis, pattern: str):
    cursor = 0
    while True:
        cursor, found = client.scan(cursor=cursor, match=pattern, count=SCAN_COUNT)
        if found:
            yield found
        if cursor == 0:
            return
