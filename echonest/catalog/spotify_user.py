"""Per-user Spotify for play-along: OAuth code flow, tokens in Redis, and Connect playback calls."""

from __future__ import annotations

import re
from typing import Any

import spotipy
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from echonest import keys
from echonest.catalog.spotify_client import (
    REQUEST_TIMEOUT,
    RedisTokenCache,
    api_base,
    auth_base,
    guarded,
    plain_session,
    token_url,
)
from echonest.catalog.spotify_map import canonical_uri
from echonest.errors import CatalogError, Forbidden, InvalidRequest, NotFound, Unauthorized

SCOPES = "user-read-playback-state user-modify-playback-state streaming"
MAX_CODE_LENGTH = 2048
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def redirect_uri(conf: Any) -> str:
    """CONF.SPOTIFY_REDIRECT_URI, else the callback on our own host."""
    if conf.SPOTIFY_REDIRECT_URI:
        return str(conf.SPOTIFY_REDIRECT_URI)
    host = str(conf.HOSTNAME or "localhost:5000")
    # Spotify only accepts plain http for loopback redirect URIs.
    local = host.startswith(("localhost", "127.", "[::1]"))
    return f"{'http' if local else 'https'}://{host}/login/spotify/callback"


def _check_email(email: Any) -> str:
    if not isinstance(email, str) or not email.strip() or len(email) > 320:
        raise InvalidRequest("a signed-in user is required for Spotify play-along")
    return email.strip()


class UserOAuth(spotipy.SpotifyOAuth):
    """spotipy's code flow against CONF.SPOTIFY_AUTH_BASE, token kept at spotify_user_token(email).

    It never prompts: without a stored token it raises Unauthorized instead of spotipy's
    interactive "paste the URL" fallback, which would hang a web worker.
    """

    def __init__(self, conf: Any, redis_client: Any, email: str):
        super().__init__(
            client_id=str(conf.SPOTIFY_CLIENT_ID or ""),
            client_secret=str(conf.SPOTIFY_CLIENT_SECRET or ""),
            redirect_uri=redirect_uri(conf),
            scope=SCOPES,
            cache_handler=RedisTokenCache(redis_client, keys.spotify_user_token(email),
                                          expire=False),
            requests_session=plain_session(),
            requests_timeout=REQUEST_TIMEOUT,
            open_browser=False,
        )
        self.OAUTH_AUTHORIZE_URL = f"{auth_base(conf)}/authorize"
        self.OAUTH_TOKEN_URL = token_url(conf)

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise Unauthorized("Connect your Spotify account first", code="spotify_not_connected")


def _require_configured(conf: Any) -> None:
    if not conf.SPOTIFY_CLIENT_ID or not conf.SPOTIFY_CLIENT_SECRET:
        raise CatalogError("Spotify is not configured (SPOTIFY_CLIENT_ID/SECRET are empty)")


def authorize_url(conf: Any, state: str) -> str:
    """Where to send the user to grant play-along; ``state`` is the caller's CSRF token."""
    _require_configured(conf)
    if not isinstance(state, str) or not state:
        raise InvalidRequest("an OAuth state is required")
    return UserOAuth(conf, None, "-").get_authorize_url(state=state)


def connect_user(conf: Any, redis_client: Any, email: str, code: str) -> None:
    """Exchange the callback's ``code`` for tokens and store them for ``email``."""
    _require_configured(conf)
    email = _check_email(email)
    if not isinstance(code, str) or not code or len(code) > MAX_CODE_LENGTH:
        raise InvalidRequest("the Spotify authorization code is missing or malformed")
    oauth = UserOAuth(conf, redis_client, email)

    def exchange() -> None:
        try:
            oauth.get_access_token(code, as_dict=False, check_cache=False)
        except SpotifyOauthError as exc:
            if exc.error == "invalid_grant":
                raise InvalidRequest("Spotify did not accept that sign-in; please try again",
                                     code="spotify_auth_failed") from exc
            raise

    guarded(redis_client, "sign-in", exchange)


def disconnect_user(redis_client: Any, email: str) -> None:
    redis_client.delete(keys.spotify_user_token(_check_email(email)))


def is_connected(redis_client: Any, email: str) -> bool:
    return bool(redis_client.exists(keys.spotify_user_token(_check_email(email))))


def _player_error(exc: SpotifyException) -> None:
    # Spotify's player answers carry the reason users need to hear; the rest is a CatalogError.
    if exc.http_status == 401:
        raise Unauthorized("Your Spotify sign-in expired; connect Spotify again",
                           code="spotify_not_connected") from exc
    if exc.http_status == 403:
        raise Forbidden("Spotify play-along needs a Spotify Premium account",
                        code="spotify_premium_required") from exc
    if exc.http_status == 404:
        raise NotFound("No active Spotify device: open Spotify on a phone or computer",
                       code="spotify_no_device") from exc
    return None


class SpotifyConnect:
    """One user's Spotify Connect remote: list devices, move playback, play at a position."""

    def __init__(self, conf: Any, redis_client: Any, email: str):
        _require_configured(conf)
        self.email = _check_email(email)
        self.redis = redis_client
        self.oauth = UserOAuth(conf, redis_client, self.email)
        self.client = spotipy.Spotify(auth_manager=self.oauth, requests_session=plain_session(),
                                      requests_timeout=REQUEST_TIMEOUT, retries=0,
                                      status_retries=0)
        self.client.prefix = api_base(conf)

    def _call(self, what: str, call) -> Any:
        def run() -> Any:
            if not self.redis.exists(keys.spotify_user_token(self.email)):
                raise Unauthorized("Connect your Spotify account first",
                                   code="spotify_not_connected")
            try:
                return call(self.client)
            except SpotifyOauthError as exc:
                if exc.error != "invalid_grant":
                    raise
                # The user revoked us (or the refresh token died): forget it, ask again.
                self.redis.delete(keys.spotify_user_token(self.email))
                raise Unauthorized("Your Spotify sign-in expired; connect Spotify again",
                                   code="spotify_not_connected") from exc

        return guarded(self.redis, what, run, _player_error)

    def devices(self) -> list[dict[str, Any]]:
        """The user's Connect devices: ``[{id, name, type, is_active, volume_percent}]``."""
        result = self._call("devices", lambda sp: sp.devices())
        devices = result.get("devices") if isinstance(result, dict) else None
        return [
            {"id": d.get("id"), "name": str(d.get("name") or "")[:200],
             "type": str(d.get("type") or ""), "is_active": bool(d.get("is_active")),
             "volume_percent": d.get("volume_percent")}
            for d in devices or [] if isinstance(d, dict) and isinstance(d.get("id"), str)
        ]

    def transfer(self, device_id: str, play: bool = False) -> None:
        device_id = self._check_device(device_id)
        self._call("transfer", lambda sp: sp.transfer_playback(device_id, force_play=bool(play)))

    def play(self, uri: str, position_ms: int = 0, device_id: str | None = None) -> None:
        """Play ``uri`` from ``position_ms`` (the nest's clock) on the device, or the active one."""
        canonical = canonical_uri(uri)
        if canonical is None:
            raise InvalidRequest("only Spotify tracks and episodes can play along on Spotify")
        if isinstance(position_ms, bool) or not isinstance(position_ms, int) or position_ms < 0:
            raise InvalidRequest("position_ms must be a whole number of milliseconds, >= 0")
        device = self._check_device(device_id) if device_id is not None else None
        self._call("play", lambda sp: sp.start_playback(device_id=device, uris=[canonical],
                                                        position_ms=position_ms))

    @staticmethod
    def _check_device(device_id: Any) -> str:
        if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
            raise InvalidRequest("device_id is malformed")
        return device_id
