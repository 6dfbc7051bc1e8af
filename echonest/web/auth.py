"""Who is asking: session users, API tokens (operator, per-user, sync), the dev bypass, CSRF, gate.

Every route needs a user unless its view is marked ``@public`` (health, /login/…, the OAuth
callback, static files). JSON routes refuse with 401 JSON; pages redirect to /login/?next=….
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, redirect, request, session, url_for

from echonest.errors import Forbidden
from echonest.web import context, session_revocation
from echonest.web.errors import error_body, wants_json

log = logging.getLogger(__name__)

KINDS = ("google", "guest", "dev", "token", "sync")
SESSION_KINDS = ("google", "guest", "dev")
TOKEN_USER_ID = "token:api"  # noqa: S105 - a user id, not a secret
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
LOOPBACK_ADDRS = frozenset({"127.0.0.1", "::1"})
_UNSET = object()
NAMED_AT = "named_at"        # session: when this user's display name was last recorded
NAME_REFRESH_SECONDS = 86400  # re-record daily, so a flushed names hash heals by itself


@dataclass(frozen=True)
class User:
    id: str                 # email for google/dev users, "guest:<random>", "token:api"
    name: str
    email: str = ""
    kind: str = "guest"     # one of KINDS
    is_admin: bool = False
    avatar_url: str = ""
    token_scope: str = ""   # "user"/"sync" when a per-user or sync token vouched for this request

    def public(self) -> dict[str, Any]:
        """What pages and other users may see."""
        return {"id": self.id, "name": self.name, "avatar_url": self.avatar_url,
                "is_admin": self.is_admin}


def public(view):
    """Mark a view as reachable without signing in."""
    view.echonest_public = True
    return view


def sync_readable(view):
    """Mark a view a sync token may call (following the main nest, search); all else is 403."""
    view.echonest_sync_ok = True
    return view


def session_only(view):
    """Mark a view that needs a browser session: minting credentials from a token would let a
    leaked token outlive its revocation."""
    view.echonest_session_only = True
    return view


def _view_flag(endpoint: str | None, flag: str) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return bool(getattr(view, flag, False))


def is_public_endpoint(endpoint: str | None, app: Flask | None = None) -> bool:
    if endpoint is None:
        return False
    if endpoint == "static" or endpoint.endswith(".static"):
        return True
    view = (app or current_app).view_functions.get(endpoint)
    return bool(getattr(view, "echonest_public", False))


# --- identities ------------------------------------------------------------------------
def api_tokens(conf: Any) -> list[str]:
    """The operator tokens currently configured (read per request so rotation needs no restart)."""
    return [t for t in (conf.ECHONEST_API_TOKEN, conf.ANDRE_API_TOKEN)
            if isinstance(t, str) and t.strip()]


def _bearer_user(header: str) -> User | None:
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    presented_bytes = presented.strip().encode()
    matched = False
    for token in api_tokens(context.conf()):
        # compare every configured token so timing does not reveal which one matched
        matched |= hmac.compare_digest(presented_bytes, token.strip().encode())
    if not matched:
        return _issued_token_user(presented.strip())
    return User(id=TOKEN_USER_ID, name="API", kind="token", is_admin=True)


def _issued_token_user(presented: str) -> User | None:
    """A per-user token acts as its owner; a sync token is a follow-only nobody (sync_readable).

    Redis is looked up by the token's SHA-256, so timing reveals nothing about the token.
    """
    from echonest import user_tokens

    return _token_holder(user_tokens.lookup(context.redis(), presented), context.conf())


def _token_holder(record: dict[str, str] | None, conf: Any) -> User | None:
    from echonest import user_tokens

    if record is None:
        return None
    if record["scope"] == user_tokens.SCOPE_SYNC:
        # Sync tokens live as long as the invite code that minted them is still configured.
        if record.get("invite") not in user_tokens.live_invites(conf):
            return None
        return User(id=record["owner"], name=user_tokens.SYNC_NAME, kind="sync",
                    token_scope=user_tokens.SCOPE_SYNC)
    kind, email = record.get("kind"), record.get("email") or ""
    if kind not in SESSION_KINDS:
        return None
    is_admin = kind != "guest" and bool(email) and email.lower() in admin_emails(conf)
    return User(id=record["owner"], name=record.get("name") or record["owner"], email=email,
                kind=kind, is_admin=is_admin, token_scope=user_tokens.SCOPE_USER)


def credential_checker() -> Callable[[], bool] | None:
    """For a long-lived stream, a check that what opened it still holds: revoking a per-user or
    sync token (or retiring a sync token's invite code) or signing the session out ends its
    open streams (SSE within one keepalive, WebSockets within one heartbeat)."""
    from echonest import user_tokens

    user = current_user()
    if user is None:
        return None
    client, conf = context.redis(), context.conf()
    if not user.token_scope:
        sid = session.get(SESSION_ID)
        if not isinstance(sid, str) or not sid:
            return None
        return session_revocation.live_check(client, sid)
    presented = request.headers.get("Authorization", "").partition(" ")[2].strip()

    def still_valid() -> bool:
        try:
            record = user_tokens.lookup(client, presented)
        except Exception:
            return True  # Redis blipped: keep the stream; the next check decides
        return _token_holder(record, conf) is not None

    return still_valid


def admin_emails(conf: Any) -> set[str]:
    raw = conf.ADMIN_EMAILS or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return {str(e).strip().lower() for e in raw if str(e).strip()}


def _session_user() -> User | None:
    raw = session.get("user")
    if not isinstance(raw, dict):
        return None
    user_id, kind = raw.get("id"), raw.get("kind")
    if not isinstance(user_id, str) or not user_id or kind not in SESSION_KINDS:
        return None
    if _session_revoked():
        session.clear()
        return None
    email = raw.get("email") if isinstance(raw.get("email"), str) else ""
    is_admin = kind != "guest" and bool(email) and email.lower() in admin_emails(context.conf())
    return User(id=user_id, name=str(raw.get("name") or user_id)[:80], email=email, kind=kind,
                is_admin=is_admin, avatar_url=str(raw.get("avatar_url") or ""))


def current_user() -> User | None:
    """The signed-in user for this request (session or Bearer token), else None."""
    cached = g.get("_echonest_user", _UNSET)
    if cached is not _UNSET:
        return cached
    header = request.headers.get("Authorization")
    # A request that presents a token is judged by the token alone, never by a cookie.
    user = _bearer_user(header) if header else _session_user()
    g._echonest_user = user
    return user


# --- server-side session ids: logout ends a session for good ---------------------------------
SESSION_ID = "sid"


def _session_revoked() -> bool:
    """Was this session signed out (echonest.web.session_revocation)? Sessions from before ids
    existed get one now, so from their next logout on they can be ended too."""
    sid = session.get(SESSION_ID)
    trust = float(context.conf().SESSION_CHECK_SECONDS or 0)
    if not isinstance(sid, str) or not sid:
        session[SESSION_ID] = sid = secrets.token_urlsafe(18)
        session_revocation.trust(sid, trust)
        return False
    return session_revocation.is_revoked(context.redis(), sid, trust)


def _revoke_session() -> None:
    sid = session.get(SESSION_ID)
    if not isinstance(sid, str) or not sid:
        return
    lifetime = int(current_app.permanent_session_lifetime.total_seconds())
    session_revocation.revoke(context.redis(), sid, lifetime)


def sign_in(user: User) -> User:
    """Start a fresh session for ``user`` (a new session id and CSRF token: no fixation)."""
    session.clear()
    record = asdict(user)
    record.pop("is_admin")  # recomputed per request from ADMIN_EMAILS
    record.pop("token_scope")
    session["user"] = record
    session[SESSION_ID] = sid = secrets.token_urlsafe(18)
    session_revocation.trust(sid, float(context.conf().SESSION_CHECK_SECONDS or 0))
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    g._echonest_user = _session_user()
    remember_name(g._echonest_user)
    return g._echonest_user


def remember_name(user: User | None) -> None:
    """Record the user's display name so others see it (best effort: sign-in never fails on it)."""
    if user is None or user.kind not in SESSION_KINDS:
        return
    from echonest import user_names

    try:
        user_names.remember(context.redis(), user.id, user.name, user.avatar_url)
    except Exception:
        log.warning("could not record the display name of %s", user.id, exc_info=True)
        return
    session[NAMED_AT] = int(time.time())


def _refresh_name(user: User) -> None:
    """Sessions from before names were recorded (or after a flush) record theirs once a day."""
    named_at = session.get(NAMED_AT)
    if not isinstance(named_at, int) or time.time() - named_at > NAME_REFRESH_SECONDS:
        remember_name(user)


def sign_out() -> None:
    """End the session here *and* server-side: a copy of the cookie is refused from now on."""
    _revoke_session()
    session.clear()
    g._echonest_user = None


# --- dev bypass --------------------------------------------------------------------------
def is_loopback_request() -> bool:
    hostname = urlsplit("//" + request.host).hostname or ""
    return hostname in LOOPBACK_HOSTS and (request.remote_addr or "") in LOOPBACK_ADDRS


def dev_bypass_allowed(conf: Any) -> bool:
    return bool(conf.DEBUG) and bool(str(conf.DEV_AUTH_EMAIL or "").strip()) \
        and is_loopback_request()


def dev_user(conf: Any) -> User:
    email = str(conf.DEV_AUTH_EMAIL).strip().lower()
    return User(id=email, name=email.split("@")[0] or email, email=email, kind="dev")


# --- CSRF ----------------------------------------------------------------------------------
def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_matches(presented: Any) -> bool:
    expected = session.get("csrf")
    return (isinstance(presented, str) and isinstance(expected, str) and bool(expected)
            and hmac.compare_digest(presented.encode(), expected.encode()))


def csrf_ok() -> bool:
    """A browser cannot send a JSON content type or a custom header cross-site without CORS."""
    if request.mimetype == "application/json":
        return True
    if csrf_matches(request.headers.get("X-CSRF-Token")):
        return True
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") \
        and csrf_matches(request.form.get("csrf_token"))


# --- the gate ------------------------------------------------------------------------------
def safe_next(value: Any, default: str = "/") -> str:
    """A local path to return to after sign-in; anything else (other hosts, //x) → default."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return default
    if value.startswith("//") or "\\" in value or any(ord(c) < 33 or ord(c) == 127
                                                       for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/logout")):
        return default
    return value


def _cross_site_websocket() -> bool:
    """A WebSocket handshake carries cookies but no CSRF protection: insist on our own Origin."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return False
    origin = request.headers.get("Origin")
    if not origin:
        return False  # non-browser clients send none; browsers always do
    return (urlsplit(origin).netloc or "").lower() != request.host.lower()


def _refuse():
    if wants_json():
        bad_token = bool(request.headers.get("Authorization"))
        message = ("Invalid API token." if bad_token
                   else "Sign in, or send Authorization: Bearer <token>.")
        response = jsonify(error_body("unauthorized", message))
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="echonest"'
        return response
    target = request.full_path.rstrip("?") if request.query_string else request.path
    return redirect(url_for("login.login_page", next=safe_next(target)))


def gate():
    """before_request: everything but @public views needs a user; browser writes need CSRF."""
    if is_public_endpoint(request.endpoint):
        return None
    if request.endpoint is None:
        return None  # unknown URL or wrong method: the 404/405 handler answers
    return check_request()


def check_request():
    """The gate's checks; a public view that opens only to some callers runs them itself."""
    user = current_user()
    conf = context.conf()
    if user is None and not request.headers.get("Authorization") and dev_bypass_allowed(conf):
        user = sign_in(dev_user(conf))
    if user is None:
        return _refuse()
    if user.kind == "sync" and not _view_flag(request.endpoint, "echonest_sync_ok"):
        raise Forbidden("This sync token can only follow the main nest and search; link your "
                        "account at /sync/link to do more.")
    if user.kind == "token" or user.token_scope:
        if _view_flag(request.endpoint, "echonest_session_only"):
            raise Forbidden("Manage tokens and link codes from a signed-in browser.")
        return None  # a Bearer header is never sent cross-site by a browser: no CSRF to check
    _refresh_name(user)
    if request.method not in SAFE_METHODS and not csrf_ok():
        raise Forbidden("Missing or invalid CSRF token: send JSON or an X-CSRF-Token header.")
    if _cross_site_websocket():
        raise Forbidden("WebSocket connections must come from this site's own pages.")
    return None


def _template_globals() -> dict[str, Any]:
    return {"current_user": current_user}


def init_app(app: Flask) -> None:
    from echonest.web import login

    app.before_request(gate)
    app.context_processor(_template_globals)
    app.register_blueprint(login.bp)
