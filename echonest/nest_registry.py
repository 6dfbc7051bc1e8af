"""Registry scripts for nests: create, update, touch, start of delete (each one atomic step).

Create cannot use the nest guard (the nest does not exist yet), so it is its own script that
claims the code with SET NX and checks the active-nest limit in the same step. Every other
registry write for a nest is guarded: once a nest is gone, nothing can bring its entry back.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from echonest.errors import EchoNestError, Forbidden, InvalidRequest, NotFound
from echonest.membership import QuietableScript

log = logging.getLogger(__name__)

# The caps on active nests, as one piece of two scripts below (single-server create, cluster
# reservation). Needs locals ``registry`` (the registry hash) and ``by_ip`` (nest id → creator's
# address); ARGV[3] max active temporary nests, ARGV[4] main id, ARGV[5] creator id, ARGV[6] max
# active per creator (0 = none), ARGV[7] creator's address ('' = unknown), ARGV[8] max active
# per address (0 = none), ARGV[9] '1' = exempt from every cap (the operator token: guests
# filling the slots must never lock the operator out). Addresses of deleted nests are dropped
# here, lazily: the registry is the truth.
_CAPS = """
if ARGV[9] ~= '1' then
  local active = redis.call('HLEN', registry) - redis.call('HEXISTS', registry, ARGV[4])
  if active >= tonumber(ARGV[3]) then return 'LIMIT' end
  local per_user = tonumber(ARGV[6])
  if per_user > 0 then
    local mine = 0
    for _, raw in ipairs(redis.call('HVALS', registry)) do
      local ok, meta = pcall(cjson.decode, raw)
      if ok and type(meta) == 'table' and meta.created_by == ARGV[5]
         and meta.is_main ~= true then
        mine = mine + 1
      end
    end
    if mine >= per_user then return 'USER_LIMIT' end
  end
  local per_ip = tonumber(ARGV[8])
  if per_ip > 0 and ARGV[7] ~= '' then
    local from_ip = 0
    local pairs_ = redis.call('HGETALL', by_ip)
    for i = 1, #pairs_, 2 do
      if redis.call('HEXISTS', registry, pairs_[i]) == 0 then
        redis.call('HDEL', by_ip, pairs_[i])
      elseif pairs_[i + 1] == ARGV[7] then
        from_ip = from_ip + 1
      end
    end
    if from_ip >= per_ip then return 'IP_LIMIT' end
  end
end
"""

# KEYS[1] registry, KEYS[2] code lookup, KEYS[3] lower-case lookup (a vanity code that would
# shadow the code), KEYS[4] the code's deleting marker, KEYS[5] nest id → creator's address.
# ARGV[1] nest id, ARGV[2] metadata JSON, ARGV[3..9] the caps' (above).
CREATE_LUA = "local registry, by_ip = KEYS[1], KEYS[5]" + _CAPS + """
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1
   or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 'TAKEN'
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX') then return 'TAKEN' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[5], ARGV[1], ARGV[7]) end
return 'OK'
"""

_LOAD_META = """
local raw = redis.call('HGET', KEYS[1], nest_id)
if not raw then return redis.error_reply('DOMAIN not_found 404 no such nest') end
local meta = cjson.decode(raw)
"""

# UPDATE's head and tail, shared by both layouts; only the vanity code's bookkeeping differs.
# ARGV[4] acting user, ARGV[5] JSON of plain fields to set, ARGV[6] keep|set|clear,
# ARGV[7] new vanity code.
_UPDATE_HEAD = """
if nest_id == 'main' then
  return redis.error_reply('DOMAIN forbidden 403 the Home Nest cannot be changed')
end
""" + _LOAD_META + """
if meta['is_main'] == true then
  return redis.error_reply('DOMAIN forbidden 403 the Home Nest cannot be changed')
end
if meta['created_by'] ~= ARGV[4] then
  return redis.error_reply('DOMAIN forbidden 403 only the nest creator can change it')
end
local mode = ARGV[6]
"""

_UPDATE_TAIL = """
for field, value in pairs(cjson.decode(ARGV[5])) do meta[field] = value end
local result = cjson.encode(meta)
redis.call('HSET', KEYS[1], nest_id, result)
event_data = result
"""

# Single server. KEYS[5] new vanity lookup (lower case), KEYS[6] the same text as a code lookup
# (upper case); ARGV[8] lookup key prefix ("NESTS|code:").
UPDATE = QuietableScript(_UPDATE_HEAD + """
if mode == 'set' then
  local owner = redis.call('GET', KEYS[5])
  if (owner and owner ~= nest_id) or redis.call('EXISTS', KEYS[6]) == 1 then
    return redis.error_reply('DOMAIN invalid_request 400 that vanity code is already taken')
  end
end
local old = meta['vanity_code']
if mode ~= 'keep' and type(old) == 'string' and old ~= ARGV[7] then
  if redis.call('GET', ARGV[8] .. old) == nest_id then redis.call('DEL', ARGV[8] .. old) end
end
if mode == 'set' then
  redis.call('SET', KEYS[5], nest_id)
  meta['vanity_code'] = ARGV[7]
elseif mode == 'clear' then
  meta['vanity_code'] = nil
end
""" + _UPDATE_TAIL)

# ARGV[4] now (ISO). Nobody's screen changes when last_activity moves: no version bump.
TOUCH = QuietableScript("""
local result = 0
local raw = redis.call('HGET', KEYS[1], nest_id)
if raw then
  local meta = cjson.decode(raw)
  meta['last_activity'] = ARGV[4]
  redis.call('HSET', KEYS[1], nest_id, cjson.encode(meta))
  result = 1
end
quiet = true
""")

# KEYS[5] code lookup, KEYS[6] members set, KEYS[7] priority queue, KEYS[8] set of ids being
# deleted. ARGV[4] last_activity the caller saw ('' = delete unconditionally), ARGV[5] lookup
# prefix, ARGV[6] member liveness key prefix, ARGV[7] now (epoch seconds, the marker's value). With ARGV[4] set, the nest is only deleted if it is still
# as idle as the cleanup worker saw it: nobody joined or queued a song in between.
DELETE_START = QuietableScript("""
if nest_id == 'main' then
  return redis.error_reply('DOMAIN forbidden 403 the Home Nest cannot be deleted')
end
""" + _LOAD_META + """
local result = 1
if ARGV[4] ~= '' then
  local busy = meta['last_activity'] ~= ARGV[4] or redis.call('ZCARD', KEYS[7]) > 0
  for _, email in ipairs(redis.call('SMEMBERS', KEYS[6])) do
    if redis.call('EXISTS', ARGV[6] .. email) == 1 then busy = true end
  end
  if busy then result = 0 end
end
if result == 1 then
  redis.call('SET', KEYS[2], ARGV[7])
  redis.call('SADD', KEYS[8], nest_id)
  redis.call('HDEL', KEYS[1], nest_id)
  if redis.call('GET', KEYS[5]) == nest_id then redis.call('DEL', KEYS[5]) end
  local vanity = meta['vanity_code']
  if type(vanity) == 'string' and redis.call('GET', ARGV[5] .. vanity) == nest_id then
    redis.call('DEL', ARGV[5] .. vanity)
  end
else
  quiet = true
end
""")


# --- cluster layout ---------------------------------------------------------------------------
# The registry, the code lookups and the delete set are global keys (other slots than the
# nest's), so in a cluster the steps above are split: each script below touches only the
# nest's own slot (KEYS[1] is the nest's alive hash, see echonest.keys.nest_guard_key), and
# nests.NestManager does the global lookups as separate calls around it.

# The cluster create's first step, in the registry's slot: every cap and the registry entry in
# one script, so concurrent creates cannot overshoot a cap. The entry is a reservation (its
# metadata carries ``creating_until``, epoch ms) until the nest exists in its own slot.
# KEYS[1] registry, KEYS[2] nest id → creator's address (tagged into the registry's slot);
# ARGV as CREATE_LUA's, ARGV[2] the reservation's metadata.
RESERVE_LUA = "local registry, by_ip = KEYS[1], KEYS[2]" + _CAPS + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'TAKEN' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[7]) end
return 'OK'
"""

# Undo a reservation whose create failed, only while it is still that reservation.
# KEYS as RESERVE_LUA's; ARGV[1] nest id, ARGV[2] the reservation's metadata.
RELEASE_RESERVATION_LUA = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""

# KEYS[1] alive hash, KEYS[2] deleting marker; ARGV[1] nest id, ARGV[2] metadata JSON.
CREATE_ALIVE_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
"""

# Cluster layout: UPDATE without the code lookups (nests.NestManager claims the new vanity code
# with SET NX before and releases the old one after). KEYS[5] the nest's vanity key.
UPDATE_CLUSTER = QuietableScript(_UPDATE_HEAD + """
if mode == 'set' then
  redis.call('SET', KEYS[5], ARGV[7])
  meta['vanity_code'] = ARGV[7]
elseif mode == 'clear' then
  redis.call('DEL', KEYS[5])
  meta['vanity_code'] = nil
end
""" + _UPDATE_TAIL)

# DELETE_START within the nest's slot: the idle re-check, then the marker and the end of the
# alive hash (from here every guarded write is refused). Returns the metadata JSON (so the
# caller can release its codes) or 0 when the nest turned out busy.
# KEYS[5] members set, KEYS[6] priority queue; ARGV[4] last_activity seen ('' = always),
# ARGV[5] member liveness key prefix, ARGV[6] now (epoch seconds).
DELETE_START_CLUSTER = QuietableScript("""
if nest_id == 'main' then
  return redis.error_reply('DOMAIN forbidden 403 the Home Nest cannot be deleted')
end
""" + _LOAD_META + """
local result = raw
if ARGV[4] ~= '' then
  local busy = meta['last_activity'] ~= ARGV[4] or redis.call('ZCARD', KEYS[6]) > 0
  for _, email in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    if redis.call('EXISTS', ARGV[5] .. email) == 1 then busy = true end
  end
  if busy then result = 0 end
end
if result ~= 0 then
  redis.call('SET', KEYS[2], ARGV[6])
  redis.call('DEL', KEYS[1])
else
  quiet = true
end
""")

# Compare-and-delete of one lookup key: drop a code only while it still names this nest.
RELEASE_CODE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC; a naive datetime is read as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def as_utc(value: Any) -> datetime | None:
    """A datetime, epoch seconds or ISO string (naive = UTC) → aware UTC; junk → None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


ERRORS_BY_CODE = {cls.code: cls for cls in (Forbidden, NotFound, InvalidRequest)}


def script_error(exc: EchoNestError) -> EchoNestError:
    """A script's error as the matching EchoNestError subclass, so callers can catch it."""
    cls = ERRORS_BY_CODE.get(exc.code)
    return cls(exc.message) if cls is not None and type(exc) is EchoNestError else exc


def decode_metadata(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        log.warning("unreadable nest metadata: %.80s", raw)
        return None
    return meta if isinstance(meta, dict) else None
