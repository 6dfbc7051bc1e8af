"""Nest membership: per-connection counting, liveness TTL keys and live listener counts.

A member is *live* while ``NEST:{id}|MEMBER:{email}`` exists (a TTL refreshed by heartbeats).
``NEST:{id}|MEMBERS`` lists who joined and ``NEST:{id}|MEMBERS-CONN`` counts each member's
open connections, so a member with two tabs stays until the last one closes. Every write is a
guarded script (``echonest.atomic``): a late heartbeat cannot resurrect a deleted nest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from echonest import atomic, events, keys


class QuietableScript(atomic.GuardedScript):
    """A GuardedScript whose body may set ``quiet = true``: no version bump, no event.

    Heartbeats and second tabs change nothing anyone sees; bumping the version for them would
    make every client think it missed an event and refetch.
    """

    def __init__(self, body: str):
        super().__init__(body)
        self.source = (
            "local event_data = nil\nlocal skip_publish = false\nlocal quiet = false\n"
            + atomic.PRE + atomic.GUARD + atomic.PRE_CHECKS + body
            + "\nif quiet then return {0, result} end\n"
            + atomic.BUMP_AND_PUBLISH + "\nreturn {version, result}\n"
        )


# KEYS[5] members set, KEYS[6] connection-count hash, KEYS[7] this member's liveness key.
# ARGV[4] email, ARGV[5] ttl seconds, ARGV[6] liveness key prefix, ARGV[7] now (ISO, UTC).
_HELPERS = """
local function live_members()
  local live = {}
  for _, email in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    if redis.call('EXISTS', ARGV[6] .. email) == 1 then
      table.insert(live, email)
    else
      redis.call('SREM', KEYS[5], email)
      redis.call('HDEL', KEYS[6], email)
    end
  end
  return live
end
local function count_live()
  local n = 0
  for _, email in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    n = n + redis.call('EXISTS', ARGV[6] .. email)
  end
  return n
end
local function touch(now_iso)
  local raw = redis.call('HGET', KEYS[1], nest_id)
  if raw then
    local meta = cjson.decode(raw)
    meta['last_activity'] = now_iso
    redis.call('HSET', KEYS[1], nest_id, cjson.encode(meta))
  end
end
"""

JOIN = QuietableScript(_HELPERS + """
local before = count_live()
redis.call('HINCRBY', KEYS[6], ARGV[4], 1)
redis.call('SADD', KEYS[5], ARGV[4])
redis.call('SET', KEYS[7], '1', 'EX', tonumber(ARGV[5]))
touch(ARGV[7])
local result = #live_members()
event_data = '{"count":' .. result .. '}'
quiet = result == before
""")

LEAVE = QuietableScript(_HELPERS + """
local before = count_live()
local left = redis.call('HINCRBY', KEYS[6], ARGV[4], -1) <= 0
if left then
  redis.call('HDEL', KEYS[6], ARGV[4])
  redis.call('SREM', KEYS[5], ARGV[4])
  redis.call('DEL', KEYS[7])
end
local result = #live_members()
event_data = '{"count":' .. result .. '}'
quiet = result == before
""")

# A heartbeat also re-adds a member whose key lapsed while their connection stayed open
# (a long pause, a slow network); their connection count restarts at one.
HEARTBEAT = QuietableScript(_HELPERS + """
local before = count_live()
redis.call('SADD', KEYS[5], ARGV[4])
redis.call('SET', KEYS[7], '1', 'EX', tonumber(ARGV[5]))
if tonumber(redis.call('HGET', KEYS[6], ARGV[4]) or '0') <= 0 then
  redis.call('HSET', KEYS[6], ARGV[4], 1)
end
local result = #live_members()
event_data = '{"count":' .. result .. '}'
quiet = result == before
""")

PRUNE = QuietableScript(_HELPERS + """
local before = count_live()
local result = live_members()
event_data = '{"count":' .. #result .. '}'
quiet = #result == before
""")


def _run(script: QuietableScript, client: redis.Redis, nest_id: str, email: str,
         ttl_seconds: int, now_iso: str = "") -> Any:
    _, result = script(
        client, nest_id,
        keys_=[keys.members_key(nest_id), keys.members_conn_key(nest_id),
               keys.member_key(nest_id, email)],
        args=[email, int(ttl_seconds), keys.member_key(nest_id, ""), now_iso],
        event=events.MEMBER_UPDATE,
    )
    return result


def join(client: redis.Redis, nest_id: str, email: str, ttl_seconds: int, now_iso: str) -> int:
    """Count one more connection for ``email``; returns the live member count."""
    return int(_run(JOIN, client, nest_id, email, ttl_seconds, now_iso))


def leave(client: redis.Redis, nest_id: str, email: str) -> int:
    """Count one connection fewer; the member leaves with their last one. Returns live count."""
    return int(_run(LEAVE, client, nest_id, email, 1))


def heartbeat(client: redis.Redis, nest_id: str, email: str, ttl_seconds: int) -> int:
    return int(_run(HEARTBEAT, client, nest_id, email, ttl_seconds))


def prune(client: redis.Redis, nest_id: str) -> list[str]:
    """Drop members whose liveness key expired; returns the live members, sorted."""
    return sorted(_run(PRUNE, client, nest_id, "", 1) or [])


# Read-only, server-side: one call per batch of nests instead of one command per nest.
# ARGV[1] key head ("NEST:"), ARGV[2] members-set tail, ARGV[3] liveness-key tail, ARGV[4…] ids.
_COUNT_LUA = """
local head, set_tail, member_tail = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV do
  local nest_id = ARGV[i]
  local emails = redis.call('SMEMBERS', head .. nest_id .. set_tail)
  local n = 0
  for _, email in ipairs(emails) do
    n = n + redis.call('EXISTS', head .. nest_id .. member_tail .. email)
  end
  if n > 0 then
    out[#out + 1] = nest_id
    out[#out + 1] = n
  end
end
return out
"""
COUNT_BATCH = 5000  # nests per script call, so no single call holds Redis for long


def live_member_counts(client: redis.Redis, nest_ids: Iterable[str]) -> dict[str, int]:
    """Live members of many nests, read-only, one server-side script call per 5000 nests."""
    ids = [nest_id for nest_id in nest_ids if isinstance(nest_id, str)]
    counts = dict.fromkeys(ids, 0)
    # Split sample keys around a sentinel id so the script builds keys exactly as keys.py does.
    head, set_tail = keys.members_key("\0").split("\0")
    member_tail = keys.member_key("\0", "").split("\0")[1]
    if keys.cluster_layout():
        from echonest import per_nest

        found = per_nest.run(client, _COUNT_LUA, [
            ([keys.members_key(n)], [head, set_tail, member_tail, n]) for n in ids])
        for flat in found:
            for nest_id, count in zip(flat[::2], flat[1::2], strict=True):
                counts[nest_id] = int(count)
        return counts
    script = client.register_script(_COUNT_LUA)
    for start in range(0, len(ids), COUNT_BATCH):
        flat = script(keys=[], args=[head, set_tail, member_tail,
                                     *ids[start:start + COUNT_BATCH]])
        for nest_id, count in zip(flat[::2], flat[1::2], strict=True):
            counts[nest_id] = int(count)
    return counts
