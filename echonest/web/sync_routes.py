"""Desktop clients (echonest-sync): invite-code onboarding, account linking, per-user API tokens.

Thin over echonest.user_tokens. Minting credentials (link codes, tokens) needs a browser
session; a token may only redeem a link code and read its owner's token list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from echonest import ratelimit, user_tokens
from echonest.errors import Conflict, Forbidden, InvalidRequest, NotFound, RateLimited
from echonest.web import context
from echonest.web.auth import (
    csrf_token,
    current_user,
    public,
    session_only,
    sync_readable,
)

bp = Blueprint("sync", __name__)


def _owner() -> dict[str, str]:
    user = current_user()
    if user is None or user.kind in ("token", "sync"):
        raise Forbidden("API tokens belong to a signed-in person.")
    return {"id": user.id, "name": user.name, "email": user.email, "kind": user.kind}


# --- onboarding ------------------------------------------------------------------------------
@bp.post("/api/sync-token")
@public
def sync_token():
    """An invite code → a follow-only token; 404 while SYNC_INVITE_CODES is empty."""
    conf = context.conf()
    if not user_tokens.invite_codes(conf):
        raise NotFound("Desktop sync sign-up is not enabled on this server.")
    body = context.json_object()
    presented = body.get("invite_code")
    if not isinstance(presented, str):
        raise InvalidRequest("Send {\"invite_code\": \"…\"}.")
    # Counted before the check, so wrong guesses are what run out.
    ratelimit.hit(context.redis(), conf, "sync_token_ip", context.client_ip())
    invite = user_tokens.matching_invite(conf, presented)
    if invite is None:
        raise Forbidden("That invite code is not valid here.", code="invalid_invite_code")
    token, _ = user_tokens.mint_sync_token(context.redis(), invite)
    return jsonify(token=token, server=request.url_root.rstrip("/"))


# --- account linking -------------------------------------------------------------------------
@bp.get("/sync/link")
@session_only
def link_page():
    code = user_tokens.new_link_code(context.redis(), _owner())
    return render_template("sync_link.html", code=code,
                           minutes=user_tokens.LINK_CODE_SECONDS // 60,
                           seconds=user_tokens.LINK_CODE_SECONDS)


@bp.post("/api/sync-link")
@sync_readable
def sync_link():
    """A code from /sync/link → a token acting as the person who opened that page."""
    conf = context.conf()
    code = context.json_object().get("code")
    user_tokens.normalize_link_code(code)  # wrong type → 400 before anything is counted
    ratelimit.hit(context.redis(), conf, "sync_link_ip", context.client_ip())
    owner = user_tokens.redeem_link_code(context.redis(), code)
    if owner is None:
        raise NotFound("That code is wrong, used or expired; open /sync/link for a new one.")
    token, _ = user_tokens.mint_user_token(context.redis(), owner, "echonest-sync (linked)")
    return jsonify(email=owner.get("email") or owner["id"], name=owner.get("name") or "",
                   user_token=token)


# --- a person's tokens (JSON) ------------------------------------------------------------------
@bp.get("/api/tokens")
@session_only
def list_tokens():
    return jsonify(tokens=user_tokens.list_tokens(context.redis(), _owner()["id"]))


def _create(label: Any) -> tuple[str, dict[str, Any]]:
    owner = _owner()
    ratelimit.hit(context.redis(), context.conf(), "api_token_user", owner["id"])
    return user_tokens.mint_user_token(context.redis(), owner, label)


@bp.post("/api/tokens")
@session_only
def create_token():
    token, record = _create(context.json_object().get("label"))
    return jsonify({**record, "token": token})


@bp.delete("/api/tokens/<token_id>")
@session_only
def revoke_token(token_id: str):
    if not user_tokens.revoke(context.redis(), _owner()["id"], token_id):
        raise NotFound("You have no token with that id.")
    return jsonify(revoked=token_id)


# --- a person's tokens (page, plain forms: no script needed) -----------------------------------
def _tokens_page(*, new_token: str = "", error: str = "", status: int = 200):
    owner = _owner()
    tokens = [{**t, "made": datetime.fromtimestamp(t["created_at"], UTC).strftime(
        "%Y-%m-%d %H:%M UTC")} for t in user_tokens.list_tokens(context.redis(), owner["id"])]
    html = render_template("tokens.html", tokens=tokens,
                           new_token=new_token, error=error, csrf=csrf_token(),
                           limit=user_tokens.MAX_TOKENS_PER_OWNER)
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/tokens")
@session_only
def tokens_page():
    return _tokens_page()


@bp.post("/tokens")
@session_only
def tokens_create_form():
    try:
        token, _ = _create(request.form.get("label"))
    except RateLimited as exc:
        return _tokens_page(error=exc.message, status=429)
    except (InvalidRequest, Conflict) as exc:
        return _tokens_page(error=exc.message, status=exc.status)
    return _tokens_page(new_token=token)


@bp.post("/tokens/<token_id>/revoke")
@session_only
def tokens_revoke_form(token_id: str):
    if not user_tokens.revoke(context.redis(), _owner()["id"], token_id):
        return _tokens_page(error="You have no token with that id.", status=404)
    return _tokens_page()
