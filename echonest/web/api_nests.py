"""Nests API (SPEC §10): create, list, read, update and delete temporary nests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from echonest import moderation, nest_settings, ratelimit
from echonest.errors import Forbidden, InvalidRequest
from echonest.nest_value import Nest
from echonest.web import context
from echonest.web.auth import User, current_user
from echonest.web.nest_access import visible_in_list
from echonest.web.pages import nest_info

bp = Blueprint("api_nests", __name__)

MAIN = "main"
MAX_URI_LENGTH = 512


def nest_view(nest_id: str, meta: dict[str, Any], member_count: int | None = None,
              *, with_playing: bool = True) -> dict[str, Any]:
    """Registry metadata + member_count, share_url, bender_enabled (+ now_playing)."""
    view = dict(meta)
    view.pop("moderated", None)
    view.update(nest_info(nest_id, meta, member_count))
    nest = Nest.from_meta(nest_id, meta)
    view["settings"] = nest.settings
    view["hosts"] = nest.hosts
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


def _require_host(user: User, nest_id: str, meta: dict[str, Any]) -> Nest:
    nest = Nest.from_meta(nest_id, meta)
    if nest_id == MAIN:
        raise Forbidden("The Home Nest cannot be renamed or ended.")
    if not nest.is_host(user):
        raise Forbidden("Only the nest's hosts can do that.")
    return nest


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
    manager, user = context.nest_manager(), current_user()
    nests = [(nest_id, meta) for nest_id, meta in manager.list_nests()
             if visible_in_list(Nest.from_meta(nest_id, meta), user)]
    counts = manager.live_member_counts([nest_id for nest_id, _ in nests])
    return jsonify({"nests": [nest_view(nest_id, meta, counts.get(nest_id, 0))
                              for nest_id, meta in nests]})


@bp.get("/api/nests/<code>")
def get_nest(code: str):
    nest_id, meta = context.resolve_nest(code)
    return jsonify(nest_view(nest_id, meta))


@bp.patch("/api/nests/<code>")
def update_nest(code: str):
    """Hosts change settings (``{"settings": {...}}``), Bender, name and vanity code.

    Everything is checked before anything is written. ``invite_only: true|false`` is the
    upstream contract's shorthand for ``settings.visibility``.
    """
    nest_id, meta = context.resolve_nest(code)
    body = context.json_object()
    user = current_user()
    nest = Nest.from_meta(nest_id, meta)
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
    changes = body.get("settings")
    if changes is not None and not isinstance(changes, dict):
        raise InvalidRequest("'settings' must be an object of setting: value.")
    changes = dict(changes or {})
    invite_only = body.get("invite_only")
    if invite_only is not None:
        if not isinstance(invite_only, bool):
            raise InvalidRequest("'invite_only' must be true or false.")
        changes["visibility"] = (nest_settings.INVITE_ONLY if invite_only
                                 else nest_settings.LISTED)
    if name is None and vanity is None and bender is None and not changes:
        raise InvalidRequest("Nothing to change: send settings, name, vanity_code or "
                             "bender_enabled.")
    if changes:
        nest_settings.check_changes(changes, nest.is_main)
    if (name is not None or vanity is not None) and nest_id == MAIN:
        raise Forbidden("The Home Nest cannot be renamed.")
    if bender is not None and not nest.may("bender_mode", user):
        raise Forbidden("Only hosts may switch Bender here "
                        f"({nest_settings.refusal_words('bender_mode')}).", setting="bender_mode")
    if (changes or name is not None or vanity is not None) and not nest.is_host(user):
        raise Forbidden("Only the nest's hosts can change it.")
    updated = meta
    if changes or bender is not None:
        fields = {} if bender is None else {"bender_enabled": bender}
        # A guest reaches here only to flip Bender under bender_mode=anyone (checked above).
        updated = moderation.change_settings(context.redis(), nest, user, changes or None,
                                             fields, allowed=True)
    if name is not None or vanity is not None:
        # Hosts may rename: the registry script checks the creator, so it acts as them.
        updated = context.nest_manager().update_nest(
            nest_id, nest.created_by, name=name, vanity_code=vanity)
    return jsonify(nest_view(nest_id, updated))


@bp.delete("/api/nests/<code>")
def delete_nest(code: str):
    """End the nest (hosts): every open page shows "This nest has ended"."""
    nest_id, meta = context.resolve_nest(code)
    _require_host(current_user(), nest_id, meta)
    context.nest_manager().delete_nest(nest_id)
    return jsonify({"deleted": True, "id": nest_id, "code": meta.get("code", nest_id)})
