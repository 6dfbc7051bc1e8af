"""Lua bodies for one nest's queue actions and reads (player/airhorn ones: player_scripts.py).

Layout every write body sees (db.DB._run builds it): KEYS[5..11] = priority queue, now-playing,
skip flag, item counter, Bender preview, airhorn list, volume; ARGV[4..9] = key prefixes for
items, votes, jams, comments, filters, free horns; ARGV[10..] = the action's own arguments (A[]).
Bodies check everything before their first write because Lua errors do not roll back.
``unchanged(v)`` returns early with no version bump and no event (a no-op is not a change).
"""

from __future__ import annotations

import redis

from echonest.atomic import GuardedScript

# One queue entry as every reader sees it: {hash, jams, comments, votes (flat user → ±1)}.
# Needs P_ITEM, P_JAM, P_COMMENTS and P_VOTE in scope.
ITEM_ENTRY = """
local function item_entry(id)
  local h = redis.call('HGETALL', P_ITEM .. id)
  if #h == 0 then return false end
  return {h, redis.call('SMEMBERS', P_JAM .. id), redis.call('LRANGE', P_COMMENTS .. id, 0, -1),
          redis.call('HGETALL', P_VOTE .. id)}
end
"""

PRELUDE = """
local PQ, NP, SKIP, COUNTER = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local PREVIEW, HORNS, VOLUME_KEY = KEYS[9], KEYS[10], KEYS[11]
local P_ITEM, P_VOTE, P_JAM, P_COMMENTS = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local P_FILTER, P_FREEHORN = ARGV[8], ARGV[9]
local A = {}
for i = 10, #ARGV do A[#A + 1] = ARGV[i] end
local STEP = 1048576

local function fail(code, status, message)
  return redis.error_reply('DOMAIN ' .. code .. ' ' .. status .. ' ' .. message)
end

local function unchanged(value)
  return {tonumber(redis.call('GET', KEYS[3]) or '0'), value}
end

""" + ITEM_ENTRY + """
local function is_queued(id)
  return redis.call('ZSCORE', PQ, id) ~= false
end

local function is_playing(id)
  return redis.call('HGET', NP, 'id') == id and redis.call('EXISTS', P_ITEM .. id) == 1
end

-- The queue index (keys.QUEUE_URIS …): KEYS[13] uri → id, KEYS[14] adder → human songs
-- queued, KEYS[15] hash {n = items indexed}, KEYS[16] prefix of per-adder zsets (same scores as
-- PQ). Every write that moves an item in or out of PQ keeps it; ensure_index() rebuilds it
-- when its count disagrees with PQ (data from before it existed).
local IX_URIS, IX_ADDERS, IX_COUNT, P_BYADDER = KEYS[13], KEYS[14], KEYS[15], KEYS[16]

local function index_item(id, score)
  local f = redis.call('HMGET', P_ITEM .. id, 'uri', 'user', 'auto')
  if not f[1] then return end
  redis.call('HSET', IX_URIS, f[1], id)
  if f[3] ~= '1' then
    redis.call('ZADD', P_BYADDER .. f[2], score, id)
    redis.call('HINCRBY', IX_ADDERS, f[2], 1)
  end
  redis.call('HINCRBY', IX_COUNT, 'n', 1)
end

local function unindex_item(id)
  local f = redis.call('HMGET', P_ITEM .. id, 'uri', 'user', 'auto')
  if not f[1] or redis.call('HGET', IX_URIS, f[1]) ~= id then return end
  redis.call('HDEL', IX_URIS, f[1])
  if f[3] ~= '1' and redis.call('ZREM', P_BYADDER .. f[2], id) == 1 then
    if redis.call('HINCRBY', IX_ADDERS, f[2], -1) <= 0 then redis.call('HDEL', IX_ADDERS, f[2]) end
  end
  redis.call('HINCRBY', IX_COUNT, 'n', -1)
end

local function ensure_index()
  if tonumber(redis.call('HGET', IX_COUNT, 'n') or '-1') == redis.call('ZCARD', PQ) then return end
  for _, adder in ipairs(redis.call('HKEYS', IX_ADDERS)) do redis.call('DEL', P_BYADDER .. adder) end
  redis.call('DEL', IX_URIS, IX_ADDERS, IX_COUNT)
  redis.call('HSET', IX_COUNT, 'n', 0)
  local entries = redis.call('ZRANGE', PQ, 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do index_item(entries[i], entries[i + 1]) end
end

-- A queued item's score moved: its adder's mirror follows (only if indexed).
local function index_rescore(id, score)
  local f = redis.call('HMGET', P_ITEM .. id, 'user', 'auto')
  if f[1] and f[2] ~= '1' then redis.call('ZADD', P_BYADDER .. f[1], 'XX', score, id) end
end

local function drop_item(id)
  unindex_item(id)
  redis.call('DEL', P_ITEM .. id, P_VOTE .. id, P_JAM .. id, P_COMMENTS .. id)
end

local function is_creator(user)
  local raw = redis.call('HGET', KEYS[1], nest_id)
  if not raw then return false end
  local ok, meta = pcall(cjson.decode, raw)
  return ok and type(meta) == 'table' and meta.created_by == user
end

-- The event is chosen by the action's target: comments/jams on the playing song change
-- now_playing, not the queue. atomic.BUMP_AND_PUBLISH reads the event name from ARGV[2].
local function publish_as(event) ARGV[2] = event end
"""

# A[1] uri, A[2] user, A[3] auto 1/0, A[4] max depth (0 = none), A[5] filter ttl,
# A[6] songs per person (0 = any), A[7] no-repeat window start (epoch s, 0 = off),
# A[8..] field/value pairs of the item hash. KEYS[12] play history (zset scored by play time).
ADD_SONG = PRELUDE + """
local uri, user, auto = A[1], A[2], A[3] == '1'
local max_depth, filter_ttl = tonumber(A[4]), tonumber(A[5])
local per_person, repeat_since = tonumber(A[6]), tonumber(A[7])
ensure_index()
local n = redis.call('ZCARD', PQ)
if max_depth > 0 and n >= max_depth then
  return fail('queue_full', 409, 'this nest holds at most ' .. max_depth .. ' songs')
end
if repeat_since > 0 and not auto then
  local playing = redis.call('HGET', NP, 'id')
  if playing and redis.call('HGET', P_ITEM .. playing, 'uri') == uri then
    return fail('recently_played', 409, 'that song is playing now')
  end
  for _, raw in ipairs(redis.call('ZRANGEBYSCORE', KEYS[12], repeat_since, '+inf')) do
    local ok, e = pcall(cjson.decode, raw)
    if ok and type(e) == 'table' and e.uri == uri then
      return fail('recently_played', 409, 'that song played too recently')
    end
  end
end
-- With no no-repeat window, the playing song still cannot be queued again (it would play twice).
local playing = redis.call('HGET', NP, 'id')
if playing and redis.call('HGET', P_ITEM .. playing, 'uri') == uri then
  return fail('already_queued', 409, 'that song is playing right now')
end
if redis.call('HEXISTS', IX_URIS, uri) == 1 then
  return fail('already_queued', 409, 'that song is already queued')
end
local mine = tonumber(redis.call('HGET', IX_ADDERS, user) or '0')
if not auto and per_person > 0 and mine >= per_person then
  return fail('per_person_limit', 409, 'you already have ' .. per_person .. ' songs queued')
end
-- Where it goes: after the last human song that is its adder's r-th or earlier, r being this
-- song's round (auto songs: the tail). Each adder's k-th song comes from their index zset, so
-- this costs one command per adder with songs queued, not one per song.
local after = nil   -- score of the song to go after; nil = the head
if auto then
  local last = redis.call('ZRANGE', PQ, -1, -1, 'WITHSCORES')
  if #last == 2 then after = tonumber(last[2]) end
else
  local r = mine + 1
  local adders = redis.call('HGETALL', IX_ADDERS)
  for i = 1, #adders, 2 do
    local k = math.min(tonumber(adders[i + 1]), r)
    if k > 0 then
      local kth = redis.call('ZRANGE', P_BYADDER .. adders[i], k - 1, k - 1, 'WITHSCORES')
      if #kth == 2 and (after == nil or tonumber(kth[2]) > after) then after = tonumber(kth[2]) end
    end
  end
end
local score
if n == 0 then
  score = 0
elseif after == nil then
  score = tonumber(redis.call('ZRANGE', PQ, 0, 0, 'WITHSCORES')[2]) - STEP
else
  local nxt = redis.call('ZRANGEBYSCORE', PQ, '(' .. string.format('%.17g', after), '+inf',
                         'WITHSCORES', 'LIMIT', 0, 1)
  if #nxt == 0 then
    score = after + STEP
  elseif tonumber(nxt[2]) - after >= 2 then
    score = math.floor((after + tonumber(nxt[2])) / 2)
  else
    -- No room between the neighbours: respace the whole queue (rare), leaving a gap.
    local entries = redis.call('ZRANGE', PQ, 0, -1, 'WITHSCORES')
    local pos = redis.call('ZRANK', PQ, nxt[1])  -- items before the gap
    for i = 1, n do
      local s = (i <= pos) and (i - 1) * STEP or i * STEP
      redis.call('ZADD', PQ, s, entries[2 * i - 1])
      index_rescore(entries[2 * i - 1], s)
    end
    score = pos * STEP
  end
end
local id = tostring(redis.call('INCR', COUNTER))
local hash = {'id', id, 'user', user, 'auto', auto and '1' or '0', 'vote', '0'}
for i = 8, #A do hash[#hash + 1] = A[i] end
redis.call('HSET', P_ITEM .. id, unpack(hash))
redis.call('ZADD', PQ, score, id)
index_item(id, score)
if not auto then
  redis.call('SET', P_FILTER .. uri, '1', 'EX', filter_ttl)
end
local result = id
"""

# A[1] item id, A[2] user, A[3] direction 1 / -1, A[4] score floor (0 = never drop): a song
# whose score falls to the floor leaves the queue in the same step (result: false).
VOTE = PRELUDE + """
local id, user, dir, floor = A[1], A[2], tonumber(A[3]), tonumber(A[4] or '0')
if not is_queued(id) then return fail('not_found', 404, 'that song is not in the queue') end
local ikey = P_ITEM .. id
local f = redis.call('HMGET', ikey, 'user', 'auto')
if dir == 1 and f[1] == user then
  return fail('forbidden', 403, 'you cannot upvote your own song')
end
local previous = tonumber(redis.call('HGET', P_VOTE .. id, user) or '0')
if previous == dir then return unchanged(item_entry(id)) end
redis.call('HSET', P_VOTE .. id, user, dir)
local score = redis.call('HINCRBY', ikey, 'vote', dir - previous)
local dropped = floor < 0 and score <= floor
if dropped then
  redis.call('ZREM', PQ, id)
  drop_item(id)
end
-- One slot in the vote's direction, never across the human/Bender boundary.
local other_rank = dropped and -1 or redis.call('ZRANK', PQ, id) - dir
if other_rank >= 0 then
  local other = redis.call('ZRANGE', PQ, other_rank, other_rank, 'WITHSCORES')
  if #other == 2 and (redis.call('HGET', P_ITEM .. other[1], 'auto') == '1') == (f[2] == '1') then
    local mine = redis.call('ZSCORE', PQ, id)
    redis.call('ZADD', PQ, other[2], id)
    redis.call('ZADD', PQ, mine, other[1])
    index_rescore(id, other[2])
    index_rescore(other[1], mine)
  end
end
local result = false
if not dropped then result = item_entry(id) end
"""

# A[1] item id, A[2] user, A[3] jams needed for a free airhorn.
JAM = PRELUDE + """
local id, user, needed = A[1], A[2], tonumber(A[3])
local playing = is_playing(id)
if not playing and not is_queued(id) then
  return fail('not_found', 404, 'that song is not queued or playing')
end
if playing then publish_as('now_playing') end
local jkey = P_JAM .. id
local result = 1
if redis.call('SREM', jkey, user) == 1 then
  result = 0
else
  redis.call('SADD', jkey, user)
  if redis.call('SCARD', jkey) >= needed then
    local f = redis.call('HMGET', P_ITEM .. id, 'user', 'auto', 'freehorn')
    if f[1] and f[2] ~= '1' and f[3] ~= '1' then
      redis.call('HSET', P_ITEM .. id, 'freehorn', '1')
      redis.call('INCR', P_FREEHORN .. f[1])
    end
  end
end
"""

# A[1] item id, A[2] comment JSON.
COMMENT = PRELUDE + """
local id = A[1]
local playing = is_playing(id)
if not playing and not is_queued(id) then
  return fail('not_found', 404, 'that song is not queued or playing')
end
if playing then publish_as('now_playing') end
local result = redis.call('RPUSH', P_COMMENTS .. id, A[2])
"""

# A[1] item id, A[2] user, A[3] admin 1/0 (already restricted to main by the caller).
REMOVE = PRELUDE + """
local id, user = A[1], A[2]
if not is_queued(id) then return fail('not_found', 404, 'that song is not in the queue') end
local adder = redis.call('HGET', P_ITEM .. id, 'user')
if adder ~= user and A[3] ~= '1' and not is_creator(user) then
  return fail('forbidden', 403, 'only the adder or the nest creator may remove this song')
end
redis.call('ZREM', PQ, id)
drop_item(id)
local result = id
"""

# A[1] user, A[2] admin 1/0.
CLEAR = PRELUDE + """
if A[2] ~= '1' and not is_creator(A[1]) then
  return fail('forbidden', 403, 'only the nest creator may clear the queue')
end
local ids = redis.call('ZRANGE', PQ, 0, -1)
if #ids == 0 then return unchanged(0) end
for _, id in ipairs(ids) do drop_item(id) end
redis.call('DEL', PQ)
local result = #ids
"""

# A[1] uri, A[2] ttl seconds.
FILTER = PRELUDE + """
redis.call('SET', P_FILTER .. A[1], '1', 'EX', tonumber(A[2]))
local raw = redis.call('GET', PREVIEW)
if raw then
  local ok, p = pcall(cjson.decode, raw)
  if ok and type(p) == 'table' and p.uri == A[1] then redis.call('DEL', PREVIEW) end
end
local result = 1
"""

# A[1] preview JSON, or '' to clear it.
PREVIEW_SET = PRELUDE + """
local current = redis.call('GET', PREVIEW) or ''
if current == A[1] then return unchanged(0) end
if A[1] == '' then redis.call('DEL', PREVIEW) else redis.call('SET', PREVIEW, A[1]) end
local result = 1
"""

# A read snapshot in one round trip. KEYS: PQ, NP, SKIP, PREVIEW, VERSION, skip-vote hash, voters.
# ARGV: item, jam, comments prefixes; want now-playing 1/0; one item id or ''; votes prefix.
# An entry is {hash, jams, comments, votes (flat user → 1/-1)}. The queue itself is read by
# echonest/queue_revs.py (whole, or only what changed since a body the caller holds).
READ = """
local PQ, NP, SKIP, PREVIEW, VERSION = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local P_ITEM, P_JAM, P_COMMENTS, P_VOTE = ARGV[1], ARGV[2], ARGV[3], ARGV[6]
""" + ITEM_ENTRY + """local np, item = false, false
if ARGV[4] == '1' then
  local h = redis.call('HGETALL', NP)
  local id = redis.call('HGET', NP, 'id')
  np = {h, redis.call('GET', SKIP) or '', id and item_entry(id) or false}
end
local wanted = ARGV[5]
if wanted ~= '' and (redis.call('ZSCORE', PQ, wanted)
    or redis.call('HGET', NP, 'id') == wanted) then
  item = item_entry(wanted)
end
local votes = false
if ARGV[4] == '1' and KEYS[6] then
  votes = {redis.call('HGETALL', KEYS[6]), redis.call('SCARD', KEYS[7])}
end
return {tonumber(redis.call('GET', VERSION) or '0'), redis.call('GET', PREVIEW) or '', np, item,
        votes}
"""

# KEYS[1] PQ; ARGV[1] item prefix. The uris of every queued item.
# KEYS[1] priority queue, KEYS[2] now-playing: the playing song counts as queued (it must not
# be queued again, by a person or by Bender, while it plays).
QUEUED_URIS = """
local uris = {}
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local playing = redis.call('HGET', KEYS[2], 'id')
if playing then ids[#ids + 1] = playing end
for _, id in ipairs(ids) do
  local uri = redis.call('HGET', ARGV[1] .. id, 'uri')
  if uri then uris[#uris + 1] = uri end
end
return uris
"""


class ReadScript:
    """A plain (unguarded, read-only) script registered once per client."""

    def __init__(self, source: str):
        self.source = source
        self._scripts: dict[int, object] = {}

    def __call__(self, client: redis.Redis, keys_: list[str], args: list[str]):
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(self.source)
        return script(keys=keys_, args=args, client=client)


ADD_SONG_SCRIPT = GuardedScript(ADD_SONG)
VOTE_SCRIPT = GuardedScript(VOTE)
JAM_SCRIPT = GuardedScript(JAM)
COMMENT_SCRIPT = GuardedScript(COMMENT)
REMOVE_SCRIPT = GuardedScript(REMOVE)
CLEAR_SCRIPT = GuardedScript(CLEAR)
FILTER_SCRIPT = GuardedScript(FILTER)
PREVIEW_SCRIPT = GuardedScript(PREVIEW_SET)
READ_STATE = ReadScript(READ)
READ_URIS = ReadScript(QUEUED_URIS)
