"""Spotify play-along over HTTP: connect, status, devices and play, real spotipy against the fake."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fake_spotify import CLIENT_ID, CLIENT_SECRET, fake_spotify  # noqa: F401  (pytest fixture)
from web_support import ALICE, BOB, TOKEN, auth, make_app, sign_in, user_client

from echonest import keys

GET_LUCKY = "spotify:track:69kOkLUCkxIZYexIgSG8rq"
EPISODE = "spotify:episode:512ojhOuo1ktJprKbVcKyQ"
LAPTOP = "kim-laptop-5f1c9a2e"
PHONE = "kim-phone-0b7d44aa"


def spotify_app(r, fake, **overrides):
    return make_app(r, SPOTIFY_CLIENT_ID=CLIENT_ID, SPOTIFY_CLIENT_SECRET=CLIENT_SECRET,
                    SPOTIFY_API_BASE=fake.api_base, SPOTIFY_AUTH_BASE=fake.auth_base,
                    SPOTIFY_REDIRECT_URI=fake.redirect_uri, **overrides)


def start(client, path="/login/spotify?next=/nest/ABCDE", **kwargs):
    """Our /login/spotify, then Spotify's approval page: the callback query Spotify sends back."""
    ours = client.get(path, **kwargs)
    assert ours.status_code == 302, ours.get_data(as_text=True)
    approved = requests.get(ours.headers["Location"], allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["Location"])
    assert back.path == "/login/spotify/callback"
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def connect(client):
    query = start(client)
    answer = client.get("/login/spotify/callback", query_string=query)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer


@pytest.fixture
def app(r, fake_spotify):  # noqa: F811
    return spotify_app(r, fake_spotify, ECHONEST_API_TOKEN=TOKEN)


@pytest.fixture
def alice(app):
    return user_client(app, ALICE)


@pytest.fixture
def connected(alice):
    connect(alice)
    return alice


def status(client):
    return client.get("/api/spotify/status").get_json()


# --- connecting ------------------------------------------------------------------------------
def test_connecting_stores_the_listeners_token_and_returns_to_their_nest(r, fake_spotify, alice):  # noqa: F811
    query = start(alice)
    authorize = fake_spotify.calls("/authorize")[0].args
    assert authorize["redirect_uri"] == fake_spotify.redirect_uri
    assert set(authorize["scope"].split()) >= {"user-modify-playback-state",
                                               "user-read-playback-state"}
    assert status(alice) == {"configured": True, "connected": False,
                             "connect_url": "/login/spotify"}
    answer = alice.get("/login/spotify/callback", query_string=query)
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/nest/ABCDE"
    assert status(alice)["connected"] is True
    assert r.exists(keys.spotify_user_token(ALICE))
    assert len(fake_spotify.token_calls("authorization_code")) == 1
    # Bob shares the server, not Alice's Spotify.
    assert status(user_client(alice.application, BOB))["connected"] is False


def test_without_next_the_listener_returns_to_the_page_they_came_from(fake_spotify, alice):  # noqa: F811
    query = start(alice, "/login/spotify", headers={"Referer": "http://localhost/nest/QWERT?x=1"})
    back = alice.get("/login/spotify/callback", query_string=query)
    assert back.headers["Location"].endswith("/nest/QWERT?x=1")
    query = start(alice, "/login/spotify", headers={"Referer": "https://evil.example/nest/QWERT"})
    assert urlsplit(alice.get("/login/spotify/callback", query_string=query)
                    .headers["Location"]).path == "/"
    query = start(alice, "/login/spotify?next=https://evil.example/")
    assert urlsplit(alice.get("/login/spotify/callback", query_string=query)
                    .headers["Location"]).path == "/"


@pytest.mark.parametrize("forge", ["forged", "", None, "x" * 5000])
def test_a_forged_state_is_refused_and_nothing_is_exchanged(r, fake_spotify, alice, forge):  # noqa: F811
    query = start(alice)
    if forge is None:
        del query["state"]
    else:
        query["state"] = forge
    answer = alice.get("/login/spotify/callback", query_string=query)
    assert answer.status_code == 400
    assert "connect Spotify again" in answer.get_data(as_text=True)
    assert fake_spotify.token_calls("authorization_code") == []
    assert not r.exists(keys.spotify_user_token(ALICE))


def test_a_callback_works_once_and_only_in_the_session_that_started_it(r, app, fake_spotify, alice):  # noqa: F811
    query = start(alice)
    # Bob is tricked into opening Alice's callback: his session never started a sign-in.
    bob = user_client(app, BOB)
    assert bob.get("/login/spotify/callback", query_string=query).status_code == 400
    assert not r.exists(keys.spotify_user_token(BOB))
    assert alice.get("/login/spotify/callback", query_string=query).status_code == 302
    assert alice.get("/login/spotify/callback", query_string=query).status_code == 400
    assert len(fake_spotify.token_calls("authorization_code")) == 1


def test_declining_on_spotify_returns_to_the_page_unconnected(r, fake_spotify, alice):  # noqa: F811
    query = start(alice)
    answer = alice.get("/login/spotify/callback",
                       query_string={"error": "access_denied", "state": query["state"]})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/nest/ABCDE")
    assert status(alice)["connected"] is False
    assert fake_spotify.token_calls() == []


def test_a_code_spotify_rejects_is_a_clear_error(r, fake_spotify, alice):  # noqa: F811
    query = start(alice)
    query["code"] = "code-never-issued"
    answer = alice.get("/login/spotify/callback", query_string=query)
    assert answer.status_code == 400
    assert "Spotify did not accept that sign-in" in answer.get_data(as_text=True)
    assert not r.exists(keys.spotify_user_token(ALICE))


def test_disconnect_forgets_the_token(r, connected):
    answer = connected.post("/api/spotify/disconnect", json={})
    assert answer.get_json() == {"connected": False}
    assert status(connected)["connected"] is False
    assert not r.exists(keys.spotify_user_token(ALICE))


def test_a_guest_can_play_along_with_their_own_spotify(app, fake_spotify):  # noqa: F811
    guest = app.test_client()
    sign_in(guest, "guest:abc123", name="Gus", kind="guest")
    connect(guest)
    assert status(guest)["connected"] is True
    assert guest.post("/api/spotify/play", json={"uri": GET_LUCKY, "device_id": PHONE}
                      ).status_code == 200


def test_a_guest_signing_out_leaves_no_tokens_behind_but_a_google_user_keeps_theirs(
        r, app, fake_spotify, connected):  # noqa: F811
    guest = app.test_client()
    sign_in(guest, "guest:abc123", name="Gus", kind="guest")
    connect(guest)
    assert r.exists(keys.spotify_user_token("guest:abc123"))
    guest.post("/logout", json={})
    assert not r.exists(keys.spotify_user_token("guest:abc123"))
    connected.post("/logout", json={})
    assert r.keys(keys.spotify_user_token("*")) != []  # alice signs in again to the same Spotify


def test_the_api_token_has_no_spotify_of_its_own(app, fake_spotify):  # noqa: F811
    client = app.test_client()
    for method, path in (("GET", "/api/spotify/status"), ("GET", "/api/spotify/devices"),
                         ("POST", "/api/spotify/disconnect")):
        answer = client.open(path, method=method, headers=auth())
        assert answer.status_code == 403, path
        assert answer.get_json()["error"] == "forbidden"
    answer = client.post("/api/spotify/play", json={"uri": GET_LUCKY}, headers=auth())
    assert answer.status_code == 403
    assert fake_spotify.log == []


# --- devices and play ---------------------------------------------------------------------------
def test_devices_lists_the_listeners_spotify_devices(fake_spotify, connected):  # noqa: F811
    answer = connected.get("/api/spotify/devices")
    assert answer.status_code == 200
    devices = answer.get_json()["devices"]
    assert [d["id"] for d in devices] == [LAPTOP, PHONE]
    assert devices[1]["name"] == "Kim's iPhone" and devices[1]["is_active"] is False
    assert fake_spotify.calls("/v1/me/player/devices")[0].auth.startswith("Bearer user-")


def test_play_starts_the_track_at_the_nests_position_on_the_chosen_device(fake_spotify, connected):  # noqa: F811
    answer = connected.post("/api/spotify/play",
                            json={"uri": GET_LUCKY, "position_ms": 61_500, "device_id": LAPTOP})
    assert answer.status_code == 200
    assert answer.get_json() == {"playing": True, "uri": GET_LUCKY, "position_ms": 61_500,
                                 "device_id": LAPTOP}
    play = fake_spotify.calls("/v1/me/player/play", "PUT")[-1]
    assert play.args == {"device_id": LAPTOP}
    assert play.body == {"uris": [GET_LUCKY], "position_ms": 61_500}
    assert fake_spotify.users["kim"].player["is_playing"] is True


def test_play_drift_correction_replays_the_same_track_at_the_new_position(fake_spotify, connected):  # noqa: F811
    for position in (10_000, 74_000):
        assert connected.post("/api/spotify/play", json={
            "uri": EPISODE, "position_ms": position, "device_id": PHONE}).status_code == 200
    assert fake_spotify.users["kim"].player["position_ms"] == 74_000
    assert fake_spotify.users["kim"].player["uris"] == [EPISODE]


def test_play_without_a_device_uses_the_only_one_or_says_which_is_missing(fake_spotify, connected):  # noqa: F811
    answer = connected.post("/api/spotify/play", json={"uri": GET_LUCKY, "position_ms": 0})
    assert answer.status_code == 404
    assert answer.get_json()["error"] == "spotify_no_device"  # two idle devices: we won't guess
    assert "open Spotify" in answer.get_json()["message"]
    kim = fake_spotify.users["kim"]
    kim.devices = [d for d in kim.devices if d["id"] == PHONE]
    answer = connected.post("/api/spotify/play", json={"uri": GET_LUCKY, "position_ms": 5000})
    assert answer.status_code == 200
    assert answer.get_json()["device_id"] == PHONE
    assert kim.player["device_id"] == PHONE and kim.player["position_ms"] == 5000


def test_play_on_the_active_device_needs_no_device_id(fake_spotify, connected):  # noqa: F811
    assert connected.post("/api/spotify/play", json={"uri": GET_LUCKY, "device_id": PHONE}
                          ).status_code == 200
    answer = connected.post("/api/spotify/play", json={"uri": EPISODE, "position_ms": 3000})
    assert answer.status_code == 200 and answer.get_json()["device_id"] is None
    assert fake_spotify.calls("/v1/me/player/play")[-1].args == {}
    assert fake_spotify.users["kim"].player["uris"] == [EPISODE]


def test_a_free_spotify_account_hears_premium_is_required(fake_spotify, connected):  # noqa: F811
    fake_spotify.users["kim"].premium = False
    answer = connected.post("/api/spotify/play", json={"uri": GET_LUCKY, "device_id": PHONE})
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "spotify_premium_required"


def test_not_connected_is_a_clear_401_without_calling_spotify(fake_spotify, alice):  # noqa: F811
    for answer in (alice.post("/api/spotify/play", json={"uri": GET_LUCKY}),
                   alice.get("/api/spotify/devices")):
        assert answer.status_code == 401
        assert answer.get_json()["error"] == "spotify_not_connected"
    assert fake_spotify.log == []


def test_a_revoked_spotify_grant_asks_the_listener_to_connect_again(r, fake_spotify, connected):  # noqa: F811
    fake_spotify.revoke_user_tokens()
    fake_spotify.revoke_refresh_tokens()
    answer = connected.post("/api/spotify/play", json={"uri": GET_LUCKY, "device_id": PHONE})
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "spotify_not_connected"


# --- Spotify not configured ----------------------------------------------------------------------
def test_without_spotify_configured_every_route_says_so(r):
    app = make_app(r, SPOTIFY_CLIENT_ID="", SPOTIFY_CLIENT_SECRET="")
    client = user_client(app, ALICE)
    assert status(client) == {"configured": False, "connected": False,
                              "connect_url": "/login/spotify"}
    for answer in (client.post("/api/spotify/play", json={"uri": GET_LUCKY}),
                   client.get("/api/spotify/devices")):
        assert answer.status_code == 404
        assert answer.get_json()["error"] == "spotify_not_configured"
    page = client.get("/login/spotify")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "not set up" in page.get_data(as_text=True)
    assert client.get("/login/spotify/callback?code=x&state=y").status_code == 404


# --- back-off and limits -------------------------------------------------------------------------
def test_no_spotify_call_while_the_global_back_off_is_set(r, fake_spotify, connected):  # noqa: F811
    before = len(fake_spotify.log)
    r.set(keys.SPOTIFY_RATE_LIMITED, "1", ex=40)
    for answer in (connected.post("/api/spotify/play", json={"uri": GET_LUCKY, "device_id": PHONE}),
                   connected.get("/api/spotify/devices")):
        assert answer.status_code == 503
        body = answer.get_json()
        assert body["error"] == "catalog_unavailable" and 30 <= body["retry_after"] <= 40
        assert 30 <= int(answer.headers["Retry-After"]) <= 40
    assert len(fake_spotify.log) == before


def test_a_429_from_spotify_sets_the_back_off_for_every_listener(r, app, fake_spotify, connected):  # noqa: F811
    bob = user_client(app, BOB)
    connect(bob)
    fake_spotify.rate_limit(7)
    answer = connected.post("/api/spotify/play", json={"uri": GET_LUCKY, "device_id": PHONE})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "7"
    assert 0 < r.ttl(keys.SPOTIFY_RATE_LIMITED) <= 7
    fake_spotify.rate_limit(None)
    before = len(fake_spotify.log)
    for client in (connected, bob):
        answer = client.post("/api/spotify/play", json={"uri": GET_LUCKY, "device_id": PHONE})
        assert answer.status_code == 503
    assert fake_spotify.log[before:] == []


def test_each_listener_has_a_play_along_budget(r, fake_spotify):  # noqa: F811
    app = spotify_app(r, fake_spotify, RATE_LIMITS={"spotify_user": [2, 3600]})
    alice, bob = user_client(app, ALICE), user_client(app, BOB)
    connect(alice)
    connect(bob)
    play = {"uri": GET_LUCKY, "device_id": PHONE}
    assert [alice.post("/api/spotify/play", json=play).status_code for _ in range(3)] \
        == [200, 200, 429]
    assert alice.get("/api/spotify/status").status_code == 200  # status never calls Spotify
    assert bob.post("/api/spotify/play", json=play).status_code == 200


# --- hostile input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    {}, {"uri": 5}, {"uri": None}, {"uri": "local:track:abc"},
    {"uri": "spotify:album:4uLU6hMCjMI75M1A2tKUQC"},
    {"uri": "https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq"},
    {"uri": "<script>alert(1)</script>"}, {"uri": "spotify:track:" + "a" * 5000},
    {"uri": GET_LUCKY, "position_ms": -1}, {"uri": GET_LUCKY, "position_ms": 1.5},
    {"uri": GET_LUCKY, "position_ms": "1000"}, {"uri": GET_LUCKY, "position_ms": True},
    {"uri": GET_LUCKY, "position_ms": 24 * 3600 * 1000 + 1},
    {"uri": GET_LUCKY, "position_ms": 10**30},
    {"uri": GET_LUCKY, "device_id": 7}, {"uri": GET_LUCKY, "device_id": "../../v1/me"},
    {"uri": GET_LUCKY, "device_id": "x" * 500},
])
def test_bad_play_requests_are_refused_before_spotify_hears_of_them(fake_spotify, connected, body):  # noqa: F811
    before = len(fake_spotify.log)
    answer = connected.post("/api/spotify/play", json=body)
    assert answer.status_code == 400, body
    assert answer.get_json()["error"] == "invalid_request"
    assert len(fake_spotify.log) == before
    assert fake_spotify.users["kim"].player == {}


def test_play_body_must_be_a_json_object_sent_like_a_page_would(fake_spotify, connected):  # noqa: F811
    assert connected.post("/api/spotify/play", data="[1]",
                          content_type="application/json").status_code == 400
    # A cross-site form post carries the cookie but no CSRF token.
    forged = connected.post("/api/spotify/play", data={"uri": GET_LUCKY})
    assert forged.status_code == 403
    assert fake_spotify.calls("/v1/me/player/play") == []


# --- the page ---------------------------------------------------------------------------------------
PAGE_PLAY_ALONG = """async ([uri, before]) => {
  const boot = JSON.parse(document.getElementById('echonest-boot').textContent);
  const {createApi} = await import('/static/js/api.js');
  const {createPlayAlong} = await import('/static/js/playalong.js');
  const ctx = {audio: {enabled: true, chime() {}}, clock: {position: () => 61.5},
               api: createApi({csrfToken: boot.csrf_token, nestCode: 'main'})};
  const along = createPlayAlong(ctx, () => null);
  const note = document.getElementById('sync-note');
  note.textContent = '';
  // Both return the Spotify request's promise, so this waits for the answer, not a timer.
  await (before === null ? along.songChanged({uri}) : along.clockJumped({uri}, before));
  const link = note.querySelector('a');
  return {text: note.textContent, href: link && link.getAttribute('href')};
}"""


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_the_page_offers_connect_then_plays_along_at_the_clock(redis_url, r, fake_spotify,  # noqa: F811
                                                               monkeypatch):
    import servers
    from browser_helpers import Visitor, browser

    port = servers.free_port()
    monkeypatch.setattr(servers, "free_port", lambda: port)  # the redirect URI names our port
    conf = {"SPOTIFY_CLIENT_ID": CLIENT_ID, "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
            "SPOTIFY_API_BASE": fake_spotify.api_base, "SPOTIFY_AUTH_BASE": fake_spotify.auth_base,
            "SPOTIFY_REDIRECT_URI": f"http://127.0.0.1:{port}/login/spotify/callback",
            "USE_BENDER": False}
    kim = fake_spotify.users["kim"]
    kim.devices = [d for d in kim.devices if d["id"] == PHONE]
    with servers.web_server(redis_url, conf) as srv, browser() as chromium:
        v = Visitor(chromium, srv.url, "Sol")
        v.goto("/?from=test")
        first = v.page.evaluate(PAGE_PLAY_ALONG, [GET_LUCKY, None])
        assert first["text"].startswith("Connect Spotify")
        assert first["href"] == "/login/spotify?next=%2F%3Ffrom%3Dtest"
        assert fake_spotify.api_calls() == []

        # Following the link goes to Spotify, which approves and sends the browser back here.
        v.page.goto(first["href"])
        v.page.wait_for_url(f"{srv.url}/?from=test")
        v.wait_live()
        played = v.page.evaluate(PAGE_PLAY_ALONG, [GET_LUCKY, None])
        assert played["text"] == "Playing along on your Spotify device."
        assert kim.player["uris"] == [GET_LUCKY] and kim.player["position_ms"] == 61_500
        assert kim.player["device_id"] == PHONE

        # The shared clock jumped by more than 3 s: the page re-syncs; a small wobble does not.
        calls = len(fake_spotify.calls("/v1/me/player/play"))
        v.page.evaluate(PAGE_PLAY_ALONG, [GET_LUCKY, 40.0])
        assert len(fake_spotify.calls("/v1/me/player/play")) == calls + 1
        assert v.page.evaluate(PAGE_PLAY_ALONG, [GET_LUCKY, 60.0])["text"] == ""
        assert len(fake_spotify.calls("/v1/me/player/play")) == calls + 1
        assert v.errors == [] and v.dialogs == []
        v.close()
