"""Fixed-window rate limits shared by every web process through Redis (SPEC §9).

Each bucket in ``CONF.RATE_LIMITS`` is ``[count, window_seconds]``. A hit is one Lua step
(INCR and, on the first hit of a window, EXPIRE), so two processes can never both see
"first hit" and leave a counter without a TTL.
"""

from __future__ import annotations

import math
import time
from typing import Any

import redis

from echonest import keys
from echonest.errors import RateLimited

# Returns the count after this hit; a cost of 0 only reads (for "is this IP already blocked?").
_HIT = """
local count
if tonumber(ARGV[2]) > 0 then
  count = redis.call('INCRBY', KEYS[1], ARGV[2])
  if count == tonumber(ARGV[2]) then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
  end
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
return count
"""

MAX_SUBJECT = 200

_script: Any = None


def _run(client: redis.Redis, key: str, window: int, cost: int) -> int:
    global _script
    if _script is None:
        _script = client.register_script(_HIT)
    # Always pass the caller's client: the script object is shared, connections are not.
    return int(_script(keys=[key], args=[window, cost], client=client))


def bucket_limits(conf: Any, bucket: str) -> tuple[int, int] | None:
    """(count, window seconds) for a bucket, or None when the bucket is not configured."""
    limits = (conf.RATE_LIMITS or {}).get(bucket)
    if not limits:
        return None
    count, window = int(limits[0]), int(limits[1])
    if count <= 0 or window <= 0:
        return None
    return count, window


def _window(now: float, window: int) -> tuple[int, int]:
    start = int(now // window) * window
    return start, max(1, math.ceil(start + window - now))


def hit(client: redis.Redis, conf: Any, bucket: str, subject: str, *,
        now: float | None = None, cost: int = 1) -> int:
    """Count one action of ``subject`` in ``bucket``; raise RateLimited once over the limit.

    ``cost=0`` checks without counting. Returns the count in the current window.
    """
    limits = bucket_limits(conf, bucket)
    if limits is None:
        return 0
    limit, window = limits
    now = time.time() if now is None else now
    start, retry_after = _window(now, window)
    key = keys.rate_limit(bucket, str(subject)[:MAX_SUBJECT], start)
    count = _run(client, key, window + 1, cost)
    over = count > limit if cost > 0 else count >= limit
    if over:
        raise RateLimited(
            f"Too many requests ({bucket.replace('_', ' ')}): try again in {retry_after} s.",
            retry_after=retry_after)
    return count
