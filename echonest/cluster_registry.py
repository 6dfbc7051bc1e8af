"""The nest registry's writes in the cluster layout: create, update and delete as single-slot steps.

The registry, the code lookups and the delete set are global keys, in other slots than the
nest's own keys, so no one script can do what the single-server scripts do in one step. Each
write below is a short sequence of single-slot calls, ordered so that a crash between two of
them leaves something the cleanup pass finishes (``finish_orphans``), never a nest that is half
there. ``nests.NestManager`` calls these when ``keys.cluster_layout()``; the functions take the
manager for its client, its settings and its purge.
"""

from __future__ import annotations

import json
import time
from typing import Any

from echonest import events, keys
from echonest.errors import EchoNestError, InvalidRequest, NestGone, NotFound
from echonest.nest_names import MAIN_NEST_ID
from echonest.nest_registry import (
    CREATE_ALIVE_LUA,
    DELETE_START_CLUSTER,
    RELEASE_CODE_LUA,
    RELEASE_RESERVATION_LUA,
    RESERVE_LUA,
    UPDATE_CLUSTER,
    decode_metadata,
    script_error,
    utc_now,
)

# The code is claimed with a TTL first and made permanent once the nest exists, and the
# registry entry is a reservation until then: a creator that dies half-way leaves neither for
# longer than this.
CLAIM_MS = 60_000
_DELETE_BATCH = 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


def is_reservation(raw: str | None, now_ms: int | None = None) -> bool:
    """A registry entry of a create still under way (``now_ms`` given: and not yet overdue)."""
    meta = decode_metadata(raw)
    until = meta.get("creating_until") if meta else None
    if not isinstance(until, int | float):
        return False
    return now_ms is None or until > now_ms


def create(manager: Any, code: str, meta: dict[str, Any], creator: str, ip: str,
           per_user: int, per_ip: int, exempt: bool) -> str:
    """CREATE_LUA's steps as single-slot calls; returns its outcome (OK, TAKEN, *LIMIT).

    1. In the registry's slot, one script checks every cap and writes the registry entry as
       a reservation, so concurrent creates cannot overshoot a cap (they queue on one slot).
    2. The code is claimed (SET NX, with a TTL until done).
    3. The nest's alive hash is written in its own slot (refused while a delete marker stands).
    4. The registry entry becomes the real metadata; the code claim is made permanent.
    A failed step 2 or 3 releases what 1 and 2 took.
    """
    client = manager.redis
    if client.exists(keys.nest_code(code.lower()), keys.nest_deleting(code)):
        return "TAKEN"
    raw = json.dumps(meta)
    held = json.dumps({**meta, "creating_until": _now_ms() + CLAIM_MS})
    cap_keys = [keys.NESTS_REGISTRY, keys.nests_creator_ip()]
    outcome = client.eval(RESERVE_LUA, len(cap_keys), *cap_keys, code, held,
                          int(manager.conf.NEST_MAX_ACTIVE), MAIN_NEST_ID, creator, per_user,
                          ip, per_ip, "1" if exempt else "0")
    if outcome != "OK":
        return outcome
    code_key = keys.nest_code(code)
    made = False
    try:
        if client.set(code_key, code, nx=True, px=CLAIM_MS):
            made = bool(int(client.eval(CREATE_ALIVE_LUA, 2, keys.nest_guard_key(code),
                                        keys.nest_deleting(code), code, raw)))
            if not made:
                client.eval(RELEASE_CODE_LUA, 1, code_key, code)
    finally:
        if not made:
            client.eval(RELEASE_RESERVATION_LUA, len(cap_keys), *cap_keys, code, held)
    if not made:
        return "TAKEN"
    client.hset(keys.NESTS_REGISTRY, code, raw)
    client.persist(code_key)
    return "OK"


def current_entries(client: Any, registry: dict[str, str]) -> dict[str, str]:
    """The registry's entries as they are now: each nest's own copy (settings and touches land
    there), the registry's where there is none; creates still under way are left out."""
    if not registry:
        return {}
    pipe = client.pipeline(transaction=False)
    for nest_id in registry:
        pipe.hget(keys.nest_guard_key(nest_id), nest_id)
    return {nest_id: current or raw
            for (nest_id, raw), current in zip(registry.items(), pipe.execute(), strict=True)
            if current is not None or not is_reservation(raw)}


def update(manager: Any, nest_id: str, user: str, fields: dict[str, Any], mode: str,
           vanity: str) -> dict[str, Any]:
    """UPDATE's steps as single-slot calls: claim the new vanity code (SET NX), change the
    nest's own metadata (guarded script), then release the old code and copy the metadata
    into the registry. A refused change releases the claim it made."""
    client = manager.redis
    before = manager.get_nest(nest_id)
    if before is None:
        raise NotFound("no such nest")
    claimed = None
    if mode == "set":
        lookup = keys.nest_code(vanity)
        if client.exists(keys.nest_code(vanity.upper())):
            raise InvalidRequest("that vanity code is already taken")
        if client.set(lookup, nest_id, nx=True):
            claimed = lookup
        elif client.get(lookup) != nest_id:
            raise InvalidRequest("that vanity code is already taken")
    try:
        _, encoded = UPDATE_CLUSTER(
            client, nest_id, keys_=[keys.nest_key(nest_id, keys.NEST_VANITY)],
            args=[user, json.dumps(fields), mode, vanity, ""], event=events.NEST_UPDATE)
    except (NestGone, EchoNestError) as exc:
        if claimed:
            client.eval(RELEASE_CODE_LUA, 1, claimed, nest_id)
        if isinstance(exc, NestGone):
            raise NotFound("no such nest") from None
        raise script_error(exc) from None
    old = before.get("vanity_code")
    if mode != "keep" and isinstance(old, str) and old and old != vanity:
        client.eval(RELEASE_CODE_LUA, 1, keys.nest_code(old), nest_id)
    if client.hexists(keys.NESTS_REGISTRY, nest_id):
        client.hset(keys.NESTS_REGISTRY, nest_id, encoded)
    return json.loads(encoded)


def delete(manager: Any, nest_id: str, only_if_idle_since: str | None) -> bool:
    """DELETE_START in the nest's slot (idle re-check, marker, end of the alive hash), then
    the global entries as separate calls, then the sweep. A crash after the first step
    leaves a registry entry with no alive hash: ``finish_orphans`` completes it."""
    client = manager.redis
    try:
        _, raw = DELETE_START_CLUSTER(
            client, nest_id,
            keys_=[keys.members_key(nest_id), keys.nest_key(nest_id, keys.PRIORITY_QUEUE)],
            args=[only_if_idle_since or "", keys.member_key(nest_id, ""),
                  int(utc_now().timestamp())],
            event=events.NEST_DELETED)
    except EchoNestError as exc:
        if not isinstance(exc, NestGone):
            raise script_error(exc) from None
        entry = client.hget(keys.NESTS_REGISTRY, nest_id)
        if client.exists(keys.nest_deleting(nest_id)) or (
                entry is not None and not is_reservation(entry, _now_ms())):
            finish_delete(manager, nest_id)
            return True
        raise NotFound("no such nest") from None
    if not raw:
        return False
    finish_delete(manager, nest_id, decode_metadata(raw))
    return True


def finish_delete(manager: Any, nest_id: str, meta: dict[str, Any] | None = None) -> None:
    """The global half of a delete: the delete set, the registry entry, the codes, the sweep."""
    client = manager.redis
    if meta is None:
        meta = decode_metadata(client.hget(keys.NESTS_REGISTRY, nest_id)) or {}
    client.sadd(keys.NESTS_BEING_DELETED, nest_id)
    client.hdel(keys.NESTS_REGISTRY, nest_id)
    client.eval(RELEASE_CODE_LUA, 1, keys.nest_code(nest_id), nest_id)
    vanity = meta.get("vanity_code")
    if isinstance(vanity, str) and vanity:
        client.eval(RELEASE_CODE_LUA, 1, keys.nest_code(vanity), nest_id)
    manager._purge(nest_id)


def finish_orphans(manager: Any) -> list[str]:
    """Registry entries whose alive hash is gone (a delete stopped after its first step, or a
    create that died before its nest existed and whose reservation is overdue) are finished.
    One pipelined HEXISTS per nest, grouped by shard."""
    client = manager.redis
    ids = [n for n in client.hkeys(keys.NESTS_REGISTRY) if n != MAIN_NEST_ID]
    if not ids:
        return []
    pipe = client.pipeline(transaction=False)
    for nest_id in ids:
        pipe.hexists(keys.nest_guard_key(nest_id), nest_id)
    candidates = [n for n, alive in zip(ids, pipe.execute(), strict=True) if not alive]
    finished = []
    for nest_id in candidates:
        # A create under way has its reservation but not yet its alive hash: leave it be.
        if is_reservation(client.hget(keys.NESTS_REGISTRY, nest_id), _now_ms()):
            continue
        # Read again: the create may have written its alive hash since.
        if not client.hexists(keys.nest_guard_key(nest_id), nest_id):
            finish_delete(manager, nest_id)
            finished.append(nest_id)
    return finished


def purge_slot(client: Any, nest_id: str) -> None:
    """Every key of the nest is in one hash slot, so list that slot (its primary alone
    answers, about NESTS/16384 nests' keys) instead of scanning the cluster. The deleting
    marker is kept for the caller to drop last."""
    prefix = keys.nest_prefix(nest_id)
    marker = keys.nest_deleting(nest_id)
    slot = client.keyslot(prefix)
    while True:
        total = int(client.cluster_countkeysinslot(slot))
        names = client.cluster_get_keys_in_slot(slot, max(total, 1)) if total else []
        ours = [k for k in names if k.startswith(prefix) and k != marker]
        if not ours:
            return
        for start in range(0, len(ours), _DELETE_BATCH):
            client.unlink(*ours[start:start + _DELETE_BATCH])
