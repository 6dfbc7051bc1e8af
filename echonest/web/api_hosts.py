"""Hosts' API: members, co-hosts, hand-over, kick/ban, the host link, invites, history export.

Thin over ``echonest.moderation``; every route resolves the nest once (which also admits the
caller) and passes the nest value down. Routes under ``/admin/`` are for hosts only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from echonest import history, moderation, user_names
from echonest.errors import Forbidden, InvalidRequest
from echonest.nest_value import Nest
from echonest.web import context
from echonest.web.auth import current_user

bp = Blueprint("api_hosts", __name__)

HISTORY_LIMIT = 500


def _nest(code: str) -> Nest:
    nest_id, meta = context.resolve_nest(code)
    return Nest.from_meta(nest_id, meta)


def _host_nest(code: str) -> Nest:
    nest = _nest(code)
    if not nest.is_host(current_user()):
        raise Forbidden("Only the nest's hosts can do that.")
    return nest


def _target(body: dict[str, Any]) -> str:
    user = body.get("user")
    if not isinstance(user, str) or not user.strip() or len(user) > moderation.MAX_USER_ID:
        raise InvalidRequest("'user' must be the id of a member.")
    return user.strip()


def members_view(nest: Nest, *, for_host: bool) -> dict[str, Any]:
    """Live members (and every host, live or not) by name, hosts first."""
    client = context.redis()
    live = context.nest_manager().live_members(nest.id)
    hosts = nest.hosts
    ids = list(dict.fromkeys([*hosts, *live]))
    names = user_names.lookup(client, ids)
    members = []
    for user_id in ids:
        known = names.get(user_id) or {}
        members.append({"id": user_id, "name": known.get("name") or _fallback_name(user_id),
                        "avatar_url": known.get("avatar_url", ""), "live": user_id in live,
                        "is_host": user_id in hosts,
                        "is_creator": user_id == nest.created_by and not nest.is_main})
    members.sort(key=lambda m: (not m["is_host"], m["name"].lower()))
    body: dict[str, Any] = {"members": members, "hosts": hosts, "count": len(live)}
    if for_host:
        blocked = moderation.blocked(client, nest)
        blocked_names = user_names.lookup(client, [b["user"] for b in blocked])
        for entry in blocked:
            entry["name"] = (blocked_names.get(entry["user"]) or {}).get("name") or \
                _fallback_name(entry["user"])
        body["blocked"] = blocked
    return body


def _fallback_name(user_id: str) -> str:
    return "Guest" if user_id.startswith("guest:") else user_id.split("@")[0][:40]


@bp.get("/api/nests/<code>/members")
def members(code: str):
    return jsonify(members_view(_nest(code), for_host=False))


@bp.get("/api/nests/<code>/admin/members")
def admin_members(code: str):
    return jsonify(members_view(_host_nest(code), for_host=True))


# One member's fate, each the same shape — the caller, the nest and the target's id in
# ``{"user": id}`` — so one view serves them all: route name → ``echonest.moderation`` function.
MEMBER_ACTIONS = {"ban": "ban", "unban": "unban", "promote": "promote", "demote": "demote",
                  "handover": "hand_over"}


def _act_on_member(code: str, act: Any, *fields: str) -> Response:
    """``act(client, nest, caller, target, *body[fields])``; its result or ``{"ok": true}``."""
    nest = _nest(code)
    body = context.json_object()
    result = act(context.redis(), nest, current_user(), _target(body),
                 *(body.get(name) for name in fields))
    return jsonify(result or {"ok": True})


def _member_route(action: str) -> None:
    def view(code: str) -> Response:
        return _act_on_member(code, getattr(moderation, MEMBER_ACTIONS[action]))

    view.__name__ = action
    bp.add_url_rule(f"/api/nests/<code>/admin/{action}", endpoint=action, view_func=view,
                    methods=["POST"])


for _action in MEMBER_ACTIONS:
    _member_route(_action)


@bp.post("/api/nests/<code>/admin/kick")
def kick(code: str):
    return _act_on_member(code, moderation.kick, "minutes")


# --- host link and invites -------------------------------------------------------------------
def _nest_url(nest: Nest, **params: str) -> str:
    from echonest.web.pages import nest_link

    return nest_link(nest, **params)


@bp.get("/api/nests/<code>/admin/host-link")
def host_link(code: str):
    nest = _host_nest(code)
    secret = moderation.host_link_secret(context.redis(), nest, current_user())
    return jsonify({"url": _nest_url(nest, host=secret)})


@bp.post("/api/nests/<code>/admin/host-link")
def rotate_host_link(code: str):
    """A new host link; the old one stops working at once."""
    nest = _host_nest(code)
    secret = moderation.rotate_host_link(context.redis(), nest, current_user())
    return jsonify({"url": _nest_url(nest, host=secret)})


@bp.get("/api/nests/<code>/admin/invites")
def list_invites(code: str):
    nest = _host_nest(code)
    found = moderation.invites(context.redis(), nest)
    return jsonify({"invites": [{**i, "url": _nest_url(nest, invite=i["token"])}
                                for i in found]})


@bp.post("/api/nests/<code>/admin/invites")
def create_invite(code: str):
    nest = _host_nest(code)
    token = moderation.create_invite(context.redis(), nest, current_user())
    return jsonify({"token": token, "url": _nest_url(nest, invite=token)})


@bp.delete("/api/nests/<code>/admin/invites/<token>")
def revoke_invite(code: str, token: str):
    nest = _host_nest(code)
    moderation.revoke_invite(context.redis(), nest, current_user(), token)
    return jsonify({"revoked": True})


# --- history ---------------------------------------------------------------------------------
def history_entries(nest: Nest) -> list[dict[str, Any]]:
    client = context.redis()
    plays = history.recent_plays(client, nest.id, HISTORY_LIMIT)
    names = user_names.lookup(client, [p.get("user") for p in plays if not p.get("auto")])
    out = []
    for play in plays:
        adder = play.get("user") or ""
        who = "Bender" if play.get("auto") else (
            (names.get(adder) or {}).get("name") or _fallback_name(adder))
        out.append({"uri": play.get("uri", ""), "title": play.get("title", ""),
                    "artist": play.get("artist", ""), "played_at": play.get("played_at", ""),
                    "user": adder, "added_by": who, "auto": bool(play.get("auto"))})
    return out


@bp.get("/api/nests/<code>/history")
def nest_history(code: str):
    nest = _nest(code)
    response = jsonify({"nest": nest.code, "name": nest.name, "plays": history_entries(nest)})
    if request.args.get("download"):
        response.headers["Content-Disposition"] = \
            f'attachment; filename="{nest.code}-history.json"'
    return response


@bp.get("/api/nests/<code>/history.m3u")
def nest_history_m3u(code: str):
    """The session as an extended M3U playlist: one #EXTINF line (artist - title) per play."""
    nest = _nest(code)
    lines = ["#EXTM3U", f"#PLAYLIST:{_m3u_text(nest.name)}"]
    for play in reversed(history_entries(nest)):
        lines.append(f"#EXTINF:-1,{_m3u_text(play['artist'])} - {_m3u_text(play['title'])}")
        lines.append(_m3u_text(play["uri"]))
    response = Response("\n".join(lines) + "\n", mimetype="audio/x-mpegurl")
    response.headers["Content-Disposition"] = f'attachment; filename="{nest.code}.m3u"'
    return response


def _m3u_text(value: str) -> str:
    """One line of M3U: line breaks would start a new entry, so they become spaces."""
    return " ".join(str(value).split())
