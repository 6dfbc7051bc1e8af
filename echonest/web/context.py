"""Per-app clients (Redis, nests, catalog, DB) made on first use, and per-request helpers.

Nothing here connects at import or at app creation: the first request that needs Redis
builds the client and parks it in ``app.extensions["echonest"]``.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app, g, has_request_context, request

from echonest.errors import InvalidRequest, NotFound

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
        return default_client() if not url or url == GLOBAL.REDIS_URL else connect(url)

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
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


RESOLVED_SECONDS = 5.0   # how long a write route trusts a code it resolved (see resolve_nest)
RESOLVED_MAX = 4096
DEFERRED = "_echonest_deferred_limits"


def resolve_nest(code: Any, *, for_write: bool = False) -> tuple[str, dict[str, Any]]:
    """A code/vanity/'main' (any case) → (nest_id, metadata); unknown → NotFound.

    Misses count against ``unknown_code_ip`` and an IP over it is refused every lookup, so a
    guesser cannot use hits as an oracle. Only well-formed codes count (not /favicon.ico).

    ``for_write``: the caller's action is a guarded write, which refuses a nest that is gone by
    itself. Then a code this process resolved in the last RESOLVED_SECONDS is trusted without
    Redis, and the "is this IP blocked?" check rides along with the write (``action_context``
    hands it on), so the whole action is one round trip. The metadata returned is then up to
    that old (writes do not use it).
    """
    import time

    from echonest import ratelimit
    from echonest.nest_names import VANITY_RE, looks_like_code
    from echonest.web.auth import current_user

    user = current_user()
    exempt = user is not None and user.kind == "token"
    text = code.strip() if isinstance(code, str) else ""
    plausible = bool(text) and (looks_like_code(text.upper(), int(conf().NEST_CODE_LENGTH or 5))
                                or bool(VANITY_RE.match(text.lower())))
    guess_check = (ratelimit.spec(conf(), "unknown_code_ip", client_ip(), cost=0)
                   if plausible and not exempt else None)
    resolved = state().setdefault("resolved", {})
    if for_write:
        known = resolved.get(text.lower())
        if known is not None and known[0] > time.monotonic():
            if guess_check is not None:
                g.setdefault(DEFERRED, []).append(guess_check)
            return known[1], known[2]
    ratelimit.check(redis(), guess_check)
    manager = nest_manager()
    nest_id = manager.resolve_code(text) if plausible or text.lower() == "main" else None
    meta = manager.get_nest(nest_id) if nest_id else None
    if meta is None:
        if plausible and not exempt:
            ratelimit.hit(redis(), conf(), "unknown_code_ip", client_ip())
        raise NotFound("No nest has that code.")
    if len(resolved) >= RESOLVED_MAX:
        resolved.clear()
    resolved[text.lower()] = (time.monotonic() + RESOLVED_SECONDS, nest_id, meta)
    return nest_id, meta


def forget_resolved(nest_id: str) -> None:
    """A write found the nest gone: stop trusting every code that led to it."""
    resolved = state().get("resolved") or {}
    for text in [t for t, known in resolved.items() if known[1] == nest_id]:
        resolved.pop(text, None)


def action_context(nest_id: str, user: Any = None, *, is_api_token: bool | None = None) -> Any:
    """The ActionContext for this request (HTTP or WebSocket) and nest."""
    from echonest.actions import ActionContext
    from echonest.web.auth import current_user

    user = user if user is not None else current_user()
    deferred = g.pop(DEFERRED, []) if has_request_context() else []
    return ActionContext(
        nest_id=nest_id, user=user, redis=redis(), catalog=catalog(),
        nest_manager=nest_manager(), conf=conf(), ip=client_ip(),
        is_api_token=bool(user and user.kind == "token") if is_api_token is None
        else is_api_token,
        db_factory=db, deferred=deferred)
