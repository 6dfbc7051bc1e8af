"""Nests API (SPEC §10): create, list, read, update and delete temporary nests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from echonest import ratelimit
from echonest.errors import Forbidden, InvalidRequest
from echonest.web import context
from echonest.web.auth import User, current_user
from echonest.web.pages import nest_info

bp = Blueprint("api_nests", __name__)

MAIN = "main"
MAX_URI_LENGTH = 512


def nest_view(nest_id: str, meta: dict[str, Any], member_count: int | None = None,
              *, with_playing: bool = True) -> dict[str, Any]:
    """Registry metadata + member_count, share_url, bender_enabled (+ now_playing)."""
    view = dict(meta)
    view.update(nest_info(nest_id, meta, member_count))
    if with_playing:
        view["now_playing"] = context.db(nest_id).now_playing()
    return view


def _optional_text(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.")
    return value


def _require_creator(user: User, nest_id: str, meta: dict[str, Any]) -> None:
    if nest_id == MAIN:
        raise Forbidden("The Home Nest cannot be changed or deleted.")
    if meta.get("created_by") != user.id:
        raise Forbidden("Only the nest's creator can do that.")


@bp.post("/api/nests")
def create_nest():
    body = context.json_object()
    name = _optional_text(body, "name")
    seed_uri = _optional_text(body, "seed_uri")
    if seed_uri is not None:
        if len(seed_uri) > MAX_URI_LENGTH:
            raise InvalidRequest("'seed_uri' is too long.")
        seed_uri = context.catalog().lookup(seed_uri).uri
    user = current_user()
    if user.kind != "token":
        conf, client = context.conf(), context.redis()
        ratelimit.hit(client, conf, "create_nest_ip", context.client_ip())
        ratelimit.hit(client, conf, "create_nest_user", user.id)
    meta = context.nest_manager().create_nest(user.id, name=name, seed_uri=seed_uri,
                                              ip=context.client_ip(),
                                              exempt=user.kind == "token")
    return jsonify(nest_view(meta["id"], meta, 0, with_playing=False))


@bp.get("/api/nests")
def list_nests():
    manager = context.nest_manager()
    nests = manager.list_nests()
    counts = manager.live_member_counts([nest_id for nest_id, _ in nests])
    return jsonify({"nests": [nest_view(nest_id, meta, counts.get(nest_id, 0))
                              for nest_id, meta in nests]})


@bp.get("/api/nests/<code>")
def get_nest(code: str):
    nest_id, meta = context.resolve_nest(code)
    return jsonify(nest_view(nest_id, meta))


@bp.patch("/api/nests/<code>")
def update_nest(code: str):
    nest_id, meta = context.resolve_nest(code)
    body = context.json_object()
    _require_creator(current_user(), nest_id, meta)
    name = _optional_text(body, "name")
    vanity = body.get("vanity_code", ...)
    if vanity is None:
        vanity = ""  # JSON null clears the vanity code
    elif vanity is ...:
        vanity = None
    elif not isinstance(vanity, str):
        raise InvalidRequest("'vanity_code' must be a string or null.")
    bender = body.get("bender_enabled")
    if bender is not None and not isinstance(bender, bool):
        raise InvalidRequest("'bender_enabled' must be true or false.")
    if name is None and vanity is None and bender is None:
        raise InvalidRequest("Nothing to change: send name, vanity_code or bender_enabled.")
    updated = context.nest_manager().update_nest(
        nest_id, current_user().id, name=name, vanity_code=vanity, bender_enabled=bender)
    return jsonify(nest_view(nest_id, updated))


@bp.delete("/api/nests/<code>")
def delete_nest(code: str):
    nest_id, meta = context.resolve_nest(code)
    _require_creator(current_user(), nest_id, meta)
    context.nest_manager().delete_nest(nest_id)
    return jsonify({"deleted": True, "id": nest_id, "code": meta.get("code", nest_id)})
