"""Guarded atomic writes: the one way anything writes under ``NEST:{id}|``.

Every write runs inside one Lua script that (1) refuses when the nest is not in the registry or
is being deleted — so no writer can recreate a deleted nest's keys — (2) applies the writes,
(3) bumps the nest version, (4) records which queue items' content it changed, at that version
(``QUEUE_REVS``: the fan-out then re-reads only those, echonest/queue_revs.py) and (5) publishes
one event envelope on the nest's channel. Scripts run atomically in Redis, so a user action
fully happens or not at all, in one round trip.

Actions with read-modify-write rules (votes, fair ordering, limits) get their own script body
via ``GuardedScript``: the shared ``GUARD`` and ``BUMP_AND_PUBLISH`` snippets wrap it.

Cluster layout: KEYS[1] is the nest's own alive hash (nest id → metadata, in the nest's slot)
instead of the global registry, the deleting marker lives in the nest's slot, and the event
goes out by SPUBLISH (sharded pub/sub: only the nest's shard carries it). The bodies are the
same; no script touches a key outside the nest's slot.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from echonest import keys
from echonest.errors import EchoNestError, NestGone, RateLimited, StaleNest

# KEYS[1] registry (cluster: the nest's alive hash), KEYS[2] deleting marker, KEYS[3] version key, KEYS[4] channel name.
# ARGV[1] nest id, ARGV[2] event name ('' = none), ARGV[3] event data JSON.
GUARD = """
local nest_id = ARGV[1]
if nest_id ~= 'main' and redis.call('HEXISTS', KEYS[1], nest_id) == 0 then
  return redis.error_reply('NESTGONE nest ' .. nest_id .. ' does not exist')
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return redis.error_reply('NESTGONE nest ' .. nest_id .. ' is being deleted')
end
"""


def _lua_pattern(family: str) -> str:
    """``^QUEUE|(%d+)$``: a Lua pattern matching one item key family (relative to the nest)."""
    escaped = "".join("%" + ch if ch in "^$()%.[]*+-?" else ch for ch in family)
    return "^" + escaped + "(%d+)$"


# The four key families an item's shown content lives in (queue_shapes.item_from_entry reads
# exactly these): a guarded write to any of them marks the item changed at the new version.
ITEM_FAMILIES = (keys.queue_item(""), keys.queue_votes(""), keys.queue_jams(""),
                 keys.comments(""))

# Incremental queue reads (echonest/queue_revs.py). Every guarded call also appends two
# arguments (removed here): the nest's key prefix and its QUEUE_REVS zset. Inside the script
# ``redis`` is shadowed by a wrapper that notes the item id of every non-read command on an
# item key, so no body (queue, player, Bender, atomic.apply) can change an item unrecorded.
REVS_WATCH = """
local revs_redis = redis
local revs_ids, revs_seen = {}, {}
local REVS_AT = #REVS_NEST + 1
-- Commands whose later arguments may be keys too, searched as text (no table to build per
-- call; a name that merely contains one of these only costs a look at its arguments).
local REVS_MULTI = ' DEL UNLINK EXISTS RENAME RENAMENX COPY SMOVE LMOVE RPOPLPUSH SORT MSET '
  .. 'MSETNX SUNIONSTORE SINTERSTORE SDIFFSTORE ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZRANGESTORE '
-- Commands that never write: passed over before any key is looked at. Any other command on an
-- item key counts as a change (when in doubt, record: a needless record only costs a re-read
-- of that item). Upper case, as every script spells commands (test/test_queue_revs.py checks).
local REVS_READS = {GET = 1, MGET = 1, EXISTS = 1, TYPE = 1, TTL = 1, PTTL = 1, HGET = 1,
  HMGET = 1, HGETALL = 1, HEXISTS = 1, HLEN = 1, HKEYS = 1, HVALS = 1, SMEMBERS = 1, SCARD = 1,
  SISMEMBER = 1, LRANGE = 1, LLEN = 1, LINDEX = 1, ZRANGE = 1, ZRANGEBYSCORE = 1, ZRANK = 1,
  ZREVRANK = 1, ZSCORE = 1, ZCARD = 1, ZCOUNT = 1, TIME = 1}
-- The item id if ``k`` is one of this nest's item keys (most keys fail on one byte).
local function revs_item(k)
  if type(k) ~= 'string' then return nil end
  local b = string.byte(k, REVS_AT)
  if not (""" + " or ".join(f"b == {b}" for b in sorted({ord(f[0]) for f in ITEM_FAMILIES})) \
    + """) or string.find(k, REVS_NEST, 1, true) ~= 1 then return nil end
  return """ + "\n    or ".join(f"string.match(k, '{_lua_pattern(f)}', REVS_AT)"
                                for f in ITEM_FAMILIES) + """
end
local function revs_add(id)
  if id and not revs_seen[id] then revs_seen[id] = true; revs_ids[#revs_ids + 1] = id end
end
local function revs_note(cmd, k, ...)
  if REVS_READS[cmd] then return end
  local id = revs_item(k)
  if id then
    revs_add(id)
  elseif select('#', ...) == 0 or type(cmd) ~= 'string'
      or not string.find(REVS_MULTI, cmd, 1, true) then
    return
  end
  for i = 1, select('#', ...) do revs_add(revs_item((select(i, ...)))) end
end
local redis = setmetatable({
  call = function(...) revs_note(...); return revs_redis.call(...) end,
  pcall = function(...) revs_note(...); return revs_redis.pcall(...) end,
}, {__index = revs_redis})
"""

# After the version bump, on every guarded write: each noted item still there gets score = the
# new version, a gone one leaves. Two members that are not items say how far the set vouches:
# '^' (score -v) is the last version this code recorded, and the marker '~<since>:<time>'
# (score 0) the version from which no write went unrecorded. A write finding that the version
# before its own was not recorded here (data from before this code, a deleted set, a process
# still running older code during a rolling upgrade) starts a new marker; readers holding a body
# under the old one read in full.
REVS_RECORD = """
if tonumber(revs_redis.call('ZSCORE', REVS_KEY, '^') or '1') ~= 1 - version then
  local t = revs_redis.call('TIME')
  revs_redis.call('ZREMRANGEBYSCORE', REVS_KEY, 0, 0)
  revs_redis.call('ZADD', REVS_KEY, 0, '~' .. version .. ':' .. t[1] .. '.' .. t[2])
end
revs_redis.call('ZADD', REVS_KEY, -version, '^')
for _, id in ipairs(revs_ids) do
  if revs_redis.call('EXISTS', REVS_NEST .. '""" + keys.queue_item("") + """' .. id) == 1 then
    revs_redis.call('ZADD', REVS_KEY, version, id)
  else
    revs_redis.call('ZREM', REVS_KEY, id)
  end
end
"""

# Every guarded call appends one last argument (removed here, before the guard, so bodies never
# see it; the two revs arguments before it likewise): '' or a JSON "pre" step folded into the same round trip — rate-limit checks
# ({key, limit, ttl, cost, retry, message}: cost 0 only reads, refusing at count >= limit;
# cost > 0 counts, refusing above limit), ``touch`` (the nest's new last_activity) and ``meta``
# (the SHA-1 of the nest's registry JSON without last_activity, as the caller decided on it:
# anything else there refuses with STALENEST before any write).
PRE = """
local PRE_RAW = table.remove(ARGV)
local REVS_KEY = table.remove(ARGV)
local REVS_NEST = table.remove(ARGV)
""" + REVS_WATCH

PRE_CHECKS = """
if PRE_RAW ~= '' then
  local pre = cjson.decode(PRE_RAW)
  local activity = '"last_activity"%s*:%s*"[^"]*"'
  if pre.meta then
    local raw = redis.call('HGET', KEYS[1], nest_id) or ''
    if redis.sha1hex((string.gsub(raw, activity, ''))) ~= pre.meta then
      return redis.error_reply('STALENEST metadata changed')
    end
  end
  for i, c in ipairs(pre.limits or {}) do
    local count
    if c.cost > 0 then
      count = redis.call('INCRBY', c.key, c.cost)
      if count == c.cost then redis.call('EXPIRE', c.key, c.ttl) end
    else
      count = tonumber(redis.call('GET', c.key) or '0')
    end
    if (c.cost > 0 and count > c.limit) or (c.cost == 0 and count >= c.limit) then
      return redis.error_reply('RATELIMITED ' .. i .. ' ' .. c.retry .. ' ' .. c.message)
    end
  end
  if pre.touch then
    local raw = redis.call('HGET', KEYS[1], nest_id)
    if raw then
      -- In place, so the rest of the metadata keeps its exact bytes (its fingerprint).
      local touched, n = string.gsub(raw, '("last_activity"%s*:%s*")[^"]*"', '%1' .. pre.touch .. '"', 1)
      if n == 0 then
        local meta = cjson.decode(raw)
        meta['last_activity'] = pre.touch
        touched = cjson.encode(meta)
      end
      redis.call('HSET', KEYS[1], nest_id, touched)
    end
  end
end
"""

# Body scripts may set `event_data` (a JSON string) to override ARGV[3] and `skip_publish`.
BUMP_AND_PUBLISH = """
local version = redis.call('INCR', KEYS[3])
""" + REVS_RECORD + """
local event_name = ARGV[2]
if event_name ~= '' and not skip_publish then
  local data = event_data or ARGV[3]
  redis.call('PUBLISH', KEYS[4], '{"event":"' .. event_name .. '","nest":"' .. nest_id ..
    '","v":' .. version .. ',"data":' .. data .. '}')
end
"""

# A body raises a domain error with: return redis.error_reply('DOMAIN <code> <status> <message>')
APPLY_BODY = """
local commands = cjson.decode(ARGV[4])
for _, cmd in ipairs(commands) do
  redis.call(unpack(cmd))
end
local result = #commands
"""

N_BASE_KEYS = 4
N_BASE_ARGS = 3


class GuardedScript:
    """A Lua body wrapped in the nest guard and the version bump/publish.

    The body sees KEYS[5…] and ARGV[4…] as its own arguments, and returns through a local
    named ``result`` (any Redis-encodable value). It may set ``event_data`` (JSON string) or
    ``skip_publish = true`` (for no-op actions that must not wake every listener).
    ``pre`` (see ``PRE``) folds an action's rate limits and activity touch into the same call.
    """

    def __init__(self, body: str):
        self.source = (
            "local event_data = nil\nlocal skip_publish = false\n"
            + PRE + GUARD + PRE_CHECKS + body + BUMP_AND_PUBLISH + "\nreturn {version, result}\n"
        )
        self._scripts: dict[tuple[int, bool], Any] = {}

    def __call__(self, client: redis.Redis, nest_id: str, *, keys_: list[str] = (),
                 args: list[Any] = (), event: str = "", data: dict | None = None,
                 pre: dict | None = None):
        sharded = keys.cluster_layout()
        script = self._scripts.get((id(client), sharded))
        if script is None:
            source = sharded_source(self.source) if sharded else self.source
            script = self._scripts[(id(client), sharded)] = client.register_script(source)
        base_keys = [
            keys.nest_guard_key(nest_id),
            keys.nest_deleting(nest_id),
            keys.nest_key(nest_id, keys.VERSION),
            keys.pubsub_channel(nest_id),
        ]
        base_args = [nest_id, event, json.dumps(data or {}, separators=(",", ":"))]
        revs = [keys.nest_prefix(nest_id), keys.nest_key(nest_id, keys.QUEUE_REVS)]
        tail = revs + [json.dumps(pre, separators=(",", ":")) if pre else ""]
        try:
            version, result = script(keys=base_keys + list(keys_),
                                     args=base_args + list(args) + tail, client=client)
        except redis.ResponseError as exc:
            raise translate_error(exc) from None
        return int(version), result


def sharded_source(source: str) -> str:
    """The same script publishing with SPUBLISH (cluster layout: the channel is in KEYS[4],
    in the nest's slot, so the event stays on the nest's shard)."""
    return source.replace("redis.call('PUBLISH', KEYS[4]", "redis.call('SPUBLISH', KEYS[4]")


def translate_error(exc: redis.ResponseError) -> Exception:
    """Turn a script's error_reply into the matching domain error."""
    text = str(exc)
    if "STALENEST" in text:
        return StaleNest("the nest's metadata changed")
    if "RATELIMITED " in text:
        index, retry, message = text.split("RATELIMITED ", 1)[1].split(" ", 2)
        refused = RateLimited(message, retry_after=int(retry))
        refused.limit_index = int(index) - 1  # which of the pre step's limits refused
        return refused
    if "NESTGONE" in text:
        return NestGone(text.split("NESTGONE", 1)[1].strip() or "nest is gone")
    if "DOMAIN " in text:
        _, rest = text.split("DOMAIN ", 1)
        code, status, message = rest.split(" ", 2)
        return EchoNestError(message, code=code, status=int(status))
    return exc


_APPLY = GuardedScript(APPLY_BODY)


def apply(client: redis.Redis, nest_id: str, commands: list[list[Any]], *, event: str = "",
          data: dict | None = None, pre: dict | None = None) -> int:
    """Run plain write commands for one nest atomically (guarded, versioned, published).

    ``commands`` are full Redis commands with already-prefixed keys, e.g.
    ``[["SET", "NEST:main|MISC|volume", 40]]``. Returns the new nest version.
    """
    # Command names in upper case, as the revs watch (REVS_WATCH) reads them.
    commands = [[str(cmd[0]).upper(), *cmd[1:]] for cmd in commands]
    version, _ = _APPLY(client, nest_id, args=[json.dumps(commands)], event=event, data=data,
                        pre=pre)
    return version


def current_version(client: redis.Redis, nest_id: str) -> int:
    return int(client.get(keys.nest_key(nest_id, keys.VERSION)) or 0)
