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

# Several buckets in one step: KEYS = counters, ARGV = window, cost; returns every count.
_HIT_MANY = """
local counts = {}
local window, cost = ARGV[1], tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local count
  if cost > 0 then
    count = redis.call('INCRBY', key, cost)
    if count == cost then redis.call('EXPIRE', key, window) end
  else
    count = tonumber(redis.call('GET', key) or '0')
  end
  counts[i] = count
end
return counts
"""

MAX_SUBJECT = 200

_script: Any = None
_many_script: dict[int, Any] = {}


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


def spec(conf: Any, bucket: str, subject: str, *, now: float | None = None,
         cost: int = 1) -> dict[str, Any] | None:
    """One hit as data, for ``hit`` or for a guarded write that checks it in the same round
    trip (``echonest.atomic.PRE``); None when the bucket is not configured."""
    limits = bucket_limits(conf, bucket)
    if limits is None:
        return None
    limit, window = limits
    now = time.time() if now is None else now
    start, retry_after = _window(now, window)
    return {"key": keys.rate_limit(bucket, str(subject)[:MAX_SUBJECT], start), "limit": limit,
            "ttl": window + 1, "cost": int(cost), "retry": retry_after,
            "message": f"Too many requests ({bucket.replace('_', ' ')}): "
                       f"try again in {retry_after} s."}


# key → monotonic deadline: hits this process saw refused. A refused user's next attempts are
# refused here without Redis (or a catalog lookup) until the window ends.
_refused: dict[str, float] = {}
MAX_REMEMBERED = 10000


def remember_refusal(hit_spec: dict[str, Any]) -> None:
    if hit_spec["cost"] <= 0:
        return  # a read-only check (the code-guess block) is re-read every time
    now = time.monotonic()
    if len(_refused) >= MAX_REMEMBERED:
        for key in [k for k, until in _refused.items() if until <= now] or list(_refused):
            del _refused[key]
    _refused[hit_spec["key"]] = now + hit_spec["retry"]


def forget_refusals() -> None:
    """Drop what this process remembers (a flushed database, a test)."""
    _refused.clear()


def refuse_if_remembered(hit_spec: dict[str, Any] | None) -> None:
    until = _refused.get(hit_spec["key"]) if hit_spec else None
    if until is not None:
        if until > time.monotonic():
            raise RateLimited(hit_spec["message"], retry_after=hit_spec["retry"])
        _refused.pop(hit_spec["key"], None)


def check(client: redis.Redis, hit_spec: dict[str, Any] | None) -> int:
    """Run one ``spec`` on its own; raise RateLimited once over the limit."""
    if hit_spec is None:
        return 0
    cost, limit = hit_spec["cost"], hit_spec["limit"]
    count = _run(client, hit_spec["key"], hit_spec["ttl"], cost)
    if count > limit if cost > 0 else count >= limit:
        remember_refusal(hit_spec)
        raise RateLimited(hit_spec["message"], retry_after=hit_spec["retry"])
    return count


def hit(client: redis.Redis, conf: Any, bucket: str, subject: str, *,
        now: float | None = None, cost: int = 1) -> int:
    """Count one action of ``subject`` in ``bucket``; raise RateLimited once over the limit.

    ``cost=0`` checks without counting. Returns the count in the current window.
    """
    return check(client, spec(conf, bucket, subject, now=now, cost=cost))


def hit_many(client: redis.Redis, conf: Any, subjects: list[tuple[str, str]], *,
             now: float | None = None, cost: int = 1) -> None:
    """``hit`` for several (bucket, subject) pairs in one round trip; raises for the first
    bucket over its limit. Buckets with the same window share one step; others get their own."""
    now = time.time() if now is None else now
    by_window: dict[int, list[tuple[str, int, int, str]]] = {}
    for bucket, subject in subjects:
        limits = bucket_limits(conf, bucket)
        if limits is None:
            continue
        limit, window = limits
        start, retry_after = _window(now, window)
        key = keys.rate_limit(bucket, str(subject)[:MAX_SUBJECT], start)
        by_window.setdefault(window, []).append((key, limit, retry_after, bucket))
    for window, entries in by_window.items():
        script = _many_script.get(id(client))
        if script is None:
            script = _many_script[id(client)] = client.register_script(_HIT_MANY)
        if keys.cluster_layout():
            # Each counter hashes to its own slot: one call per counter, one pipeline per shard.
            from echonest import per_nest

            counts = [found[0] for found in per_nest.run(
                client, _HIT_MANY, [([e[0]], [window + 1, cost]) for e in entries])]
        else:
            counts = script(keys=[e[0] for e in entries], args=[window + 1, cost],
                            client=client)
        for (_, limit, retry_after, bucket), count in zip(entries, counts, strict=True):
            count = int(count)
            if (count > limit) if cost > 0 else (count >= limit):
                raise RateLimited(
                    f"Too many requests ({bucket.replace('_', ' ')}): try again in "
                    f"{retry_after} s.", retry_after=retry_after)
