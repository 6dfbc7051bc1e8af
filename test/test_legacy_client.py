"""echonest-sync's contract: its calls replayed in order against a real server (HTTP + SSE).

``SyncClient`` makes exactly the requests the desktop client makes (issue 12's table: its
``login`` command, the Link Account dialog, the follow loop, the tray's Up Next, search, add and
device picker), and reads the answers the way it reads them. If a shape drifts, this fails.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fake_spotify import FakeSpotify
from servers import Guest, SSEClient, web_server

from db import DB

INVITE = "futureofmusic"
GET_LUCKY = "spotify:track:69kOkLUCkxIZYexIgSG8rq"
LAPTOP = "kim-laptop-5f1c9a2e"
PAGE_POSITION_FIELDS = {"id", "starttime", "endtime", "pos", "paused", "now"}


class SyncClient:
    """The desktop client, call for call. ``token`` is the sync token, then the user token."""

    def __init__(self, server_url: str):
        self.server = server_url
        self.token = ""
        self.http = requests.Session()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def login(self, invite_code: str) -> requests.Response:   # `echonest-sync login`
        return self.http.post(f"{self.server}/api/sync-token", json={"invite_code": invite_code},
                              timeout=10)

    def link(self, code: str) -> requests.Response:           # the Link Account dialog
        return self.http.post(f"{self.server}/api/sync-link", json={"code": code}, timeout=10,
                              headers={**self._headers(), "Content-Type": "application/json"})

    def events(self) -> SSEClient:                             # the follow loop
        return SSEClient(self.http, f"{self.server}/api/events", headers=self._headers())

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.server}{path}", headers=self._headers(), timeout=10,
                             **kwargs)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.http.post(f"{self.server}{path}", json=body, headers=self._headers(),
                              timeout=10)

    def search(self, q: str) -> requests.Response:             # sent without any auth header
        return requests.get(f"{self.server}/search/v2", params={"q": q}, timeout=10)


@pytest.fixture(scope="module")
def fake():
    server = FakeSpotify().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(redis_url, fake):
    spotify = fake.conf()
    conf = {key: spotify.get(key) for key in (
        "CATALOG", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_API_BASE",
        "SPOTIFY_AUTH_BASE", "SPOTIFY_REDIRECT_URI", "SPOTIFY_MARKET")}
    conf.update(SYNC_INVITE_CODES=[INVITE], USE_BENDER=False, SSE_KEEPALIVE_SECONDS=0.5,
                PLAYER_POSITION_SECONDS=0.3)
    with web_server(redis_url, conf=conf) as srv:
        yield srv


def connect_spotify(person: Guest) -> None:
    """The person's own browser connects their Spotify (the fake approves as "kim")."""
    ours = person.get("/login/spotify?next=/", allow_redirects=False)
    assert ours.status_code == 302, ours.text
    approved = requests.get(ours.headers["Location"], allow_redirects=False, timeout=5)
    query = {k: v[0] for k, v in parse_qs(urlsplit(approved.headers["Location"]).query).items()}
    back = person.get("/login/spotify/callback", params=query, allow_redirects=False)
    assert back.status_code == 302, back.text


def link_code(person: Guest) -> str:
    page = person.get("/sync/link")
    assert page.status_code == 200, page.text
    assert "text/html" in page.headers["Content-Type"]
    # The code is on the page (and drawn as a QR by a module: the CSP allows no inline script).
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    assert "js/synclink.js" in page.text
    match = re.search(r'data-code="([A-Z0-9]{6})"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def test_the_desktop_client_onboards_links_follows_searches_adds_and_plays(server, fake, r):
    client = SyncClient(server.url)

    # 1. `echonest-sync login`: a wrong invite code is refused, the right one gives a token.
    assert client.login("not-the-code").status_code == 403
    login = client.login(INVITE)
    assert login.status_code == 200, login.text
    assert set(login.json()) == {"token", "server"} and login.json()["server"] == server.url
    client.token = login.json()["token"]

    # 2. It follows the main nest with that token: payloads themselves, not envelopes.
    stream = client.events()
    try:
        assert stream.status == 200
        assert stream.wait_for("queue_update")["data"] == []  # a list of items
        assert "paused" in stream.wait_for("now_playing")["data"]
        assert client.get("/api/playing").json()["paused"] is False
        # ... but the sync token is not a person: it cannot add.
        refused = client.post("/api/add_song", {"track_uri": GET_LUCKY})
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    finally:
        stream.close()

    # 3. Kim opens /sync/link signed in; the Link Account dialog swaps the code for her token.
    kim = Guest(server.url, "Kim")
    code = link_code(kim)
    assert client.link("ZZZZZZ").status_code == 404
    linked = client.link(code.lower())  # typed by hand: case does not matter
    assert linked.status_code == 200, linked.text
    body = linked.json()
    assert set(body) == {"email", "name", "user_token"}
    assert body["name"] == "Kim" and body["email"].startswith("guest:")
    assert client.link(code).status_code == 404  # one use
    client.token = body["user_token"]

    # 4. Search is sent without any auth header; add is Kim's own.
    hits = client.search("daft punk")
    assert hits.status_code == 200, hits.text
    assert all({"uri", "track_name", "artist"} <= set(hit) for hit in hits.json())
    assert GET_LUCKY in [hit["uri"] for hit in hits.json()]

    stream = client.events()
    page_stream = SSEClient(kim.http, f"{server.url}/api/nests/main/events")
    try:
        stream.wait_for("now_playing")
        added = client.post("/api/add_song", {"track_uri": GET_LUCKY})
        assert added.status_code == 200, added.text
        assert added.json()["user"] == body["email"]  # acting as Kim, not as a token
        update = stream.wait_for("queue_update", lambda e: len(e["data"]) == 1)
        assert update["data"][0]["uri"] == GET_LUCKY
        assert update["data"][0]["user_name"] == "Kim"
        queue = client.get("/api/queue").json()
        assert [item["uri"] for item in queue.get("queue")] == [GET_LUCKY] and queue["now"]

        # 5. The song starts: now_playing names it, player_position carries src and trackid.
        DB("main", init_history_to_redis=False, redis_client=r).advance()
        playing = stream.wait_for("now_playing", lambda e: e["data"].get("trackid"))
        assert playing["data"]["src"] == "spotify" and playing["data"]["trackid"] == GET_LUCKY
        assert playing["data"]["starttime"] and playing["data"]["now"]
        position = stream.wait_for("player_position")["data"]
        assert position["src"] == "spotify" and position["trackid"] == GET_LUCKY
        assert 0 <= position["pos"] <= playing["data"]["duration"]
        # The page's own stream keeps its lean position shape.
        page_position = page_stream.wait_for("player_position")["data"]
        assert set(page_position) == PAGE_POSITION_FIELDS

        # 6. Airhorns: a 0-1 volume on the legacy stream, 0-100 on the page's; the file exists.
        DB("main", init_history_to_redis=False, redis_client=r).set_volume(80)
        assert client.post("/blast_airhorn", {"name": "tada"}).status_code == 200
        horn = stream.wait_for("airhorn")["data"]
        assert horn["name"] == "tada" and horn["volume"] == pytest.approx(0.8)
        assert page_stream.wait_for("airhorn")["data"]["volume"] == 80
        sound = [requests.get(f"{server.url}/static/audio/{horn['name']}.{ext}", timeout=10)
                 for ext in ("mp3", "wav", "ogg")]
        assert any(resp.status_code == 200 and resp.content for resp in sound)
    finally:
        stream.close()
        page_stream.close()

    # 7. Kim's Spotify devices and a transfer, with her user token.
    connect_spotify(kim)
    devices = client.get("/api/spotify/devices")
    assert devices.status_code == 200, devices.text
    assert LAPTOP in [d["id"] for d in devices.json()["devices"]]
    moved = client.post("/api/spotify/transfer", {"device_id": LAPTOP})
    assert moved.status_code == 200, moved.text
    assert fake.users["kim"].player["device_id"] == LAPTOP

    # 8. Kim revokes the app's token on her tokens page: its open stream ends, and every
    # later call is 401, on which the client stops.
    stream = client.events()
    stream.wait_for("now_playing")
    tokens = kim.get("/api/tokens").json()["tokens"]
    assert [t["label"] for t in tokens] == ["echonest-sync (linked)"]
    assert "token" not in tokens[0]
    assert kim.http.delete(f"{server.url}/api/tokens/{tokens[0]['id']}", timeout=10,
                           headers={"Content-Type": "application/json"}).status_code == 200
    with pytest.raises(AssertionError, match="stream ended"):
        stream.wait_for("no-such-event", limit=50)
    stream.close()
    for answer in (client.get("/api/events"), client.get("/api/playing"),
                   client.post("/api/add_song", {"track_uri": GET_LUCKY})):
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"


def test_a_bad_token_gets_401_json_everywhere_the_client_calls(server, r):
    client = SyncClient(server.url)
    client.token = "ens_not-a-real-token"
    for path in ("/api/events", "/api/playing", "/api/queue", "/api/spotify/devices"):
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert answer.json()["error"] == "unauthorized"
        assert "Location" not in answer.headers
    assert client.link("ABCDEF").status_code == 401
    # A bad token on the open search is still a bad token.
    assert client.get("/search/v2", params={"q": "x"}).status_code == 401


def test_search_from_behind_an_unannounced_proxy_is_not_taken_as_local(server, r):
    client = SyncClient(server.url)
    assert client.search("daft punk").status_code == 200  # loopback: the desktop on the LAN
    forwarded = requests.get(f"{server.url}/search/v2", params={"q": "daft punk"}, timeout=10,
                             headers={"X-Forwarded-For": "192.168.1.20"})
    assert forwarded.status_code == 401  # TRUSTED_PROXY_HOPS is 0: no proxy may vouch
    assert requests.get(f"{server.url}/api/search", params={"q": "daft"},
                        timeout=10).status_code == 401  # the page's search still needs sign-in


def test_the_sync_token_reads_the_main_nest_only(server, r):
    client = SyncClient(server.url)
    client.token = client.login(INVITE).json()["token"]
    for path in ("/api/queue", "/api/playing", "/api/airhorns", "/queue/", "/playing/"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/search", params={"q": "daft"}).status_code == 200
    kim = Guest(server.url, "Kim")
    nest = kim.create_nest("Kim's Nest")
    for method, path in (("GET", "/api/nests"), ("GET", f"/api/nests/{nest}/queue"),
                         ("POST", f"/api/nests/{nest}/songs"), ("POST", "/blast_airhorn"),
                         ("POST", "/api/queue/skip"), ("GET", "/api/tokens"),
                         ("GET", "/api/spotify/devices"), ("GET", "/sync/link"),
                         ("GET", f"/api/nests/{nest}/events")):
        answer = client.http.request(method, f"{server.url}{path}", json={},
                                     headers=client._headers(), timeout=10)
        assert answer.status_code == 403, (method, path, answer.status_code)
