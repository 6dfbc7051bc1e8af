"""The per-nest player lock: taken by the worker that plays a nest, renewed while it works.

A lock is SET NX PX with an owner token and compare-and-delete release. It is a short lease
(LOCK_MS) that a keeper thread renews while the worker still works on the nest, so a worker
that dies holding it freezes that nest for seconds, not minutes.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

import redis

from echonest import keys
from echonest.membership import QuietableScript

log = logging.getLogger("master_player")

LOCK_MS = 5_000  # a lease: renewed every LOCK_MS/3 while held, so a dead worker's frees fast
LOCK_MAX_HOLD_SECONDS = 120.0  # a nest's work wedged this long stops being renewed

# Guarded so a worker that listed a nest just before it was deleted cannot recreate its keys.
_ACQUIRE = QuietableScript("""
local result = 0
if redis.call('SET', KEYS[5], ARGV[4], 'NX', 'PX', tonumber(ARGV[5])) then result = 1 end
quiet = true
""")

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Every lease this worker holds, renewed in one round trip; ARGV = tokens..., ttl_ms.
_RENEW_LUA = """
local renewed = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('PEXPIRE', key, ARGV[#ARGV])
    renewed = renewed + 1
  end
end
return renewed
"""


def lock_key(nest_id: str) -> str:
    return keys.nest_key(nest_id, keys.MASTER_PLAYER_LOCK)


def acquire_lock(client: redis.Redis, nest_id: str, token: str, ttl_ms: int = LOCK_MS) -> bool:
    """Take the nest's player lock for ``token``; False when another worker holds it."""
    _, got = _ACQUIRE(client, nest_id, keys_=[lock_key(nest_id)], args=[token, int(ttl_ms)])
    return bool(got)


def release_lock(client: redis.Redis, nest_id: str, token: str) -> bool:
    """Release only our own lock: after a pause longer than the TTL it may be someone else's."""
    return bool(client.eval(_RELEASE_LUA, 1, lock_key(nest_id), token))


class LeaseKeeper:
    """Renews the nest leases one worker holds, from a thread that lives while any is held.

    The thread dies with the worker process, so a SIGKILLed worker's lease simply expires
    within LOCK_MS; a worker whose nest pass is wedged past LOCK_MAX_HOLD_SECONDS lets go.
    """

    def __init__(self, client: redis.Redis, ttl_ms: int = LOCK_MS):
        self.client, self.ttl_ms = client, int(ttl_ms)
        self._held: dict[str, tuple[str, float]] = {}
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, nest_id: str, token: str) -> None:
        with self._mutex:
            self._held[nest_id] = (token, time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-keeper",
                                                daemon=True)
                self._thread.start()

    def drop(self, nest_id: str) -> None:
        with self._mutex:
            self._held.pop(nest_id, None)

    def renew(self) -> int:
        """One round trip renewing every lease still ours; how many were."""
        now = time.monotonic()
        with self._mutex:
            for nest_id, (_, since) in list(self._held.items()):
                if now - since > LOCK_MAX_HOLD_SECONDS:
                    log.warning("nest %s held for over %.0f s; no longer renewing its lock",
                                nest_id, LOCK_MAX_HOLD_SECONDS)
                    del self._held[nest_id]
            held = list(self._held.items())
        if not held:
            return 0
        lock_keys = [lock_key(nest_id) for nest_id, _ in held]
        tokens = [token for _, (token, _) in held]
        if keys.cluster_layout():
            # Each lock lives in its own nest's slot: one call per lock, one pipeline per shard.
            from echonest import per_nest

            return sum(int(n) for n in per_nest.run(self.client, _RENEW_LUA, [
                ([key], [token, self.ttl_ms]) for key, token in zip(lock_keys, tokens,
                                                                    strict=True)]))
        return int(self.client.eval(_RENEW_LUA, len(lock_keys), *lock_keys, *tokens,
                                    self.ttl_ms))

    def _run(self) -> None:
        while True:
            time.sleep(self.ttl_ms / 3000)
            with self._mutex:
                if not self._held:
                    self._thread = None
                    return
            try:
                self.renew()
            except redis.RedisError:
                pass  # an outage: the run loop reports it; the lease may lapse meanwhile


_keepers: weakref.WeakKeyDictionary[redis.Redis, LeaseKeeper] = weakref.WeakKeyDictionary()
_keepers_mutex = threading.Lock()


def lease_keeper(client: redis.Redis) -> LeaseKeeper:
    with _keepers_mutex:
        keeper = _keepers.get(client)
        if keeper is None:
            keeper = _keepers[client] = LeaseKeeper(client)
        return keeper
