"""A fake Spotify (accounts + Web API) on 127.0.0.1, so the real spotipy code runs in tests.

Use the ``fake_spotify`` fixture; ``fake.conf()`` gives a CONF copy pointed at it. It checks
client credentials and bearer tokens, logs every request (``fake.calls``), can answer 429
with Retry-After (``fake.rate_limit(7)``) and keeps per-user Connect state.
"""

from __future__ import annotations

import base64
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from fake_spotify_catalog import CatalogEndpoints, error_response, json_response
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
USER_SCOPES = "user-read-playback-state user-modify-playback-state streaming"


@dataclass
class Call:
    method: str
    path: str
    args: dict[str, str]
    body: Any
    auth: str


@dataclass
class FakeUser:
    user_id: str
    premium: bool = True
    devices: list[dict[str, Any]] = field(default_factory=list)
    player: dict[str, Any] = field(default_factory=dict)


def _device(device_id: str, name: str, kind: str) -> dict[str, Any]:
    return {"id": device_id, "is_active": False, "is_private_session": False,
            "is_restricted": False, "name": name, "type": kind, "volume_percent": 60,
            "supports_volume": True}




class FakeSpotify(CatalogEndpoints):
    """One fake server: accounts endpoints at ``auth_base``, the Web API at ``api_base``."""

    def __init__(self) -> None:
        self.log: list[Call] = []
        self.retry_after: int | None = None
        self.fail_paths: tuple[str, ...] = ()  # paths that answer 500, to test degraded paths
        self.token_retry_after: int | None = None
        self.app_expires_in = 3600
        self.user_expires_in = 3600
        self.users: dict[str, FakeUser] = {}
        self.approving_user = "kim"
        self._app_tokens: set[str] = set()
        self._user_tokens: dict[str, str] = {}
        self._refresh_tokens: dict[str, str] = {}
        self._codes: dict[str, tuple[str, str]] = {}
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None
        self.add_user("kim")
        self._urls = Map([
            Rule("/authorize", endpoint="authorize", methods=["GET"]),
            Rule("/api/token", endpoint="token", methods=["POST"]),
            Rule("/v1/search", endpoint="search", methods=["GET"]),
            Rule("/v1/tracks", endpoint="tracks", methods=["GET"]),
            Rule("/v1/tracks/<tid>", endpoint="track", methods=["GET"]),
            Rule("/v1/episodes", endpoint="episodes", methods=["GET"]),
            Rule("/v1/episodes/<eid>", endpoint="episode", methods=["GET"]),
            Rule("/v1/artists", endpoint="artists", methods=["GET"]),
            Rule("/v1/artists/<aid>", endpoint="artist", methods=["GET"]),
            Rule("/v1/artists/<aid>/top-tracks", endpoint="top_tracks", methods=["GET"]),
            Rule("/v1/artists/<aid>/albums", endpoint="artist_albums", methods=["GET"]),
            Rule("/v1/albums/<alid>", endpoint="album", methods=["GET"]),
            Rule("/v1/albums/<alid>/tracks", endpoint="album_tracks", methods=["GET"]),
            Rule("/v1/me", endpoint="me", methods=["GET"]),
            Rule("/v1/me/player/devices", endpoint="devices", methods=["GET"]),
            Rule("/v1/me/player", endpoint="transfer", methods=["PUT"]),
            Rule("/v1/me/player/play", endpoint="play", methods=["PUT"]),
        ])

    # --- lifecycle and knobs -----------------------------------------------------------------
    def start(self) -> FakeSpotify:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        # A short poll interval keeps shutdown (once per test) from costing half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def auth_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def api_base(self) -> str:
        return f"{self.auth_base}/v1/"

    @property
    def redirect_uri(self) -> str:
        return "http://127.0.0.1:5000/login/spotify/callback"

    def conf(self, **overrides: Any):
        from config import CONF

        settings = {"CATALOG": "spotify", "SPOTIFY_CLIENT_ID": CLIENT_ID,
                    "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET, "SPOTIFY_API_BASE": self.api_base,
                    "SPOTIFY_AUTH_BASE": self.auth_base,
                    "SPOTIFY_REDIRECT_URI": self.redirect_uri, "SPOTIFY_MARKET": "US"}
        return CONF.copy(**{**settings, **overrides})

    def rate_limit(self, retry_after: int | None) -> None:
        """Answer every Web API call with 429 + Retry-After (None switches it off)."""
        self.retry_after = retry_after

    def add_user(self, user_id: str, *, premium: bool = True) -> FakeUser:
        user = FakeUser(user_id, premium, devices=[
            _device(f"{user_id}-laptop-5f1c9a2e", f"{user_id.title()}'s MacBook", "Computer"),
            _device(f"{user_id}-phone-0b7d44aa", f"{user_id.title()}'s iPhone", "Smartphone"),
        ])
        self.users[user_id] = user
        return user

    def revoke_user_tokens(self) -> None:
        with self._lock:
            self._user_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh_tokens.clear()

    def calls(self, path: str | None = None, method: str | None = None) -> list[Call]:
        """Logged requests, optionally only those whose path starts with ``path``."""
        with self._lock:
            return [c for c in self.log if (path is None or c.path.startswith(path))
                    and (method is None or c.method == method)]

    def api_calls(self) -> list[Call]:
        return self.calls("/v1/")

    def token_calls(self, grant: str | None = None) -> list[Call]:
        return [c for c in self.calls("/api/token")
                if grant is None or (c.body or {}).get("grant_type") == grant]

    # --- plumbing ----------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except HTTPException as exc:
            response = error_response(exc.code or 500, exc.description or "error")
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        if request.path == "/api/token":
            body: Any = request.form.to_dict()
        else:
            body = request.get_json(silent=True, force=True) if request.data else None
        with self._lock:
            self.log.append(Call(request.method, request.path, request.args.to_dict(), body,
                                 request.headers.get("Authorization", "")))
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            # spotipy asks for "tracks/?ids=…"; Spotify ignores the trailing slash, so do we.
            endpoint, values = adapter.match(path_info=request.path.rstrip("/") or "/")
        except NotFound:
            return error_response(404, "Service not found")
        if endpoint in ("authorize", "token"):
            return getattr(self, f"_{endpoint}")(request, body)
        if request.path.rstrip("/").startswith(self.fail_paths or ("\0",)):
            return error_response(500, "Server error")
        if self.retry_after is not None:
            return error_response(429, "API rate limit exceeded",
                          headers={"Retry-After": str(self.retry_after)})
        user_only = endpoint in ("me", "devices", "transfer", "play")
        who = self._bearer(request)
        if who is None:
            return error_response(401, "Invalid access token")
        if user_only and who == "":
            return error_response(401, "Valid user authentication required")
        if user_only:
            return getattr(self, f"_{endpoint}")(request, body, self.users[who])
        return getattr(self, f"_{endpoint}")(request, **values)

    def _bearer(self, request: Request) -> str | None:
        """"" for the app token, the user id for a user token, None when invalid."""
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._lock:
            if token in self._app_tokens:
                return ""
            return self._user_tokens.get(token)

    def _new(self, kind: str) -> str:
        return f"{kind}-{next(self._counter)}"

    # --- accounts ----------------------------------------------------------------------------
    def _authorize(self, request: Request, _body: Any) -> Response:
        """Auto-approve as ``approving_user`` and redirect back with a code, as Spotify does."""
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            return Response("INVALID_CLIENT", status=400)
        code = self._new("code")
        with self._lock:
            self._codes[code] = (self.approving_user, args.get("redirect_uri", ""))
        query = {"code": code}
        if "state" in args:
            query["state"] = args["state"]
        return Response(status=302,
                        headers={"Location": f"{args.get('redirect_uri')}?{urlencode(query)}"})

    def _token(self, request: Request, form: dict[str, str]) -> Response:
        if self.token_retry_after is not None:
            return error_response(429, "rate limited",
                          headers={"Retry-After": str(self.token_retry_after)})
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return json_response({"error": "invalid_client", "error_description": "Invalid client"}, 400)
        grant = form.get("grant_type")
        with self._lock:
            if grant == "client_credentials":
                token = self._new("app")
                self._app_tokens.add(token)
                return json_response({"access_token": token, "token_type": "Bearer",
                              "expires_in": self.app_expires_in})
            if grant == "authorization_code":
                user, redirect = self._codes.pop(form.get("code", ""), (None, None))
                if user is None or redirect != form.get("redirect_uri"):
                    return json_response({"error": "invalid_grant",
                                  "error_description": "Invalid authorization code"}, 400)
                refresh = self._new("refresh")
                self._refresh_tokens[refresh] = user
            elif grant == "refresh_token":
                user = self._refresh_tokens.get(form.get("refresh_token", ""))
                if user is None:
                    return json_response({"error": "invalid_grant",
                                  "error_description": "Invalid refresh token"}, 400)
                refresh = None  # Spotify often omits a new refresh token on refresh
            else:
                return json_response({"error": "unsupported_grant_type"}, 400)
            token = self._new("user")
            self._user_tokens[token] = user
        body = {"access_token": token, "token_type": "Bearer", "scope": USER_SCOPES,
                "expires_in": self.user_expires_in}
        if refresh:
            body["refresh_token"] = refresh
        return json_response(body)

    # --- the user's player (Connect) -----------------------------------------------------------
    def _me(self, request: Request, body: Any, user: FakeUser) -> Response:
        return json_response({"id": user.user_id, "display_name": user.user_id.title(), "type": "user",
                      "uri": f"spotify:user:{user.user_id}",
                      "product": "premium" if user.premium else "free"})

    def _devices(self, request: Request, body: Any, user: FakeUser) -> Response:
        return json_response({"devices": user.devices})

    def _find_device(self, user: FakeUser, device_id: str | None) -> dict[str, Any] | None:
        for device in user.devices:
            if (device_id and device["id"] == device_id) or (not device_id and device["is_active"]):
                return device
        return None

    def _transfer(self, request: Request, body: Any, user: FakeUser) -> Response:
        if not user.premium:
            return error_response(403, "Player command failed: Premium required", "PREMIUM_REQUIRED")
        ids = (body or {}).get("device_ids")
        if not isinstance(ids, list) or len(ids) != 1:
            return error_response(400, "Only one device_id supported")
        device = self._find_device(user, ids[0])
        if device is None:
            return error_response(404, "Device not found")
        for other in user.devices:
            other["is_active"] = other is device
        user.player.update(device_id=device["id"], is_playing=bool(body.get("play")))
        return Response(status=204)

    def _play(self, request: Request, body: Any, user: FakeUser) -> Response:
        if not user.premium:
            return error_response(403, "Player command failed: Premium required", "PREMIUM_REQUIRED")
        device = self._find_device(user, request.args.get("device_id"))
        if device is None:
            return error_response(404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE")
        for other in user.devices:
            other["is_active"] = other is device
        body = body or {}
        user.player.update(device_id=device["id"], is_playing=True, uris=body.get("uris"),
                           position_ms=body.get("position_ms"))
        return Response(status=204)


@pytest.fixture
def fake_spotify():
    """A running FakeSpotify, stopped after the test."""
    server = FakeSpotify().start()
    try:
        yield server
    finally:
        server.stop()
