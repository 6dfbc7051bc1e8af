"""Lua bodies for one nest's player state and airhorns (layout: see echonest/queue_scripts.py)."""

from __future__ import annotations

from echonest.atomic import GuardedScript
from echonest.queue_scripts import PRELUDE, ReadScript

SKIP_PLAYING = PRELUDE + """
local id = redis.call('HGET', NP, 'id')
if not id or redis.call('GET', SKIP) == id then return unchanged(0) end
redis.call('SET', SKIP, id)
local result = 1
"""

# A[1] now (epoch seconds).
PAUSE = PRELUDE + """
local now = tonumber(A[1])
local np = redis.call('HMGET', NP, 'id', 'starttime', 'duration', 'paused')
if not np[1] or np[4] == '1' or redis.call('GET', SKIP) == np[1] then return unchanged(0) end
local pos = math.min(math.max(now - tonumber(np[2]), 0), tonumber(np[3]))
redis.call('HSET', NP, 'paused', '1', 'pos', pos)
local result = 1
"""

RESUME = PRELUDE + """
local now = tonumber(A[1])
local np = redis.call('HMGET', NP, 'id', 'pos', 'duration', 'paused')
if not np[1] or np[4] ~= '1' then return unchanged(0) end
local start = now - tonumber(np[2])
redis.call('HSET', NP, 'paused', '0', 'starttime', start, 'endtime', start + tonumber(np[3]))
local result = 1
"""

# A[1] now. Returns the finished song's hash (+ started/ended) or nil.
ADVANCE = PRELUDE + """
local now = tonumber(A[1])
local np = redis.call('HMGET', NP, 'id', 'starttime', 'endtime', 'paused')
local current = np[1]
local result = false
if current then
  local skipping = redis.call('GET', SKIP) == current
  if not skipping and (np[4] == '1' or tonumber(np[3]) > now) then return unchanged(false) end
  local ended = now
  if not skipping then ended = math.min(tonumber(np[3]), now) end
  result = redis.call('HGETALL', P_ITEM .. current)
  result[#result + 1] = 'started'
  result[#result + 1] = np[2]
  result[#result + 1] = 'ended'
  result[#result + 1] = string.format('%.17g', ended)
  drop_item(current)
  redis.call('DEL', NP)
elseif redis.call('ZCARD', PQ) == 0 then
  return unchanged(false)
end
redis.call('DEL', SKIP)
local nxt = redis.call('ZPOPMIN', PQ)
if #nxt > 0 then
  unindex_item(nxt[1])
  local duration = tonumber(redis.call('HGET', P_ITEM .. nxt[1], 'duration') or '0') or 0
  redis.call('HSET', NP, 'id', nxt[1], 'starttime', now, 'endtime', now + duration,
             'duration', duration, 'paused', '0', 'pos', 0)
end
"""

# A[1] user, A[2] name, A[3] now, A[4] max per window, A[5] window seconds, A[6] list cap,
# A[7] list minimum, A[8] default volume, A[9]/A[10] the entry JSON to record for a counted/free
# horn. Free horns are recorded (they show in the recent list) but do not count against the limit.
AIRHORN = PRELUDE + """
local user, name, now = A[1], A[2], tonumber(A[3])
local max, window, cap, keep = tonumber(A[4]), tonumber(A[5]), tonumber(A[6]), tonumber(A[7])
local fired, oldest = 0, nil
for _, raw in ipairs(redis.call('LRANGE', HORNS, 0, -1)) do
  local ok, e = pcall(cjson.decode, raw)
  if ok and type(e) == 'table' and e.user == user and not e.free and tonumber(e.t)
      and tonumber(e.t) > now - window then
    fired = fired + 1
    oldest = tonumber(e.t)
  end
end
local free = 0
if fired >= max then
  local fkey = P_FREEHORN .. user
  if tonumber(redis.call('GET', fkey) or '0') < 1 then
    local retry = math.max(1, math.ceil((oldest or now) + window - now))
    return unchanged({'limited', tostring(retry), '0'})
  end
  redis.call('DECR', fkey)
  free = 1
end
redis.call('LPUSH', HORNS, free == 1 and A[10] or A[9])
redis.call('LTRIM', HORNS, 0, cap - 1)
-- Expired horns fall off the end, but the list never drops below `keep` entries.
while redis.call('LLEN', HORNS) > keep do
  local ok, e = pcall(cjson.decode, redis.call('LINDEX', HORNS, -1))
  if ok and type(e) == 'table' and tonumber(e.t) and tonumber(e.t) > now - window then break end
  redis.call('RPOP', HORNS)
end
local volume = tonumber(redis.call('GET', VOLUME_KEY) or A[8]) or tonumber(A[8])
event_data = cjson.encode({name = name, volume = volume, user = user})
local result = {'ok', tostring(volume), tostring(free)}
"""

# Which nests must advance. ARGV[1] now, ARGV[2] key head ("NEST:"), ARGV[3..5] key tails of
# now-playing, skip flag and queue (everything after the nest id), ARGV[6..] nest ids.
DUE = """
local now, head = tonumber(ARGV[1]), ARGV[2]
local due = {}
for i = 6, #ARGV do
  local np = redis.call('HMGET', head .. ARGV[i] .. ARGV[3], 'id', 'endtime', 'paused')
  if np[1] then
    if (np[3] ~= '1' and tonumber(np[2]) and tonumber(np[2]) <= now)
        or redis.call('GET', head .. ARGV[i] .. ARGV[4]) == np[1] then
      due[#due + 1] = ARGV[i]
    end
  elseif redis.call('ZCARD', head .. ARGV[i] .. ARGV[5]) > 0 then
    due[#due + 1] = ARGV[i]
  end
end
return due
"""

SKIP_SCRIPT = GuardedScript(SKIP_PLAYING)
PAUSE_SCRIPT = GuardedScript(PAUSE)
RESUME_SCRIPT = GuardedScript(RESUME)
ADVANCE_SCRIPT = GuardedScript(ADVANCE)
AIRHORN_SCRIPT = GuardedScript(AIRHORN)
DUE_SCRIPT = ReadScript(DUE)
