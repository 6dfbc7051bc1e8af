"""Sign-in routes: the /login/ page, guest sign-in, Google OIDC (Authlib), dev bypass, logout."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError

from echonest import ratelimit
from echonest.errors import EchoNestError, RateLimited
from echonest.nest_names import clean_name
from echonest.user_names import check_guest_name
from echonest.web import context
from echonest.web.auth import (
    User,
    csrf_matches,
    csrf_token,
    current_user,
    dev_bypass_allowed,
    dev_user,
    public,
    safe_next,
    sign_in,
    sign_out,
)

log = logging.getLogger(__name__)
bp = Blueprint("login", __name__)

NEXT_KEY = "login_next"


def google_enabled(conf: Any) -> bool:
    return bool(conf.GOOGLE_CLIENT_ID) and bool(conf.GOOGLE_CLIENT_SECRET)


def guest_enabled(conf: Any) -> bool:
    """GUEST_LOGIN: true/false force it; "auto" = on exactly when Google is not configured."""
    value = conf.GUEST_LOGIN
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "auto").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    return not google_enabled(conf)


def allowed_email(email: str, conf: Any) -> bool:
    domains = conf.ALLOWED_EMAIL_DOMAINS or []
    if isinstance(domains, str):
        domains = domains.split(",")
    domains = {str(d).strip().lower().lstrip("@") for d in domains if str(d).strip()}
    if "*" in domains:
        return True
    return email.rsplit("@", 1)[-1].lower() in domains


def _page(next_url: str, *, error: str | None = None, status: int = 200, name: str = "",
          headers: dict | None = None):
    conf = context.conf()
    html = render_template(
        "login.html", next_url=next_url, csrf=csrf_token(), error=error, name=name,
        google_enabled=google_enabled(conf), guest_enabled=guest_enabled(conf),
        dev_enabled=dev_bypass_allowed(conf), dev_email=str(conf.DEV_AUTH_EMAIL or ""))
    return html, status, headers or {}


@bp.get("/login/")
@public
def login_page():
    next_url = safe_next(request.args.get("next"))
    user = current_user()
    if user is not None and user.kind != "token":
        return redirect(next_url)
    return _page(next_url)


@bp.post("/login/guest")
@public
def guest_login():
    conf = context.conf()
    next_url = safe_next(request.form.get("next"))
    raw_name = request.form.get("name", "")
    echo = raw_name[:40] if isinstance(raw_name, str) else ""
    if not guest_enabled(conf):
        return _page(next_url, error="Guest sign-in is turned off here.", status=403)
    if not csrf_matches(request.form.get("csrf_token")):
        return _page(next_url, error="That form expired. Please try again.", status=400,
                     name=echo)
    try:
        ratelimit.hit(context.redis(), conf, "guest_login_ip", context.client_ip())
    except RateLimited as exc:
        return _page(next_url, error=exc.message, status=429, name=echo,
                     headers={"Retry-After": str(exc.retry_after)})
    try:
        name = clean_name(raw_name)
    except EchoNestError:
        return _page(next_url, error="Pick a name of 1–40 characters with a letter or digit.",
                     status=400, name=echo)
    try:
        name = check_guest_name(name)
    except EchoNestError as exc:
        return _page(next_url, error=exc.message, status=400, name=echo)
    # Guests live in their own id namespace, so a guest can never pose as a real email.
    sign_in(User(id=f"guest:{secrets.token_urlsafe(12)}", name=name, kind="guest"))
    return redirect(next_url)


def _google() -> Any:
    state = context.state()
    client = state.get("google_oauth")
    if client is None:
        from authlib.integrations.flask_client import OAuth

        conf = context.conf()
        from flask import current_app

        oauth = OAuth(current_app)
        client = state["google_oauth"] = oauth.register(
            name="google", client_id=conf.GOOGLE_CLIENT_ID,
            client_secret=conf.GOOGLE_CLIENT_SECRET,
            server_metadata_url=conf.GOOGLE_DISCOVERY_URL,
            client_kwargs={"scope": "openid email profile", "timeout": 10})
    return client


@bp.get("/login/google")
@public
def google_start():
    if not google_enabled(context.conf()):
        abort(404)
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    redirect_uri = url_for("login.google_callback", _external=True)
    # Authlib stores state and a fresh nonce in the session and checks both on the way back.
    return _google().authorize_redirect(redirect_uri, nonce=secrets.token_urlsafe(16))


@bp.get("/login/google/callback")
@public
def google_callback():
    conf = context.conf()
    if not google_enabled(conf):
        abort(404)
    next_url = safe_next(session.get(NEXT_KEY))
    try:
        token = _google().authorize_access_token()
    except (OAuthError, JoseError, ValueError, KeyError) as exc:
        log.info("google sign-in failed: %s", exc)
        return _page(next_url, error="Google sign-in did not complete. Please try again.",
                     status=400)
    except Exception:
        log.warning("google sign-in failed", exc_info=True)
        return _page(next_url, error="Google sign-in is unavailable right now.", status=502)
    info = token.get("userinfo") or {}
    email = info.get("email")
    if not isinstance(email, str) or "@" not in email or info.get("email_verified") is not True:
        return _page(next_url, error="Google did not confirm an email address.", status=403)
    email = email.strip().lower()
    if not allowed_email(email, conf):
        return _page(next_url, error=f"Accounts from {email.rsplit('@', 1)[-1]} cannot sign "
                                     "in here.", status=403)
    picture = info.get("picture")
    avatar = picture if isinstance(picture, str) and picture.startswith("https://") else ""
    name = info.get("name") if isinstance(info.get("name"), str) else ""
    sign_in(User(id=email, name=(name.strip() or email.split("@")[0])[:80], email=email,
                 kind="google", avatar_url=avatar[:500]))
    return redirect(next_url)


@bp.get("/login/dev")
@public
def dev_login():
    conf = context.conf()
    if not dev_bypass_allowed(conf):
        abort(404)
    sign_in(dev_user(conf))
    return redirect(safe_next(request.args.get("next")))


@bp.get("/logout")
def logout_page():
    """Only asks: a GET must not sign anyone out, or any page could do it with an <img> tag
    (sign-out CSRF). The form POSTs with the session's CSRF token (docs/security.md)."""
    user = current_user()
    html = render_template("logout.html", name=user.name if user else "", csrf=csrf_token())
    return html, 200, {"Cache-Control": "no-store"}


@bp.post("/logout")
def logout():
    """Signs out; the gate has already checked the CSRF token (form field, header or JSON)."""
    user = current_user()
    if user is not None and user.kind == "guest":
        # A guest's id dies with this session: nobody could ever reach their Spotify tokens again.
        from echonest import user_tokens
        from echonest.catalog.spotify_user import disconnect_user

        disconnect_user(context.redis(), user.id)
        user_tokens.revoke_all(context.redis(), user.id)  # nobody could list or revoke them
    sign_out()
    return redirect(url_for("login.login_page"))
