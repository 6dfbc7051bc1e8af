"""Who may see a nest, per request: bans, kicks, invite-only, and opening a host link.

``context.resolve_nest`` calls ``admit_request`` for every request that names a nest (pages,
API, WebSocket, SSE), so one check covers every door. The nest value it builds is parked on
``flask.g`` and reused by the request's action context: the registry is read once.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request

from echonest import moderation
from echonest.nest_value import Nest

INVITE_ARG = "invite"
HOST_ARG = "host"


def admit_request(nest_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Raise Forbidden (banned / kicked / invite_required) for the current user; a valid
    ``?host=<secret>`` makes them a host first. Returns the (possibly updated) metadata."""
    from echonest.web import context
    from echonest.web.auth import current_user

    if not has_request_context():
        return meta
    user = current_user()
    if user is None or not getattr(user, "id", None):
        return meta
    client = context.redis()
    nest = Nest.from_meta(nest_id, meta)
    secret = request.args.get(HOST_ARG)
    if secret and not nest.is_host(user) and moderation.claim_host(client, nest, user, secret):
        meta = context.nest_manager().get_nest(nest_id) or meta
        nest = Nest.from_meta(nest_id, meta)
    moderation.admit(client, nest, user, request.args.get(INVITE_ARG))
    g.echonest_nest = nest
    return meta


def request_nest(nest_id: str) -> Nest | None:
    """The nest this request already looked up, if it is ``nest_id``."""
    nest = g.get("echonest_nest") if has_request_context() else None
    return nest if nest is not None and nest.id == nest_id else None


def visible_in_list(nest: Nest, user: Any) -> bool:
    """Unlisted and invite-only nests are left out of the list, except for their hosts."""
    from echonest.nest_settings import LISTED

    return nest.setting("visibility") == LISTED or nest.is_host(user)
