"""Per-app clients (Redis, nests, catalog, DB) made on first use, and per-request helpers.

Nothing here connects at import or at app creation: the first request that needs Redis
builds the client and parks it in ``app.extensions["echonest"]``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any

from flask import current_app, g, has_request_context, request

from echonest import keys
from echonest.errors import InvalidRequest, NotFound
from echonest.nest_registry import decode_metadata

EXTENSION = "echonest"
_lock = threading.RLock()  # builders nest: nest_manager() builds redis() first


def state() -> dict[str, Any]:
    return current_app.extensions.setdefault(EXTENSION, {})


def conf() -> Any:
    return current_app.config["ECHONEST_CONF"]


def _lazy(name: str, build) -> Any:
    st = state()
    value = st.get(name)
    if value is None:
        with _lock:
            value = st.get(name)
            if value is None:
                value = st[name] = build()
    return value


def redis() -> Any:
    """The app's Redis client (injected by create_app, else the process-wide default)."""
    def build():
        from config import CONF as GLOBAL
        from echonest.store import connect, default_client

        # The process-wide pool when this app uses the global URL; its own client otherwise.
        url = conf().REDIS_URL
        return (default_client() if not url or url == GLOBAL.REDIS_URL
                else connect(url, conf()))

    return _lazy("redis", build)


def nest_manager() -> Any:
    def build():
        from nests import NestManager

        manager = NestManager(redis_client=redis(), conf=conf())
        manager.ensure_main()
        return manager

    return _lazy("nest_manager", build)


def catalog() -> Any:
    def build():
        from echonest.catalog import get_catalog

        return get_catalog(conf(), redis())

    return _lazy("catalog", build)


def db(nest_id: str) -> Any:
    """A DB for one nest; cheap, so one per call (the Redis client is the shared part)."""
    from db import DB

    return DB(nest_id=nest_id, init_history_to_redis=False, redis_client=redis())


def client_ip() -> str:
    return request.remote_addr or "unknown"


def json_object(*, allow_form: bool = False) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty); anything else is invalid_request."""
    if allow_form and request.form:
        return request.form.to_dict()
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    from echonest.validation import parse_json

    try:
        body = parse_json(raw)
    except InvalidRequest:
        body = None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


RESOLVED_SECONDS = 60.0  # how long a write route reuses a code's resolution (see resolve_nest)
RESOLVED_MAX = 4096
DEFERRED = "_echonest_deferred_limits"
EXPECTED = "_echonest_expected_meta"

KNOWN_NESTS = "nests"   # session: nests this browser has reached (a guessing block spares them)
KNOWN_NESTS_MAX = 20


def _guess_subjects(user: Any) -> list[tuple[str, str]]:
    """Code guessing counts per address *and* per person there: one guesser blocks only
    themself quickly; the address as a whole only at a much higher count (NAT fairness)."""
    ip = client_ip()
    return [("unknown_code_user", f"{ip}|{getattr(user, 'id', '')}"), ("unknown_code_ip", ip)]


def _known_nest(user: Any, nest_id: str, meta: dict[str, Any]) -> bool:
    """Nests a guessing block never bars: main, the user's own, and ones reached before."""
    from flask import session

    if nest_id == "main" or (user is not None and meta.get("created_by") == user.id):
        return True
    known = session.get(KNOWN_NESTS)
    return isinstance(known, list) and nest_id in known


def _remember_nest(nest_id: str) -> None:
    from flask import session

    known = session.get(KNOWN_NESTS)
    known = [n for n in known if isinstance(n, str)] if isinstance(known, list) else []
    if nest_id not in known:
        session[KNOWN_NESTS] = (known + [nest_id])[-KNOWN_NESTS_MAX:]


def resolve_nest(code: Any, *, for_write: bool = False) -> tuple[str, dict[str, Any]]:
    """A code/vanity/'main' (any case) → (nest_id, metadata); unknown → NotFound.

    Misses count per address+person (``unknown_code_user``) and per address
    (``unknown_code_ip``, set much higher). Over either, a lookup of any nest the person does
    not already know (not main, not theirs, not reached before from this session) is refused
    too, hit or miss, so a guesser cannot use hits as an oracle; the Home Nest and nests they
    know keep working, so a guesser on an office NAT never locks out the others there. Only
    well-formed codes count (not /favicon.ico); the operator token is exempt.

    ``for_write``: the caller runs one guarded write for this nest next. A code this process
    resolved before is then reused without Redis, metadata and all, and the write checks in the
    same step that the nest still exists and its metadata (but for ``last_activity``) is what
    the decisions were made on (``echonest.atomic.PRE``); otherwise it raises ``StaleNest`` and
    the route runs again on a fresh read. A guessing check it needs rides along the same way, so
    a write in a nest costs one round trip (issue 10).
    """
    from echonest import ratelimit
    from echonest.nest_names import VANITY_RE, looks_like_code
    from echonest.web.auth import current_user

    user = current_user()
    exempt = user is not None and user.kind == "token"
    text = code.strip() if isinstance(code, str) else ""
    plausible = bool(text) and (looks_like_code(text.upper(), int(conf().NEST_CODE_LENGTH or 5))
                                or bool(VANITY_RE.match(text.lower())))
    resolved = state().setdefault("resolved", {})
    # Cluster layout: a write's script cannot read the registry to check a remembered reading.
    known = resolved.get(text.lower()) if for_write and not keys.cluster_layout() else None
    if known is not None and known[0] > time.monotonic():
        _, nest_id, raw, fingerprint = known
        meta = decode_metadata(raw)  # a fresh dict per request: nothing shares it
        g.setdefault(EXPECTED, {})[nest_id] = fingerprint
        if not exempt and not _known_nest(user, nest_id, meta):
            g.setdefault(DEFERRED, []).extend(
                ratelimit.spec(conf(), bucket, subject, cost=0)
                for bucket, subject in _guess_subjects(user))
            _remember_nest(nest_id)
        from echonest.web.nest_access import admit_request

        return nest_id, admit_request(nest_id, meta)
    manager = nest_manager()
    nest_id = manager.resolve_code(text) if plausible or text.lower() == "main" else None
    # The guarded scripts' own copy: the registry, or (cluster layout) the nest's alive hash.
    raw = redis().hget(keys.nest_guard_key(nest_id), nest_id) if nest_id else None
    meta = decode_metadata(raw) if raw is not None else (
        manager.get_nest(nest_id) if nest_id == "main" else None)
    if meta is None:
        if plausible and not exempt:
            ratelimit.hit_many(redis(), conf(), _guess_subjects(user))
        raise NotFound("No nest has that code.")
    if raw is not None:
        if len(resolved) >= RESOLVED_MAX:
            resolved.clear()
        resolved[text.lower()] = (time.monotonic() + RESOLVED_SECONDS, nest_id, raw,
                                  meta_fingerprint(raw))
    if not exempt and not _known_nest(user, nest_id, meta):
        ratelimit.hit_many(redis(), conf(), _guess_subjects(user), cost=0)
        _remember_nest(nest_id)
    from echonest.web.nest_access import admit_request

    return nest_id, admit_request(nest_id, meta)


def meta_fingerprint(raw: str) -> str:
    """What a guarded write compares to be sure the nest's metadata did not change
    (``echonest.atomic.PRE`` computes the same in Lua; ``last_activity`` moves on every action
    and decides nothing, so it is left out)."""
    return hashlib.sha1(ACTIVITY_FIELD.sub("", raw).encode()).hexdigest()  # noqa: S324 - a change check, not security


ACTIVITY_FIELD = re.compile(r'"last_activity"\s*:\s*"[^"]*"')


def nest_snapshot(nest_id: str) -> tuple[Any, str | None]:
    """(Nest, fingerprint) read now, for a caller that acts on it later (a WebSocket's frames);
    (None, None) when the nest is gone (the action then says so)."""
    from echonest.nest_value import Nest

    raw = redis().hget(keys.nest_guard_key(nest_id), nest_id)
    meta = decode_metadata(raw) if raw is not None else None
    if meta is None:
        return None, None
    return Nest.from_meta(nest_id, meta), meta_fingerprint(raw)


def forget_resolved(nest_id: str) -> None:
    """A write found the nest gone or changed: stop reusing every code that led to it."""
    resolved = state().get("resolved") or {}
    for text in [t for t, known in resolved.items() if known[1] == nest_id]:
        resolved.pop(text, None)


def action_context(nest_id: str, user: Any = None, *, is_api_token: bool | None = None) -> Any:
    """The ActionContext for this request (HTTP or WebSocket) and nest."""
    from echonest.actions import ActionContext
    from echonest.web.auth import current_user
    from echonest.web.nest_access import request_nest

    user = user if user is not None else current_user()
    deferred = g.pop(DEFERRED, []) if has_request_context() else []
    expected = g.pop(EXPECTED, {}) if has_request_context() else {}
    return ActionContext(
        nest_id=nest_id, user=user, redis=redis(), catalog=catalog(),
        nest_manager=nest_manager(), conf=conf(), ip=client_ip(),
        is_api_token=bool(user and user.kind == "token") if is_api_token is None
        else is_api_token,
        db_factory=db, nest=request_nest(nest_id), deferred=deferred,
        expected_meta=expected.get(nest_id) if request_nest(nest_id) is not None else None)
