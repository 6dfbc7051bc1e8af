"""How several player workers split the nests among themselves, with no coordinator of ours.

Nests fall into ``keys.PLAYER_BUCKETS`` buckets by hash slot (``nests.player_bucket``); each
bucket lists its nests (a set kept by create/delete). A worker:
- announces itself every pass (``PLAYER_WORKERS``: worker id → deadline; a worker silent for
  a lease TTL drops out of the count),
- aims at ceil(buckets / live workers) buckets, taking free ones with its token (PX lease),
  renewing its own by compare-and-PEXPIRE, and offering any beyond its aim,
- plays only the nests of the buckets it holds: a pass reads its share and nothing else.

Handing over is make-before-break: a bucket beyond the aim is *offered* (its lease value gets
an ``|offered`` mark), not dropped. The offering worker keeps renewing and playing it until a
worker short of its aim takes it over (overwriting the value); its next renew then fails and it
lets go. So when a worker joins, no bucket is ever held by nobody — before this, the released
half of the nests had no player until the newcomer's next pass, or for a whole lease if the
newcomer stalled after announcing itself: a party's next song did not start.

A killed worker stops renewing; its leases lapse within ``lease_ms`` and the others, now
counting one worker fewer, take its buckets on their next pass. Two workers can still overlap
for a moment (a paused worker that lost its lease), which is why the per-nest lock and the
advance script's own "is this song over?" check stay: the lease divides work, the lock and the
script keep a song from being skipped or played twice.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import redis

from echonest import keys, per_nest

OFFERED = "|offered"  # appended to the holder's token while it offers the bucket

# KEYS[1] lease; ARGV[1] token, ARGV[2] ttl ms. 1 = still ours (renewed; offered or not),
# 0 = lost (lapsed, or another worker took our offer).
RENEW_LUA = """
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or value == ARGV[1] .. '""" + OFFERED + """' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] lease; ARGV[1] token, ARGV[2] ttl ms. Take it when free or offered (by anyone, us
# included: a worker short of its aim takes its own offer back first). 1 = taken.
TAKE_LUA = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, -""" + str(len(OFFERED)) + """) ~= '""" + OFFERED + """' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS[1] lease; ARGV[1] token. Mark our own bucket offered (TTL kept); 1 = done, 0 = not ours.
OFFER_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1] .. '""" + OFFERED + """', 'KEEPTTL')
  return 1
end
return 0
"""

# KEYS[1] lease; ARGV[1] token (offered or not).
RELEASE_LUA = """
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or value == ARGV[1] .. '""" + OFFERED + """' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Shares:
    """One worker's buckets. ``refresh(now_ms)`` once per pass, then ``nest_ids()``."""

    def __init__(self, client: redis.Redis, lease_ms: int = 10_000,
                 worker_id: str | None = None, buckets: int | None = None):
        self.client = client
        self.lease_ms = int(lease_ms)
        self.worker_id = worker_id or secrets.token_hex(8)
        self.token = f"{self.worker_id}:{secrets.token_hex(8)}"
        self.buckets = int(buckets or keys.PLAYER_BUCKETS)
        self.held: set[int] = set()     # every bucket this worker plays, offered ones too
        self.offered: set[int] = set()  # held, but waiting for a worker short of its aim
        # Where this worker starts looking for free buckets: spreads first picks apart.
        self._offset = int(self.worker_id[:6], 16) % self.buckets if _is_hex(
            self.worker_id[:6]) else 0

    def refresh(self, now_ms: int) -> set[int]:
        """Heartbeat, renew, give back or take buckets; returns the buckets held now."""
        client = self.client
        pipe = client.pipeline(transaction=False)
        pipe.zadd(keys.PLAYER_WORKERS, {self.worker_id: now_ms + self.lease_ms})
        pipe.zremrangebyscore(keys.PLAYER_WORKERS, "-inf", now_ms)
        pipe.zcard(keys.PLAYER_WORKERS)
        workers = max(1, int(pipe.execute()[2]))
        aim = math.ceil(self.buckets / workers)
        if self.held:
            held = sorted(self.held)
            renewed = per_nest.run(client, RENEW_LUA, [
                ([keys.player_bucket_lease(b)], [self.token, self.lease_ms]) for b in held])
            self.held = {b for b, ok in zip(held, renewed, strict=True) if ok}
            self.offered &= self.held  # an offer someone took is gone from both
        kept = self.held - self.offered
        if len(kept) > aim:
            self._offer(sorted(kept)[aim:])
        elif len(kept) < aim:
            self._take(aim - len(kept))
        return set(self.held)

    def _take(self, wanted: int) -> None:
        """Own offers back first (no hand-over needed), then free or offered buckets."""
        order = [(self._offset + i) % self.buckets for i in range(self.buckets)]
        candidates = sorted(self.offered) + [b for b in order if b not in self.held]
        won = [b for b, ok in zip(candidates, per_nest.run(self.client, TAKE_LUA, [
            ([keys.player_bucket_lease(b)], [self.token, self.lease_ms]) for b in candidates]),
            strict=True) if ok]
        kept, extra = won[:wanted], won[wanted:]
        self.held.update(kept)
        self.offered.difference_update(kept)
        self._offer([b for b in extra if b in self.offered])  # ours still: offer them again
        self._release([b for b in extra if b not in self.held])  # were free: free them again

    def _offer(self, buckets: list[int]) -> None:
        if not buckets:
            return
        marked = per_nest.run(self.client, OFFER_LUA,
                              [([keys.player_bucket_lease(b)], [self.token]) for b in buckets])
        for bucket, ok in zip(buckets, marked, strict=True):
            if ok:
                self.offered.add(bucket)
            else:  # not ours any more (lapsed and taken): stop playing it
                self.held.discard(bucket)
                self.offered.discard(bucket)

    def _release(self, buckets: list[int]) -> None:
        if not buckets:
            return
        per_nest.run(self.client, RELEASE_LUA,
                     [([keys.player_bucket_lease(b)], [self.token]) for b in buckets])
        self.held.difference_update(buckets)
        self.offered.difference_update(buckets)

    def release_all(self) -> None:
        """On a clean stop: hand every bucket over now instead of after the TTL."""
        self._release(sorted(self.held))
        try:
            self.client.zrem(keys.PLAYER_WORKERS, self.worker_id)
        except redis.RedisError:
            pass

    def nest_ids(self) -> list[str]:
        """The nests of the buckets held (one pipelined SMEMBERS per bucket)."""
        held = sorted(self.held)
        if not held:
            return []
        pipe = self.client.pipeline(transaction=False)
        for bucket in held:
            pipe.smembers(keys.player_bucket_nests(bucket))
        found: list[str] = []
        for members in pipe.execute():
            found.extend(sorted(members))
        return found


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return bool(text)


def index_all(client: Any, nest_ids: list[str]) -> None:
    """List every registered nest in its bucket (start-up: nests made before buckets existed,
    or a bucket set lost in a failover, get their place back). Idempotent."""
    from nests import player_bucket

    pipe = client.pipeline(transaction=False)
    for nest_id in nest_ids:
        pipe.sadd(keys.player_bucket_nests(player_bucket(nest_id)), nest_id)
    pipe.execute()


def heal_index(client: Any) -> bool:
    """Re-list every nest when the buckets and the registry disagree in size (a bucket set lost
    with a shard, nests made by an older version). One pipelined count normally; True when it
    re-listed."""
    pipe = client.pipeline(transaction=False)
    pipe.hkeys(keys.NESTS_REGISTRY)
    for bucket in range(keys.PLAYER_BUCKETS):
        pipe.scard(keys.player_bucket_nests(bucket))
    found = pipe.execute()
    registered = set(found[0]) | {"main"}
    if sum(found[1:]) >= len(registered):
        return False
    index_all(client, sorted(registered))
    return True
