"""Per-user Spotify (play-along): OAuth code flow, tokens in Redis, Connect calls, via real spotipy."""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from fake_spotify import fake_spotify  # noqa: F401  (pytest fixture)

from echonest import keys
from echonest.catalog.spotify import SpotifyProvider
from echonest.catalog.spotify_user import (
    SCOPES,
    SpotifyConnect,
    authorize_url,
    connect_user,
    disconnect_user,
    is_connected,
    redirect_uri,
)
from echonest.errors import CatalogError, Forbidden, InvalidRequest, NotFound, Unauthorized

EMAIL = "kim@example.com"
GET_LUCKY = "spotify:track:69kOkLUCkxIZYexIgSG8rq"
EPISODE = "spotify:episode:512ojhOuo1ktJprKbVcKyQ"
LAPTOP = "kim-laptop-5f1c9a2e"
PHONE = "kim-phone-0b7d44aa"


def sign_in(fake, r, email=EMAIL, state="csrf-123"):
    """What the browser does: visit the authorize URL, follow Spotify's redirect back to us."""
    conf = fake.conf()
    answer = requests.get(authorize_url(conf, state), allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = urlparse(answer.headers["Location"])
    query = parse_qs(back.query)
    assert query["state"] == [state]
    connect_user(conf, r, email, query["code"][0])
    return conf


@pytest.fixture
def connect(r, fake_spotify):  # noqa: F811
    return SpotifyConnect(sign_in(fake_spotify, r), r, EMAIL)


# --- OAuth ---------------------------------------------------------------------------------------
def test_authorize_url_asks_for_the_play_along_scopes(fake_spotify):  # noqa: F811
    url = urlparse(authorize_url(fake_spotify.conf(), "s-1"))
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{fake_spotify.auth_base}/authorize"
    assert query["client_id"] == ["fake-client-id"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [fake_spotify.redirect_uri]
    assert query["state"] == ["s-1"]
    assert set(query["scope"][0].split()) == {
        "user-read-playback-state", "user-modify-playback-state", "streaming"}
    assert fake_spotify.log == []


def test_redirect_uri_defaults_to_our_callback(fake_spotify):  # noqa: F811
    local = fake_spotify.conf(SPOTIFY_REDIRECT_URI="", HOSTNAME="localhost:5000")
    public = fake_spotify.conf(SPOTIFY_REDIRECT_URI="", HOSTNAME="echone.st")
    assert redirect_uri(local) == "http://localhost:5000/login/spotify/callback"
    assert redirect_uri(public) == "https://echone.st/login/spotify/callback"


def test_code_exchange_stores_tokens_in_redis_not_files(r, fake_spotify, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    sign_in(fake_spotify, r)
    exchange = fake_spotify.token_calls("authorization_code")
    assert len(exchange) == 1
    assert exchange[0].body["redirect_uri"] == fake_spotify.redirect_uri
    stored = json.loads(r.get(keys.spotify_user_token(EMAIL)))
    assert r.exists("NESTS|spotify-token:kim@example.com")
    assert stored["access_token"].startswith("user-")
    assert stored["refresh_token"].startswith("refresh-")
    assert stored["scope"] == SCOPES
    assert is_connected(r, EMAIL)
    assert os.listdir(tmp_path) == []  # spotipy's default .cache file was never written


def test_a_bad_code_is_refused_and_nothing_is_stored(r, fake_spotify):  # noqa: F811
    with pytest.raises(InvalidRequest) as caught:
        connect_user(fake_spotify.conf(), r, EMAIL, "code-that-spotify-never-issued")
    assert caught.value.code == "spotify_auth_failed"
    assert not is_connected(r, EMAIL)
    for code in ("", None, "x" * 5000):
        with pytest.raises(InvalidRequest):
            connect_user(fake_spotify.conf(), r, EMAIL, code)
    assert len(fake_spotify.log) == 1


def test_disconnect_forgets_the_tokens(r, fake_spotify):  # noqa: F811
    sign_in(fake_spotify, r)
    disconnect_user(r, EMAIL)
    assert not is_connected(r, EMAIL)


# --- Connect ---------------------------------------------------------------------------------
def test_devices(connect, fake_spotify):  # noqa: F811
    devices = connect.devices()
    assert [(d["id"], d["name"], d["type"], d["is_active"]) for d in devices] == [
        (LAPTOP, "Kim's MacBook", "Computer", False),
        (PHONE, "Kim's iPhone", "Smartphone", False),
    ]
    call = fake_spotify.calls("/v1/me/player/devices")[-1]
    assert call.auth.startswith("Bearer user-")


def test_transfer_sends_the_device(connect, fake_spotify):  # noqa: F811
    connect.transfer(PHONE)
    call = fake_spotify.calls("/v1/me/player", method="PUT")[-1]
    assert call.path == "/v1/me/player"
    assert call.body == {"device_ids": [PHONE], "play": False}
    assert [d["id"] for d in connect.devices() if d["is_active"]] == [PHONE]


def test_play_at_the_nests_position(connect, fake_spotify):  # noqa: F811
    connect.play(GET_LUCKY, position_ms=93_500, device_id=LAPTOP)
    call = fake_spotify.calls("/v1/me/player/play")[-1]
    assert call.method == "PUT"
    assert call.args == {"device_id": LAPTOP}
    assert call.body == {"uris": [GET_LUCKY], "position_ms": 93_500}
    assert fake_spotify.users["kim"].player["uris"] == [GET_LUCKY]


def test_play_takes_pasted_links_and_episodes_on_the_active_device(connect, fake_spotify):  # noqa: F811
    connect.transfer(LAPTOP)
    connect.play("https://open.spotify.com/episode/512ojhOuo1ktJprKbVcKyQ?si=z", 0)
    call = fake_spotify.calls("/v1/me/player/play")[-1]
    assert call.args == {}
    assert call.body == {"uris": [EPISODE], "position_ms": 0}


@pytest.mark.parametrize("uri, position, device", [
    ("local:track:get-lucky", 0, None),
    ("spotify:album:2noRn2Aes5aoNVsU6iWThc", 0, None),
    ("<b>", 0, None),
    (GET_LUCKY, -1, None),
    (GET_LUCKY, "12", None),
    (GET_LUCKY, True, None),
    (GET_LUCKY, 0, "../../me"),
    (GET_LUCKY, 0, 42),
])
def test_bad_play_arguments_are_refused_without_a_call(connect, fake_spotify, uri, position, device):  # noqa: F811
    before = len(fake_spotify.log)
    with pytest.raises(InvalidRequest):
        connect.play(uri, position, device)
    assert len(fake_spotify.log) == before


def test_no_active_device_is_a_clear_not_found(connect):
    with pytest.raises(NotFound) as caught:
        connect.play(GET_LUCKY, 0)
    assert caught.value.code == "spotify_no_device"
    with pytest.raises(NotFound):
        connect.transfer("no-such-device")


def test_free_accounts_get_premium_required(r, fake_spotify):  # noqa: F811
    fake_spotify.add_user("kim", premium=False)
    connect = SpotifyConnect(sign_in(fake_spotify, r), r, EMAIL)
    with pytest.raises(Forbidden) as caught:
        connect.play(GET_LUCKY, 0, LAPTOP)
    assert caught.value.code == "spotify_premium_required"


def expire_stored_token(r, email=EMAIL):
    token = json.loads(r.get(keys.spotify_user_token(email)))
    r.set(keys.spotify_user_token(email), json.dumps({**token, "expires_at": 0}))
    return token


def test_an_expired_token_is_refreshed_and_stored(r, fake_spotify):  # noqa: F811
    connect = SpotifyConnect(sign_in(fake_spotify, r), r, EMAIL)
    first = expire_stored_token(r)
    connect.devices()
    refreshes = fake_spotify.token_calls("refresh_token")
    assert [c.body["refresh_token"] for c in refreshes] == [first["refresh_token"]]
    stored = json.loads(r.get(keys.spotify_user_token(EMAIL)))
    assert stored["access_token"] != first["access_token"]
    assert stored["refresh_token"] == first["refresh_token"]  # kept when Spotify sends none
    assert fake_spotify.calls("/v1/me/player/devices")[-1].auth == f"Bearer {stored['access_token']}"


def test_a_revoked_refresh_token_asks_the_user_to_connect_again(r, fake_spotify):  # noqa: F811
    connect = SpotifyConnect(sign_in(fake_spotify, r), r, EMAIL)
    expire_stored_token(r)
    fake_spotify.revoke_refresh_tokens()
    with pytest.raises(Unauthorized) as caught:
        connect.devices()
    assert caught.value.code == "spotify_not_connected"
    assert not is_connected(r, EMAIL)


def test_a_rejected_access_token_is_unauthorized(connect, fake_spotify):  # noqa: F811
    fake_spotify.revoke_user_tokens()
    with pytest.raises(Unauthorized):
        connect.devices()


def test_not_connected_users_make_no_calls(r, fake_spotify):  # noqa: F811
    connect = SpotifyConnect(fake_spotify.conf(), r, "nobody@example.com")
    with pytest.raises(Unauthorized) as caught:
        connect.devices()
    assert caught.value.code == "spotify_not_connected"
    assert fake_spotify.log == []


def test_a_429_on_play_backs_off_everyone(r, connect, fake_spotify):  # noqa: F811
    fake_spotify.rate_limit(11)
    with pytest.raises(CatalogError, match="try again in 1[01] s"):
        connect.play(GET_LUCKY, 0, LAPTOP)
    assert 1 <= r.ttl(keys.SPOTIFY_RATE_LIMITED) <= 11
    fake_spotify.rate_limit(None)
    before = len(fake_spotify.log)
    with pytest.raises(CatalogError):
        SpotifyProvider(fake_spotify.conf(), r).lookup(GET_LUCKY)
    with pytest.raises(CatalogError):
        connect.devices()
    assert len(fake_spotify.log) == before
