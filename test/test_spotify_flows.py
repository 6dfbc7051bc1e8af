"""With Spotify configured (against the fake server), the product's flows run through spotipy:
search, add by link, Bender filling a nest, and a 429 making every caller back off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fake_spotify import fake_spotify  # noqa: F401  (pytest fixture)
from web_support import create_nest, make_app, user_client

import master_player
import nests
from db import DB
from echonest import keys
from echonest.catalog import get_catalog, reset_catalogs

GET_LUCKY = "spotify:track:69kOkLUCkxIZYexIgSG8rq"
NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


@pytest.fixture
def spotify_app(r, fake_spotify):  # noqa: F811
    reset_catalogs()
    conf = fake_spotify.conf()
    app = make_app(r, **{k: conf.get(k) for k in (
        "CATALOG", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_API_BASE",
        "SPOTIFY_AUTH_BASE", "SPOTIFY_REDIRECT_URI", "SPOTIFY_MARKET")})
    yield app, fake_spotify
    reset_catalogs()


def test_search_and_add_by_link_go_through_spotify(spotify_app, r):
    app, fake = spotify_app
    alice = user_client(app, "alice@example.com")
    hits = alice.get("/api/search?q=daft punk").get_json()
    assert hits and all(h["uri"].startswith("spotify:") for h in hits)
    assert fake.calls("/v1/search")

    code = create_nest(alice)["code"]
    link = "https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq?si=abc"
    added = alice.post(f"/api/nests/{code}/songs", json={"track_uri": link})
    assert added.status_code == 200, added.get_json()
    queue = alice.get(f"/api/nests/{code}/queue").get_json()["queue"]
    assert [item["uri"] for item in queue] == [GET_LUCKY]
    assert queue[0]["src"] == "spotify" and queue[0]["duration"] > 200


def test_bender_fills_a_nest_from_spotify(spotify_app, r):
    app, fake = spotify_app
    mgr = nests.NestManager(r)
    code = mgr.create_nest("alice@example.com", seed_uri=GET_LUCKY)["code"]
    mgr.join_nest(code, "alice@example.com")
    catalog = get_catalog(fake.conf(), redis_client=r)
    master_player.master_player_tick_all(now=NOW, redis_client=r, catalog=catalog)
    db = DB(code, init_history_to_redis=False, redis_client=r)
    body = db.queue_body(now=NOW)
    picked = [item["uri"] for item in body["queue"]] + [db.now_playing(now=NOW).get("uri")]
    assert any(uri and uri.startswith("spotify:track:") for uri in picked)
    assert all(item["auto"] for item in body["queue"])


def test_a_429_makes_every_caller_back_off_for_retry_after(spotify_app, r):
    app, fake = spotify_app
    alice = user_client(app, "alice@example.com")
    fake.rate_limit(120)
    first = alice.get("/api/search?q=queen")
    assert first.status_code == 503 and first.get_json()["error"] == "catalog_unavailable"
    assert 110 <= r.ttl(keys.SPOTIFY_RATE_LIMITED) <= 120

    fake.rate_limit(None)  # Spotify would answer now, but we promised to wait
    before = len(fake.api_calls())
    second_process = make_app(r, **{k: fake.conf().get(k) for k in (
        "CATALOG", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_API_BASE",
        "SPOTIFY_AUTH_BASE", "SPOTIFY_MARKET")})
    bob = user_client(second_process, "bob@example.com")
    assert bob.get("/api/search?q=queen").status_code == 503
    code = create_nest(bob)["code"]
    refused = bob.post(f"/api/nests/{code}/songs", json={"track_uri": GET_LUCKY})
    assert refused.status_code == 503
    assert len(fake.api_calls()) == before  # nobody called out while backing off
    assert r.keys("NEST:*|QUEUE|[0-9]*") == []
