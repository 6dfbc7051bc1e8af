"""Many nests, one read-only script each, in one pipelined batch per shard (cluster layout).

On one server the due check and the listener counts run as one script over thousands of nests.
In a cluster that script would touch thousands of slots, so there each nest gets its own call
(KEYS[1] one of the nest's keys: the call goes to the nest's shard and stays in its slot). The
calls are grouped by the node that owns each key and sent as one pipeline per node: one round
trip per shard, no matter how many nests. (redis-py's cluster pipeline refuses EVALSHA, hence
the per-node pipelines; a MOVED reply or a lost node refreshes the topology and retries.)
"""

from __future__ import annotations

import hashlib
from typing import Any

import redis

_RETRYABLE = (redis.exceptions.MovedError, redis.exceptions.AskError,
              redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError,
              redis.exceptions.NoScriptError, redis.ConnectionError, redis.TimeoutError)
BATCH = 5000   # calls per node pipeline, so no reply buffer grows without bound
ATTEMPTS = 4


def run(client: Any, source: str, calls: list[tuple[list[str], list[Any]]]) -> list:
    """Results of the script ``source`` for each (keys, args), in order (either client kind:
    a plain Redis client gets one pipeline)."""
    sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (the script's id, not a secret)
    results: list = [None] * len(calls)
    if not hasattr(client, "get_node_from_key"):
        # One server: one pipeline (redis-py loads the script on NOSCRIPT).
        retry = _run_on_client(client, source, sha, calls, list(range(len(calls))), results)
        if retry:
            raise redis.ConnectionError(f"{len(retry)} script calls failed")
        return results
    pending = list(range(len(calls)))
    for attempt in range(ATTEMPTS):
        retry: list[int] = []
        by_node: dict[str, tuple[Any, list[int]]] = {}
        for index in pending:
            node = client.get_node_from_key(calls[index][0][0])
            by_node.setdefault(node.name, (node, []))[1].append(index)
        for node, indexes in by_node.values():
            retry += _run_on_node(client, node, source, sha, calls, indexes, results)
        if not retry:
            return results
        pending = retry
        if attempt < ATTEMPTS - 1:
            client.nodes_manager.initialize()  # MOVED or a lost node: who owns what now
    raise redis.ConnectionError(f"{len(pending)} per-nest calls failed after {ATTEMPTS} tries "
                                "(a shard unreachable: failover under way?)")


def _run_on_node(client: Any, node: Any, source: str, sha: str, calls: list,
                 indexes: list[int], results: list) -> list[int]:
    """Fill ``results`` for ``indexes``; returns the indexes to try again."""
    return _run_on_client(client.get_redis_connection(node), source, sha, calls, indexes,
                          results)


def _run_on_client(node_client: redis.Redis, source: str, sha: str, calls: list,
                   indexes: list[int], results: list) -> list[int]:
    retry: list[int] = []
    for start in range(0, len(indexes), BATCH):
        chunk = indexes[start:start + BATCH]
        try:
            replies = _pipeline(node_client, sha, calls, chunk)
            if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
                node_client.script_load(source)
                replies = _pipeline(node_client, sha, calls, chunk)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            retry += chunk
            continue
        for index, reply in zip(chunk, replies, strict=True):
            if isinstance(reply, _RETRYABLE):
                retry.append(index)
                continue
            if isinstance(reply, Exception):
                raise reply
            results[index] = reply
    return retry


def _pipeline(node_client: redis.Redis, sha: str, calls: list, chunk: list[int]) -> list:
    pipe = node_client.pipeline(transaction=False)
    for index in chunk:
        keys_, args = calls[index]
        pipe.evalsha(sha, len(keys_), *keys_, *args)
    return pipe.execute(raise_on_error=False)


# The player's two per-nest reads in one call (cluster layout): is the nest due (its song over,
# a skip asked, or idle with a queue), and how many members are live. KEYS[1] the nest's
# now-playing hash (routing); ARGV: now, then the DUE and COUNT scripts' key parts, nest id.
DUE_AND_LIVE = """
local now, head, id = tonumber(ARGV[1]), ARGV[2], ARGV[8]
local due = 0
local np = redis.call('HMGET', head .. id .. ARGV[3], 'id', 'endtime', 'paused')
if np[1] then
  if (np[3] ~= '1' and tonumber(np[2]) and tonumber(np[2]) <= now)
      or redis.call('GET', head .. id .. ARGV[4]) == np[1] then
    due = 1
  end
elseif redis.call('ZCARD', head .. id .. ARGV[5]) > 0 then
  due = 1
end
local live = 0
for _, email in ipairs(redis.call('SMEMBERS', head .. id .. ARGV[6])) do
  live = live + redis.call('EXISTS', head .. id .. ARGV[7] .. email)
end
return {due, live}
"""


def due_and_live(client: Any, nest_ids: list[str], now_ts: float) -> tuple[set[str],
                                                                          dict[str, int]]:
    """(due nest ids, live member count per nest): the player pass's reads, one call per
    nest, one pipeline per shard (cluster layout; one server keeps its batch scripts)."""
    from echonest import keys

    head, _ = keys.nest_key("\0", keys.NOW_PLAYING).split("\0")
    tails = [keys.nest_key("\0", k).split("\0")[1]
             for k in (keys.NOW_PLAYING, keys.SKIP, keys.PRIORITY_QUEUE, keys.MEMBERS)]
    member_tail = keys.member_key("\0", "").split("\0")[1]
    found = run(client, DUE_AND_LIVE, [
        ([keys.nest_key(n, keys.NOW_PLAYING)], [repr(now_ts), head, *tails, member_tail, n])
        for n in nest_ids])
    due = {n for n, (is_due, _) in zip(nest_ids, found, strict=True) if int(is_due)}
    return due, {n: int(live) for n, (_, live) in zip(nest_ids, found, strict=True)}
