"""Spotify play-along routes: connect a listener's own account, list devices, play at the nest's clock."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, redirect, request, session

from echonest import ratelimit
from echonest.catalog.spotify_map import canonical_uri
from echonest.catalog.spotify_user import (
    SpotifyConnect,
    authorize_url,
    connect_user,
    disconnect_user,
    is_connected,
)
from echonest.errors import CatalogError, EchoNestError, Forbidden, InvalidRequest, NotFound
from echonest.web import context
from echonest.web.auth import current_user, safe_next
from echonest.web.errors import handle_domain

bp = Blueprint("spotify", __name__)

STATE_KEY = "spotify_oauth_state"
NEXT_KEY = "spotify_oauth_next"
MAX_POSITION_MS = 24 * 3600 * 1000
MAX_STATE_LENGTH = 200
RATE_BUCKET = "spotify_user"  # every route that calls Spotify counts here, per listener


def configured(conf: Any) -> bool:
    return bool(conf.SPOTIFY_CLIENT_ID) and bool(conf.SPOTIFY_CLIENT_SECRET)


def _require_configured() -> Any:
    conf = context.conf()
    if not configured(conf):
        raise NotFound("Spotify play-along is not set up on this server.",
                       code="spotify_not_configured")
    return conf


def _listener() -> str:
    """The id whose Spotify tokens we hold: a person's session, never the shared API token."""
    user = current_user()
    if user is None or user.kind in ("token", "sync"):
        raise Forbidden("Spotify play-along belongs to a signed-in listener, not the API token.")
    return user.id


def _spend(account: str) -> None:
    # Spotify's limit is per app, shared by every listener: one busy page must not use it up.
    ratelimit.hit(context.redis(), context.conf(), RATE_BUCKET, account)


def _came_from() -> str:
    """?next=, else the same-site page the browser came from, else the main page."""
    wanted = request.args.get("next")
    if wanted is None and request.referrer:
        ref = urlsplit(request.referrer)
        if ref.netloc.lower() == request.host.lower():
            wanted = ref.path + (f"?{ref.query}" if ref.query else "")
    return safe_next(wanted)


@bp.errorhandler(EchoNestError)
def _domain_error(exc: EchoNestError):
    answer = handle_domain(exc)
    # The global back-off says how long; tell clients the standard way too.
    retry = exc.extra.get("retry_after") if isinstance(exc, CatalogError) else None
    if isinstance(answer, Response) and isinstance(retry, int) and retry > 0:
        answer.headers["Retry-After"] = str(retry)
    return answer


# --- connecting ---------------------------------------------------------------------------
@bp.get("/login/spotify")
def spotify_login():
    conf = _require_configured()
    _listener()
    state = secrets.token_urlsafe(24)
    # One pending sign-in per browser session: a newer start replaces an older one.
    session[STATE_KEY] = state
    session[NEXT_KEY] = _came_from()
    return redirect(authorize_url(conf, state))


@bp.get("/login/spotify/callback")
def spotify_callback():
    conf = _require_configured()
    account = _listener()
    expected = session.pop(STATE_KEY, None)
    next_url = safe_next(session.pop(NEXT_KEY, None))
    presented = request.args.get("state", "")
    if not (isinstance(expected, str) and expected and 0 < len(presented) <= MAX_STATE_LENGTH
            and hmac.compare_digest(presented.encode(), expected.encode())):
        raise InvalidRequest("That Spotify sign-in was not started here or has expired. "
                             "Please connect Spotify again.", code="spotify_auth_failed")
    if request.args.get("error"):
        return redirect(next_url)  # the listener said no on Spotify's page; nothing to store
    connect_user(conf, context.redis(), account, request.args.get("code", ""))
    return redirect(next_url)


@bp.post("/api/spotify/disconnect")
def spotify_disconnect():
    disconnect_user(context.redis(), _listener())
    return jsonify(connected=False)


@bp.get("/api/spotify/status")
def spotify_status():
    account = _listener()
    is_on = configured(context.conf())
    return jsonify(configured=is_on,
                   connected=is_on and is_connected(context.redis(), account),
                   connect_url="/login/spotify")


# --- the listener's player ------------------------------------------------------------------
@bp.get("/api/spotify/devices")
def spotify_devices():
    conf = _require_configured()
    account = _listener()
    _spend(account)
    return jsonify(devices=SpotifyConnect(conf, context.redis(), account).devices())


def _play_request(body: dict[str, Any]) -> tuple[str, int, str | None]:
    uri = body.get("uri")
    canonical = canonical_uri(uri) if isinstance(uri, str) else None
    if canonical is None or canonical != uri.strip():
        raise InvalidRequest("uri must be a spotify:track:… or spotify:episode:… URI.")
    position = body.get("position_ms", 0)
    if isinstance(position, bool) or not isinstance(position, int) \
            or not 0 <= position <= MAX_POSITION_MS:
        raise InvalidRequest("position_ms must be a whole number of milliseconds, 0 to 24 h.")
    device_id = body.get("device_id")
    if device_id is not None and not isinstance(device_id, str):
        raise InvalidRequest("device_id must be a string.")
    return canonical, position, device_id or None


@bp.post("/api/spotify/play")
def spotify_play():
    canonical, position, device_id = _play_request(context.json_object())
    conf = _require_configured()
    account = _listener()
    _spend(account)
    player = SpotifyConnect(conf, context.redis(), account)
    try:
        player.play(canonical, position, device_id)
    except NotFound as exc:
        if device_id is not None or exc.code != "spotify_no_device":
            raise
        # Spotify wants an *active* device; an idle app is listed but not active. With
        # exactly one device there is no doubt where the listener means to hear it.
        devices = player.devices()
        if len(devices) != 1:
            raise
        device_id = devices[0]["id"]
        player.play(canonical, position, device_id)
    return jsonify(playing=True, uri=canonical, position_ms=position, device_id=device_id)


@bp.post("/api/spotify/transfer")
def spotify_transfer():
    """Move the listener's playback to one of their devices (echonest-sync's device picker)."""
    body = context.json_object()
    device_id = body.get("device_id")
    if not isinstance(device_id, str) or not device_id.strip():
        raise InvalidRequest("device_id must be the id of one of your Spotify devices.")
    play = body.get("play", False)
    if not isinstance(play, bool):
        raise InvalidRequest("play must be true or false.")
    conf = _require_configured()
    account = _listener()
    _spend(account)
    SpotifyConnect(conf, context.redis(), account).transfer(device_id.strip(), play)
    return jsonify(transferred=True, device_id=device_id.strip(), play=play)
