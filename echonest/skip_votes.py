"""Skip by vote: members ask to skip the playing song; it goes when enough live listeners agree.

The threshold is ``max(skip_vote_min, ceil(skip_vote_fraction × live listeners))``, never more
than the people listening (a lone listener can always skip). Only live listeners' asks count:
when someone leaves, their ask goes with them and the count is taken again, and a vote can
pass because the room got smaller. Each ask or recount is one guarded Lua step that counts,
compares and (when it passes) sets the skip flag the player acts on, so two last asks arriving
together cannot both miss nor both skip.

Votes publish ``now_playing``: its body carries ``skip_votes: {count, needed}`` while a vote
is open on the playing song, which every page shows as "3 of 5 want to skip".
"""

from __future__ import annotations

from typing import Any

import redis

from echonest import events, keys, nest_settings
from echonest.membership import QuietableScript

# KEYS[5] now-playing hash, KEYS[6] skip flag, KEYS[7] vote hash, KEYS[8] voters, KEYS[9] members.
# ARGV[4] user asking ('' = recount only), ARGV[5] default fraction, ARGV[6] default minimum,
# ARGV[7] member liveness key prefix. The fraction/minimum in force are the nest's settings.
VOTE = QuietableScript("""
local user = ARGV[4]
local fraction, minimum = tonumber(ARGV[5]), tonumber(ARGV[6])
local raw = redis.call('HGET', KEYS[1], nest_id)
if raw then
  local ok, meta = pcall(cjson.decode, raw)
  if ok and type(meta) == 'table' and type(meta['settings']) == 'table' then
    fraction = tonumber(meta['settings']['skip_vote_fraction']) or fraction
    minimum = tonumber(meta['settings']['skip_vote_min']) or minimum
  end
end
local playing = redis.call('HGET', KEYS[5], 'id')
local result = {0, 0, 0}
quiet = true
if not playing or redis.call('GET', KEYS[6]) == playing then
  redis.call('DEL', KEYS[7], KEYS[8])
  return {0, result}
end
if redis.call('HGET', KEYS[7], 'item') ~= playing then
  if user == '' then return {0, result} end
  redis.call('DEL', KEYS[8])
  redis.call('HSET', KEYS[7], 'item', playing, 'needed', 0)
end
local before_count = redis.call('SCARD', KEYS[8])
local before_needed = tonumber(redis.call('HGET', KEYS[7], 'needed') or '0')
local live, total = {}, 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[9])) do
  if redis.call('EXISTS', ARGV[7] .. member) == 1 then
    live[member] = true
    total = total + 1
  end
end
for _, voter in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  if not live[voter] and voter ~= user then redis.call('SREM', KEYS[8], voter) end
end
if user ~= '' then
  redis.call('SADD', KEYS[8], user)
  if not live[user] then total = total + 1 end
end
local count = redis.call('SCARD', KEYS[8])
local needed = math.max(minimum, math.ceil(fraction * total - 1e-9))
if needed > total then needed = total end
if needed < 1 then needed = 1 end
if count > 0 and count >= needed then
  redis.call('SET', KEYS[6], playing)
  redis.call('DEL', KEYS[7], KEYS[8])
  result = {1, count, needed}
  quiet = false
else
  redis.call('HSET', KEYS[7], 'needed', needed)
  result = {0, count, needed}
  quiet = count == before_count and needed == before_needed
end
""")


def _call(client: redis.Redis, nest_id: str, user: str) -> dict[str, Any]:
    fraction = nest_settings.BY_NAME["skip_vote_fraction"].default
    minimum = nest_settings.BY_NAME["skip_vote_min"].default
    _, (passed, count, needed) = VOTE(
        client, nest_id,
        keys_=[keys.nest_key(nest_id, k) for k in (
            keys.NOW_PLAYING, keys.SKIP, keys.SKIP_VOTES, keys.SKIP_VOTERS, keys.MEMBERS)],
        args=[user, repr(float(fraction)), int(minimum), keys.member_key(nest_id, "")],
        event=events.NOW_PLAYING)
    return {"skipped": bool(passed), "count": int(count), "needed": int(needed)}


def ask_to_skip(client: redis.Redis, nest_id: str, user: str) -> dict[str, Any]:
    """Count ``user``'s ask; ``skipped`` is True when it carried the vote."""
    return _call(client, nest_id, user)


def recount(client: redis.Redis, nest_id: str) -> dict[str, Any]:
    """After someone joins or leaves: take the count again (a smaller room may pass it)."""
    return _call(client, nest_id, "")


def tally(vote_hash: dict[str, str], voters: int, playing_id: str | None) -> dict | None:
    """The ``skip_votes`` field of now_playing, or None when no vote is open on this song."""
    if not playing_id or vote_hash.get("item") != playing_id or voters <= 0:
        return None
    return {"count": int(voters), "needed": int(vote_hash.get("needed") or 0)}
