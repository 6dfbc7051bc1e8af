"""Several web processes and player workers against one Redis behave as one EchoNest."""

from __future__ import annotations

import json
import time

import pytest
from servers import (
    Guest,
    SSEClient,
    WSClient,
    eventually,
    offline_track_uris,
    player_worker,
    web_server,
)

from db import DB
from echonest import keys

PLAYER_TICKS_TO_WATCH = 4  # passes both workers get to double-advance, if they ever would


@pytest.fixture(scope="module")
def two_servers(redis_url):
    with web_server(redis_url) as one, web_server(redis_url) as two:
        yield one, two


def test_a_change_through_one_process_reaches_listeners_on_the_other(two_servers, r):
    one, two = two_servers
    alice = Guest(one.url, "Alice")
    alice_on_two = alice.use(two.url)
    bob = Guest(two.url, "Bob")
    code = alice.create_nest("Shared Nest")

    ws_two = WSClient(two.ws_url, f"/socket/{code}", bob.cookie)
    sse_one = SSEClient(alice.http, f"{one.url}/api/nests/{code}/events")
    try:
        ws_two.initial_state()
        sse_one.wait_for("now_playing")
        channel = keys.pubsub_channel(code)
        assert dict(r.pubsub_numsub(channel))[channel] == 2  # one per process

        first_uri, second_uri = offline_track_uris(2)
        resp = alice.post_json(f"/api/nests/{code}/songs", {"track_uri": first_uri})
        assert resp.status_code == 200, resp.text
        update = ws_two.wait_for(lambda f: f["event"] == "queue_update" and any(
            item["uri"] == first_uri for item in f["data"]["queue"]))
        assert update["nest"] == code

        ws_two.send("add_song", {"track_uri": second_uri}, ref="from-two")
        assert ws_two.reply("from-two")["event"] == "ack"
        seen = sse_one.wait_for("queue_update", lambda e: any(
            item["uri"] == second_uri for item in e["data"]["queue"]))
        assert {item["uri"] for item in seen["data"]["queue"]} == {first_uri, second_uri}

        # The same user on both processes is one listener; leaving one process keeps them.
        alice_tab_one = WSClient(one.ws_url, f"/socket/{code}", alice.cookie)
        alice_tab_two = WSClient(two.ws_url, f"/socket/{code}", alice_on_two.cookie)
        alice_tab_two.initial_state()
        assert alice.get(f"/api/nests/{code}").json()["member_count"] == 2
        alice_tab_one.close()
        alice_tab_two.send("ping", ref="still-here")
        alice_tab_two.reply("still-here")
        assert alice_on_two.get(f"/api/nests/{code}").json()["member_count"] == 2
        alice_tab_two.close()
        assert eventually(lambda: alice.get(f"/api/nests/{code}").json()["member_count"] == 1)
    finally:
        ws_two.close()
        sse_one.close()


def test_two_player_workers_advance_a_nest_once(two_servers, r, redis_url):
    one, _ = two_servers
    alice, bob = Guest(one.url, "Alice"), Guest(one.url, "Bob")
    code = alice.create_nest("Player Nest")
    first_uri, second_uri = offline_track_uris(2)
    first = alice.post_json(f"/api/nests/{code}/songs", {"track_uri": first_uri}).json()
    second = bob.post_json(f"/api/nests/{code}/songs", {"track_uri": second_uri}).json()
    db = DB(code, init_history_to_redis=False, redis_client=r)

    pubsub = r.pubsub()
    pubsub.subscribe(keys.pubsub_channel(code))
    try:
        with player_worker(redis_url), player_worker(redis_url):
            assert eventually(lambda: db.now_playing().get("id") == first["id"])
            time.sleep(PLAYER_TICKS_TO_WATCH * 1.0)  # several passes of both workers
            assert db.now_playing().get("id") == first["id"]
            assert [item["id"] for item in db.queue_items()] == [second["id"]]
        started = []
        while (message := pubsub.get_message(timeout=0.2)) is not None:
            if message["type"] != "message":
                continue
            envelope = json.loads(message["data"])
            if envelope["event"] == "now_playing":
                started.append(envelope["v"])
        assert len(started) == 1
    finally:
        pubsub.close()

