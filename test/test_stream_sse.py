"""SSE /api/events (main, legacy queue shape) and /api/nests/<code>/events on a real server."""

from __future__ import annotations

import pytest
import requests
from servers import Guest, SSEClient, offline_track_uris, web_server

from db import DB
from echonest.catalog import get_catalog

TOKEN = "sse-test-operator-token"


@pytest.fixture(scope="module")
def server(redis_url):
    conf = {"SSE_KEEPALIVE_SECONDS": 0.5, "PLAYER_POSITION_SECONDS": 0.5}
    with web_server(redis_url, conf=conf, ECHONEST_API_TOKEN=TOKEN) as srv:
        yield srv


def _with_uri(uri):
    return lambda e: any(item.get("uri") == uri for item in e["data"]["queue"])


def test_nest_stream_carries_versions_as_ids_and_keepalives(server, r):
    alice = Guest(server.url, "Alice")
    code = alice.create_nest("Streaming Nest")
    sse = SSEClient(alice.http, f"{server.url}/api/nests/{code}/events")
    try:
        assert sse.status == 200
        assert sse.headers["Content-Type"].startswith("text/event-stream")
        assert sse.headers["Cache-Control"] == "no-cache"
        first = sse.wait_for("queue_update")
        assert first["data"]["queue"] == [] and int(first["id"]) == first["data"]["version"]
        assert "paused" in sse.wait_for("now_playing")["data"]

        uri = offline_track_uris(1)[0]
        resp = alice.post_json(f"/api/nests/{code}/songs", {"track_uri": uri})
        assert resp.status_code == 200, resp.text
        update = sse.wait_for("queue_update", _with_uri(uri))
        assert int(update["id"]) > int(first["id"])
        assert update["data"]["version"] >= int(update["id"])
        assert update["data"]["queue"][0]["id"] == resp.json()["id"]

        assert sse.wait_comment() == "keepalive"  # the stream is idle now
    finally:
        sse.close()


def test_legacy_main_stream_sends_the_item_list_with_the_preview_last(server, r):
    alice = Guest(server.url, "Alice")
    sse = SSEClient(alice.http, f"{server.url}/api/events")
    try:
        initial = sse.wait_for("queue_update")
        assert initial["data"] == []  # the legacy shape is a bare list

        human_uri, preview_uri = offline_track_uris(2)
        resp = alice.post_json("/api/add_song", {"track_uri": human_uri})
        assert resp.status_code == 200, resp.text
        update = sse.wait_for("queue_update", lambda e: any(
            item["uri"] == human_uri for item in e["data"]))
        assert [item["uri"] for item in update["data"]] == [human_uri]

        track = get_catalog(None, r).lookup(preview_uri)
        DB("main", init_history_to_redis=False, redis_client=r).set_preview(track)
        with_preview = sse.wait_for("queue_update", lambda e: len(e["data"]) == 2)
        assert [item["uri"] for item in with_preview["data"]] == [human_uri, preview_uri]
    finally:
        sse.close()


def test_streams_need_a_session_or_the_token_and_a_real_nest(server, r):
    anonymous = requests.get(f"{server.url}/api/events", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    wrong = requests.get(f"{server.url}/api/events", timeout=10,
                         headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401

    operator = SSEClient(requests.Session(), f"{server.url}/api/events",
                         headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        assert operator.status == 200
        assert isinstance(operator.wait_for("queue_update")["data"], list)
    finally:
        operator.close()

    alice = Guest(server.url, "Alice")
    missing = alice.get("/api/nests/ZZZZZ/events")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_playing_song_position_is_sent_periodically(server, r):
    alice = Guest(server.url, "Alice")
    code = alice.create_nest("Position Nest")
    uri = offline_track_uris(1)[0]
    item = alice.post_json(f"/api/nests/{code}/songs", {"track_uri": uri}).json()
    sse = SSEClient(alice.http, f"{server.url}/api/nests/{code}/events")
    try:
        sse.wait_for("now_playing")
        DB(code, init_history_to_redis=False, redis_client=r).advance()
        playing = sse.wait_for("now_playing", lambda e: e["data"].get("id") == item["id"])
        assert playing["data"]["starttime"] and playing["data"]["endtime"]

        position = sse.wait_for("player_position")
        data = position["data"]
        assert data["id"] == item["id"] and data["paused"] is False
        assert 0 <= data["pos"] <= item["duration"]
        assert int(position["id"]) == int(playing["id"])  # position does not bump the version
    finally:
        sse.close()
