"""Queue API per nest, the main-nest compatibility routes, and search — all thin over dispatch.

Every write here is ``dispatch(ctx, action, args)``, the same call the WebSocket makes, so the
HTTP API and the socket cannot drift apart in rules, limits or permissions.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from echonest import ratelimit
from echonest.actions import dispatch
from echonest.catalog import search_results
from echonest.errors import InvalidRequest, NestGone, StaleNest
from echonest.web import auth, context, fanout
from echonest.web.auth import public, sync_readable
from echonest.web.client_address import anonymous_search_allowed

bp = Blueprint("api_queue", __name__)

MAIN = "main"

# POST /api/nests/<code>/<suffix> → action
NEST_ACTIONS = {
    "songs": "add_song",
    "vote": "vote",
    "jam": "jam",
    "comments": "add_comment",
    "airhorn": "airhorn",
    "remove": "kill",
    "skip": "kill_playing",
    "pause": "pause",
    "resume": "unpause",
    "clear": "nuke_queue",
    "bender/queue": "benderQueue",
    "bender/filter": "benderFilter",
    "volume": "change_volume",
}

# Main-nest compatibility writes (SPEC §10) → action; these also accept classic form posts.
MAIN_ACTIONS = {
    "/api/add_song": "add_song",
    "/api/queue/vote": "vote",
    "/api/queue/remove": "kill",
    "/api/queue/skip": "kill_playing",
    "/api/queue/pause": "pause",
    "/api/queue/resume": "unpause",
    "/api/queue/clear": "nuke_queue",
    "/add_song": "add_song",
    "/jam": "jam",
    "/blast_airhorn": "airhorn",
}


def run(nest_id: str, action: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return dispatch(context.action_context(nest_id), action, args or {})


def legacy_queue(body: dict[str, Any]) -> dict[str, Any]:
    """The pre-nest /api/queue shape: ``queue`` is the ordered items with Bender's preview as
    the last one (clients read ``data.get("queue")``), plus the server clock and version."""
    return {"queue": fanout.legacy_queue(body), "now": body.get("now"),
            "version": body.get("version")}


def _form_args() -> dict[str, Any]:
    """JSON object, or a classic form post with its strings read as the JSON types."""
    args = context.json_object(allow_form=True)
    if request.mimetype != "application/json" and request.form:
        args.pop("csrf_token", None)
        if isinstance(args.get("up"), str):
            args["up"] = args["up"].strip().lower() in ("1", "true", "yes", "up")
        if isinstance(args.get("volume"), str):
            try:
                args["volume"] = int(args["volume"])
            except ValueError:
                raise InvalidRequest("'volume' must be a number from 0 to 100.") from None
    return args


# --- per nest ------------------------------------------------------------------------------
@bp.get("/api/nests/<code>/queue")
def nest_queue(code: str):
    nest_id, _ = context.resolve_nest(code)
    return jsonify(run(nest_id, "fetch_playlist"))


@bp.get("/api/nests/<code>/playing")
def nest_playing(code: str):
    nest_id, _ = context.resolve_nest(code)
    return jsonify(run(nest_id, "fetch_now_playing"))


def recent_airhorns(nest_id: str) -> dict[str, Any]:
    """The nest's recent horns, newest first, each with who fired it by name."""
    db = context.db(nest_id)
    horns = db.recent_airhorns()
    names = db.names(h["user"] for h in horns)
    for horn in horns:
        known = names.get(horn["user"]) if isinstance(horn["user"], str) else None
        horn["user_name"] = known["name"] if known else "Someone"
        horn["avatar_url"] = known["avatar_url"] if known else ""
    return {"airhorns": horns}


@bp.get("/api/nests/<code>/airhorns")
def nest_airhorns(code: str):
    nest_id, _ = context.resolve_nest(code)
    return jsonify(recent_airhorns(nest_id))


def run_write(code: str, action: str, read_args) -> dict[str, Any]:
    """A write in the nest ``code`` names, on the code's remembered resolution: the write
    checks that resolution in its own round trip; a stale one runs again on a fresh read."""
    nest_id, _ = context.resolve_nest(code, for_write=True)
    try:
        return run(nest_id, action, read_args())
    except (NestGone, StaleNest):
        context.forget_resolved(nest_id)
    nest_id, _ = context.resolve_nest(code)
    return run(nest_id, action, read_args())


def _nest_action_view(action: str):
    def view(code: str):
        return jsonify(run_write(code, action, context.json_object))

    return view


for _suffix, _action in NEST_ACTIONS.items():
    bp.add_url_rule(f"/api/nests/<code>/{_suffix}", endpoint=f"nest_{_action}",
                    view_func=_nest_action_view(_action), methods=["POST"])


# --- main nest compatibility ---------------------------------------------------------------
@bp.get("/api/queue")
@bp.get("/queue/")
@sync_readable
def main_queue():
    return jsonify(legacy_queue(run(MAIN, "fetch_playlist")))


@bp.get("/api/playing")
@bp.get("/playing/")
@sync_readable
def main_playing():
    return jsonify(run(MAIN, "fetch_now_playing"))


@bp.get("/api/airhorns")
@sync_readable
def main_airhorns():
    return jsonify(recent_airhorns(MAIN))


def _main_action_view(action: str):
    def view():
        return jsonify(run_write(MAIN, action, _form_args))

    return view


for _path, _action in MAIN_ACTIONS.items():
    bp.add_url_rule(_path, endpoint=f"main{_path.replace('/', '_')}",
                    view_func=_main_action_view(_action), methods=["POST"])


# --- search --------------------------------------------------------------------------------
def _search():
    q = request.args.get("q")
    if q is None:
        raise InvalidRequest("Add a search query: ?q=…")
    return jsonify(search_results(context.catalog(), q))


@bp.get("/api/search")
@sync_readable
def search():
    return _search()


@bp.get("/search/v2")
@public
@sync_readable
def search_v2():
    """The desktop client searches without any auth header: answered for anyone who is signed
    in or holds a token, and anonymously as PUBLIC_SEARCH allows (LAN clients by default),
    counted per IP so an open search cannot spend the catalog's rate limit."""
    conf = context.conf()
    if (request.headers.get("Authorization") or auth.current_user() is not None
            or not anonymous_search_allowed(conf)):
        refused = auth.check_request()
        if refused is not None:
            return refused
    else:
        ratelimit.hit(context.redis(), conf, "public_search_ip", context.client_ip())
    return _search()
