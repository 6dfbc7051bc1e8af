"""Nests: the registry, codes and names, membership/heartbeat, the cleanup predicate, key helpers."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

import redis

from config import CONF
from echonest import cluster_registry, events, keys, membership, nest_deletion
from echonest.errors import (
    EchoNestError,
    Forbidden,
    InvalidRequest,
    NestGone,
    NestLimitReached,
    NotFound,
)
from echonest.nest_names import (
    CODE_ALPHABET,
    MAIN_NEST_ID,
    MAIN_NEST_NAME,
    MAX_ID_LENGTH,
    THEMED_NAMES,
    check_member_id,
    check_nest_id,
    check_seed_uri,
    clean_name,
    clean_vanity,
    looks_like_code,
    pick_themed_name,
    slugify,
)
from echonest.nest_names import generate_code as _random_code
from echonest.nest_registry import (
    CREATE_LUA,
    TOUCH,
    UPDATE,
    as_utc,
    decode_metadata,
    iso,
    script_error,
    utc_now,
)

__all__ = [
    "CODE_ALPHABET", "NestManager", "join_nest", "leave_nest", "legacy_key_mapping",
    "member_key", "members_key", "pubsub_channel", "refresh_member_ttl", "should_delete_nest",
]

_GENRE_BY_NAME = {name.lower(): genre for name, genre in THEMED_NAMES.items()}


def pubsub_channel(nest_id: str) -> str:
    return keys.pubsub_channel(nest_id)


def members_key(nest_id: str) -> str:
    return keys.members_key(nest_id)


def member_key(nest_id: str, email: str) -> str:
    return keys.member_key(nest_id, email)


class _LegacyKeyMapping(dict):
    """Legacy key → ``NEST:main|`` key; any member of a legacy family maps on lookup too."""

    def __missing__(self, legacy: str) -> str:
        if isinstance(legacy, str) and legacy not in keys.GLOBAL_KEYS and (
                legacy in keys.LEGACY_EXACT or legacy.startswith(keys.LEGACY_PREFIXES)):
            return keys.nest_key(MAIN_NEST_ID, legacy)
        raise KeyError(legacy)


def _legacy_mapping() -> _LegacyKeyMapping:
    names = [keys.NOW_PLAYING, keys.PRIORITY_QUEUE, keys.MASTER_PLAYER_LOCK, keys.UPDATE_PUBSUB,
             keys.VOLUME, keys.PAUSED, keys.SKIP, *keys.LEGACY_EXACT]
    families = [prefix + "*" for prefix in keys.LEGACY_PREFIXES]
    return _LegacyKeyMapping(
        {name: keys.nest_key(MAIN_NEST_ID, name) for name in names + families})


# Each legacy unprefixed key (and each of the nine families, as a glob) → its home in the main
# nest. MISC|spotify-rate-limited stays global and is deliberately absent.
legacy_key_mapping: dict[str, str] = _legacy_mapping()


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _count(members: Any) -> int:
    if members is None or isinstance(members, bool):
        return int(bool(members))
    if isinstance(members, int):
        return members
    if isinstance(members, Collection):
        return len(members)
    return int(members)


def should_delete_nest(metadata: dict[str, Any] | None, members: Any, queue_size: int,
                       now: datetime | str | float) -> bool:
    """True when a temporary nest has no live members, an empty queue and has idled its TTL.

    ``members`` is a count or a collection of live members. Timestamps may be naive (UTC).
    """
    if not isinstance(metadata, dict):
        return False
    if _truthy(metadata.get("is_main")) or metadata.get("id") == MAIN_NEST_ID:
        return False
    if _count(members) > 0 or int(queue_size or 0) != 0:
        return False
    moment = as_utc(now)
    if moment is None:
        raise InvalidRequest("now must be a datetime or an ISO-8601 timestamp")
    try:
        ttl_minutes = float(metadata.get("ttl_minutes") or CONF.NEST_MAX_INACTIVE_MINUTES)
    except (TypeError, ValueError):
        ttl_minutes = float(CONF.NEST_MAX_INACTIVE_MINUTES)
    last = as_utc(metadata.get("last_activity")) or as_utc(metadata.get("created_at"))
    if last is None:
        # No readable activity time: a nest nobody can be shown to use is not worth keeping.
        return True
    return (moment - last).total_seconds() >= ttl_minutes * 60


class NestManager:
    """The nest registry and membership for one Redis; no I/O until a method is called."""

    def __init__(self, redis_client: redis.Redis | None = None, conf: Any = None):
        self._client = redis_client
        self._conf = conf
        self._create_script = None

    @property
    def redis(self) -> redis.Redis:
        if self._client is None:
            from echonest.store import default_client

            self._client = default_client()
        return self._client

    @property
    def conf(self) -> Any:
        return self._conf if self._conf is not None else CONF

    # --- registry ------------------------------------------------------------------------
    def main_metadata(self, now: datetime | None = None) -> dict[str, Any]:
        stamp = iso(now or utc_now())
        return {"id": MAIN_NEST_ID, "code": MAIN_NEST_ID, "name": MAIN_NEST_NAME,
                "slug": MAIN_NEST_ID, "created_by": "system", "created_at": stamp,
                "last_activity": stamp, "ttl_minutes": int(self.conf.NEST_MAX_INACTIVE_MINUTES),
                "is_main": True, "bender_enabled": True}

    def ensure_main(self) -> dict[str, Any]:
        """Create the main nest's registry entry on first use; returns its metadata."""
        raw = json.dumps(self.main_metadata())
        self.redis.hsetnx(keys.NESTS_REGISTRY, MAIN_NEST_ID, raw)
        if keys.cluster_layout():
            self.redis.hsetnx(keys.nest_guard_key(MAIN_NEST_ID), MAIN_NEST_ID, raw)
        self._add_to_player_bucket(MAIN_NEST_ID)
        return self.get_nest(MAIN_NEST_ID) or self.main_metadata()

    def get_nest(self, nest_id: Any) -> dict[str, Any] | None:
        if not isinstance(nest_id, str) or not nest_id or len(nest_id) > MAX_ID_LENGTH:
            return None
        # Cluster layout: the nest's own copy is the current one (touches land there only).
        raw = self.redis.hget(keys.nest_guard_key(nest_id), nest_id)
        if raw is None and nest_id == MAIN_NEST_ID:
            return self.ensure_main()
        return decode_metadata(raw)

    def resolve_code(self, code_or_vanity: Any) -> str | None:
        """A code, vanity code or 'main', in any case → nest id (None when unknown)."""
        if not isinstance(code_or_vanity, str):
            return None
        text = code_or_vanity.strip()
        if not text or len(text) > 24:
            return None
        if text.lower() == MAIN_NEST_ID:
            return MAIN_NEST_ID
        upper, lower = text.upper(), text.lower()
        if looks_like_code(upper, int(self.conf.NEST_CODE_LENGTH or 5)):
            found = self.redis.get(keys.nest_code(upper))
            if found:
                return found
        return self.redis.get(keys.nest_code(lower))

    def list_nests(self) -> list[tuple[str, dict[str, Any]]]:
        """Every nest (main first, then oldest first) as (nest_id, metadata)."""
        self.redis.hsetnx(keys.NESTS_REGISTRY, MAIN_NEST_ID, json.dumps(self.main_metadata()))
        found = []
        registry = self.redis.hgetall(keys.NESTS_REGISTRY)
        if keys.cluster_layout():
            registry = cluster_registry.current_entries(self.redis, registry)
        for nest_id, raw in registry.items():
            meta = decode_metadata(raw)
            if meta is not None:
                found.append((nest_id, meta))
        found.sort(key=lambda pair: (pair[0] != MAIN_NEST_ID, str(pair[1].get("created_at"))))
        return found

    def generate_code(self) -> str:
        """A random code that no nest (nor vanity code) currently uses."""
        length = int(self.conf.NEST_CODE_LENGTH or 5)
        for _ in range(100):
            code = _random_code(length)
            if not self.redis.exists(keys.nest_code(code), keys.nest_code(code.lower()),
                                     keys.nest_deleting(code)):
                return code
        raise EchoNestError("could not find a free nest code, try again", code="busy", status=503)

    def create_nest(self, creator_email: str, name: str | None = None,
                    seed_uri: str | None = None, *, now: datetime | None = None,
                    ip: str | None = None, exempt: bool = False) -> dict[str, Any]:
        """A new temporary nest. Caps on *active* nests: NEST_MAX_ACTIVE in all and, for a
        request from outside (``ip`` given: the web layer), NEST_MAX_ACTIVE_PER_USER per
        creator and NEST_MAX_ACTIVE_PER_IP per address; ``exempt`` (the operator token) skips
        every cap. Scripts and the worker pass no ``ip``: they are not a guest to hold back."""
        creator = check_member_id(creator_email)
        outside = ip is not None
        genre_hint = None
        if name is None:
            used = {meta.get("name") for _, meta in self.list_nests()}
            name, genre_hint = pick_themed_name(used)
        else:
            name = clean_name(name)
            genre_hint = _GENRE_BY_NAME.get(name.lower())
        stamp = iso(now or utc_now())
        meta: dict[str, Any] = {
            "name": name, "slug": slugify(name), "created_by": creator, "created_at": stamp,
            "last_activity": stamp, "ttl_minutes": int(self.conf.NEST_MAX_INACTIVE_MINUTES),
            "is_main": False, "bender_enabled": bool(self.conf.NEST_BENDER_DEFAULT),
        }
        if seed_uri is not None:
            meta["seed_uri"] = check_seed_uri(seed_uri)
        if genre_hint:
            meta["genre_hint"] = genre_hint
        for _ in range(20):
            code = self.generate_code()
            meta.update(id=code, code=code)
            outcome = self._create(code, meta, creator, outside, ip, exempt)
            if outcome == "OK":
                self._add_to_player_bucket(code)
                return dict(meta)
            if outcome == "USER_LIMIT":
                raise NestLimitReached(
                    f"You already have {int(self.conf.NEST_MAX_ACTIVE_PER_USER)} nests open. "
                    "Close one (or let it go quiet) before starting another.")
            if outcome == "IP_LIMIT":
                raise NestLimitReached(
                    f"{int(self.conf.NEST_MAX_ACTIVE_PER_IP)} nests are already open from your "
                    "network. Close one before starting another.")
            if outcome == "LIMIT":
                limit = int(self.conf.NEST_MAX_ACTIVE)
                raise NestLimitReached(
                    f"All {limit} nests are in use. Wait for one to close, or upgrade for more.",
                    upgrade_url=f"https://{self.conf.ECHONEST_DOMAIN}/upgrade")
        raise EchoNestError("could not find a free nest code, try again", code="busy", status=503)

    def _create(self, code: str, meta: dict[str, Any], creator: str, outside: bool,
                ip: str | None, exempt: bool) -> str:
        per_user = int(self.conf.NEST_MAX_ACTIVE_PER_USER or 0) if outside else 0
        per_ip = int(self.conf.NEST_MAX_ACTIVE_PER_IP or 0) if outside else 0
        if keys.cluster_layout():
            return cluster_registry.create(self, code, meta, creator, str(ip or "")[:64],
                                           per_user, per_ip, exempt)
        if self._create_script is None:
            self._create_script = self.redis.register_script(CREATE_LUA)
        return self._create_script(
            keys=[keys.NESTS_REGISTRY, keys.nest_code(code), keys.nest_code(code.lower()),
                  keys.nest_deleting(code), keys.NESTS_CREATOR_IP],
            args=[code, json.dumps(meta), int(self.conf.NEST_MAX_ACTIVE), MAIN_NEST_ID,
                  creator, per_user, str(ip or "")[:64], per_ip, "1" if exempt else "0"])

    def _add_to_player_bucket(self, nest_id: str) -> None:
        """List the nest in its player bucket (master_player: workers lease buckets)."""
        self.redis.sadd(keys.player_bucket_nests(player_bucket(nest_id)), nest_id)

    def update_nest(self, nest_id: str, user: str, name: str | None = None,
                    vanity_code: str | None = None, bender_enabled: bool | None = None
                    ) -> dict[str, Any]:
        """Creator-only rename / vanity code / Bender switch; publishes ``nest_update``."""
        nest_id = check_nest_id(nest_id)
        if nest_id == MAIN_NEST_ID:
            raise Forbidden("the Home Nest cannot be changed")
        user = check_member_id(user)
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = clean_name(name)
            fields["slug"] = slugify(fields["name"])
        if bender_enabled is not None:
            if not isinstance(bender_enabled, bool):
                raise InvalidRequest("bender_enabled must be true or false")
            fields["bender_enabled"] = bender_enabled
        mode, vanity = "keep", ""
        if vanity_code is not None:
            mode = "clear" if vanity_code == "" else "set"
            vanity = clean_vanity(vanity_code) if mode == "set" else ""
        if keys.cluster_layout():
            return cluster_registry.update(self, nest_id, user, fields, mode, vanity)
        try:
            _, encoded = UPDATE(
                self.redis, nest_id,
                keys_=[keys.nest_code(vanity or "-"), keys.nest_code(vanity.upper() or "-")],
                args=[user, json.dumps(fields), mode, vanity, keys.nest_code("")],
                event=events.NEST_UPDATE)
        except NestGone:
            raise NotFound("no such nest") from None
        except EchoNestError as exc:
            raise script_error(exc) from None
        return json.loads(encoded)

    def touch_nest(self, nest_id: str, *, now: datetime | None = None) -> bool:
        """Move ``last_activity`` to now; False when the nest is gone."""
        try:
            _, touched = TOUCH(self.redis, check_nest_id(nest_id),
                               args=[iso(now or utc_now())])
        except NestGone:
            return False
        return bool(touched)

    def delete_nest(self, nest_id: str, *, only_if_idle_since: str | None = None) -> bool:
        """Remove a temporary nest and every ``NEST:{id}|*`` key; main is refused (403).

        With ``only_if_idle_since`` (the ``last_activity`` the caller judged), nothing happens
        unless the nest is still that idle, memberless and empty: returns False.
        """
        nest_id = check_nest_id(nest_id)
        if nest_id == MAIN_NEST_ID:
            raise Forbidden("the Home Nest cannot be deleted")
        return nest_deletion.delete(self, nest_id, only_if_idle_since)

    def finish_deletes(self, *, now: datetime | None = None,
                       older_than_seconds: int = 600) -> list[str]:
        """Finish deletes a crash interrupted (started over ``older_than_seconds`` ago)."""
        return nest_deletion.finish(self, (now or utc_now()).timestamp() - older_than_seconds)

    def _purge(self, nest_id: str) -> None:
        nest_deletion.purge(self.redis, nest_id)

    # --- membership ----------------------------------------------------------------------
    def join_nest(self, nest_id: str, email: str, *, now: datetime | None = None) -> int:
        """One more open connection for ``email``; returns the live member count."""
        return membership.join(self.redis, check_nest_id(nest_id), check_member_id(email),
                               int(self.conf.MEMBER_TTL_SECONDS or 90), iso(now or utc_now()))

    def leave_nest(self, nest_id: str, email: str) -> int:
        """One connection fewer; the member leaves with their last. Gone nest → 0."""
        try:
            return membership.leave(self.redis, check_nest_id(nest_id), check_member_id(email))
        except NestGone:
            return 0

    def heartbeat(self, nest_id: str, email: str, ttl_seconds: int | None = None) -> int:
        ttl = int(ttl_seconds or self.conf.MEMBER_TTL_SECONDS or 90)
        return membership.heartbeat(self.redis, check_nest_id(nest_id), check_member_id(email), ttl)

    def live_members(self, nest_id: str) -> list[str]:
        try:
            return membership.prune(self.redis, check_nest_id(nest_id))
        except (NestGone, NotFound):
            return []

    def member_count(self, nest_id: str) -> int:
        return len(self.live_members(nest_id))

    def live_member_counts(self, nest_ids: list[str]) -> dict[str, int]:
        """Read-only live counts for many nests in at most two round trips."""
        return membership.live_member_counts(self.redis, nest_ids)


def player_bucket(nest_id: str) -> int:
    """The player bucket of a nest: its cluster hash slot (in either layout) folded into
    keys.PLAYER_BUCKETS ranges, so a worker's bucket is a contiguous slot range."""
    from redis.crc import key_slot

    return key_slot(nest_id.encode()) * keys.PLAYER_BUCKETS // 16384


def refresh_member_ttl(nest_id: str, email: str, ttl_seconds: int = 90,
                       redis_client: redis.Redis | None = None) -> int:
    """Heartbeat: keep ``email`` live in the nest for ``ttl_seconds``; returns the live count."""
    return NestManager(redis_client).heartbeat(nest_id, email, ttl_seconds)


def join_nest(nest_id: str, email: str) -> int:
    return NestManager().join_nest(nest_id, email)


def leave_nest(nest_id: str, email: str) -> int:
    return NestManager().leave_nest(nest_id, email)
