"""WebSocket /socket and /socket/<code> against a real server process and real clients."""

from __future__ import annotations

import json
import signal
import time

import pytest
import websocket
from servers import Guest, SSEClient, WSClient, eventually, offline_track_uris, web_server

from echonest import keys


@pytest.fixture(scope="module")
def server(redis_url):
    # Liveness keys that would lapse in 3 s unless the open sockets keep refreshing them.
    conf = {"MEMBER_HEARTBEAT_SECONDS": 0.5, "MEMBER_TTL_SECONDS": 3}
    with web_server(redis_url, conf=conf) as srv:
        yield srv


def _has_uri(uri):
    return lambda f: f.get("event") == "queue_update" and any(
        item.get("uri") == uri for item in f["data"]["queue"])


def test_connect_sends_current_state_then_changes_reach_only_that_nest(server, r):
    alice, bob = Guest(server.url, "Alice"), Guest(server.url, "Bob")
    code_a, code_b = alice.create_nest("Alpha Nest"), alice.create_nest("Beta Nest")
    ws_a = WSClient(server.ws_url, f"/socket/{code_a}", alice.cookie)
    ws_b = WSClient(server.ws_url, f"/socket/{code_b}", bob.cookie)
    sse_a = SSEClient(bob.http, f"{server.url}/api/nests/{code_a}/events")
    try:
        queue, playing = ws_a.initial_state()
        assert queue["nest"] == code_a and queue["data"]["queue"] == []
        assert playing["data"]["paused"] is False and "now" in playing["data"]
        ws_b.initial_state()
        sse_a.wait_for("now_playing")  # its initial state is through; what follows is live

        uri = offline_track_uris(1)[0]
        ws_a.send("add_song", {"track_uri": uri}, ref="add-1")
        ack = ws_a.reply("add-1")
        assert ack["event"] == "ack" and ack["data"]["uri"] == uri

        update = ws_a.wait_for(_has_uri(uri))
        assert update["nest"] == code_a and update["v"] > queue["v"]
        assert update["data"]["version"] >= update["v"]
        sse_update = sse_a.wait_for("queue_update", lambda e: any(
            item["uri"] == uri for item in e["data"]["queue"]))
        assert int(sse_update["id"]) == update["v"]
        assert sse_update["data"]["queue"] == update["data"]["queue"]

        # The other nest's socket is idle; a round trip on it proves it got nothing for A.
        ws_b.send("ping", ref="b-ping")
        assert ws_b.reply("b-ping")["event"] == "ack"
        assert all(frame.get("nest") == code_b for frame in ws_b.frames)
        assert not any(_has_uri(uri)(frame) for frame in ws_b.frames)
    finally:
        ws_a.close()
        ws_b.close()
        sse_a.close()


def test_every_frame_is_answered_once_and_bad_frames_keep_the_socket_open(server, r):
    alice = Guest(server.url, "Alice")
    ws = WSClient(server.ws_url, "/socket", alice.cookie)
    try:
        ws.initial_state()
        ws.ws.send("{not json")
        assert ws.reply(None)["data"]["error"] == "invalid_request"
        ws.ws.send(json.dumps([1, 2, 3]))
        assert ws.reply(None)["data"]["error"] == "invalid_request"
        ws.ws.send_binary(b"\x00\x01")
        assert ws.reply(None)["data"]["error"] == "invalid_request"

        ws.send("no_such_action", ref="u1")
        ws.send("vote", {"id": 5, "up": "yes"}, ref="v1")
        ws.send("ping", [1, 2], ref="a1")
        ws.send("add_song", {"track_uri": "<script>alert(1)</script>"}, ref="x1")
        ws.send("ping", ref="x" * 5000)
        ws.send("ping", ref="p1")
        for ref in ("u1", "v1", "a1", "x1"):
            error = ws.reply(ref)
            assert error["event"] == "error", error
            assert error["data"]["error"] == "invalid_request" and error["data"]["message"]
        too_long = ws.reply(None)
        assert too_long["event"] == "error" and "ref" in too_long["data"]["message"]
        pong = ws.reply("p1")
        assert pong["event"] == "ack" and pong["data"]["pong"] is True

        replies = [f for f in ws.frames if f.get("event") in ("ack", "error")]
        refs = [f["ref"] for f in replies if f["ref"] is not None]
        assert sorted(refs) == sorted({"u1", "v1", "a1", "x1", "p1"})
        assert len(replies) == 9  # 9 frames sent, 9 answers: nothing dropped, nothing doubled
    finally:
        ws.close()


def test_anonymous_and_unknown_nests_are_refused_before_the_upgrade(server, r):
    for path in ("/socket", "/socket/ABCDE"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            WSClient(server.ws_url, path)
        assert refused.value.status_code == 401
        assert json.loads(refused.value.resp_body)["error"] == "unauthorized"

    alice = Guest(server.url, "Alice")
    for code in ("ZZZZZ", "no-such-vanity", "%3Cscript%3E"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            WSClient(server.ws_url, f"/socket/{code}", alice.cookie)
        assert refused.value.status_code == 404
        assert json.loads(refused.value.resp_body)["error"] == "not_found"


def _member_count(guest, code):
    return guest.get(f"/api/nests/{code}").json()["member_count"]


def test_member_count_follows_connections_and_counts_each_user_once(server, r):
    alice, bob, carol = (Guest(server.url, n) for n in ("Alice", "Bob", "Carol"))
    code = alice.create_nest("Counting Nest")
    first = WSClient(server.ws_url, f"/socket/{code}", alice.cookie)
    try:
        assert first.event("member_update")["data"]["count"] == 1

        second_tab = WSClient(server.ws_url, f"/socket/{code}", alice.cookie)
        second_tab.initial_state()
        assert _member_count(alice, code) == 1

        bobs = WSClient(server.ws_url, f"/socket/{code}", bob.cookie)
        assert first.event("member_update")["data"]["count"] == 2
        bobs.close()
        assert first.event("member_update")["data"]["count"] == 1

        second_tab.close()  # Alice still has a tab open: she stays
        carols = WSClient(server.ws_url, f"/socket/{code}", carol.cookie)
        assert first.event("member_update")["data"]["count"] == 2
        assert [f["data"]["count"] for f in first.frames
                if f["event"] == "member_update"] == [1, 2, 1, 2]

        carols.drop()  # no close frame, just a dead TCP connection
        assert first.event("member_update")["data"]["count"] == 1
        assert _member_count(alice, code) == 1
    finally:
        first.close()
    assert eventually(lambda: _member_count(alice, code) == 0)


def test_one_redis_subscription_per_process_however_many_listeners(server, r):
    alice, bob = Guest(server.url, "Alice"), Guest(server.url, "Bob")
    code = alice.create_nest("Busy Nest")
    channel = keys.pubsub_channel(code)

    def subscribers():
        return dict(r.pubsub_numsub(channel))[channel]

    sockets = [WSClient(server.ws_url, f"/socket/{code}", g.cookie) for g in (alice, bob)]
    sse = SSEClient(alice.http, f"{server.url}/api/nests/{code}/events")
    try:
        for ws in sockets:
            ws.initial_state()
        sse.wait_for("now_playing")
        assert subscribers() == 1
    finally:
        for ws in sockets:
            ws.close()
        sse.close()
    assert eventually(lambda: subscribers() == 0)


def test_deleting_a_nest_tells_its_sockets_and_closes_them(server, r):
    alice = Guest(server.url, "Alice")
    code = alice.create_nest("Short-lived Nest")
    ws = WSClient(server.ws_url, f"/socket/{code}", alice.cookie)
    try:
        ws.initial_state()
        resp = alice.http.delete(f"{server.url}/api/nests/{code}", json={}, timeout=10)
        assert resp.status_code == 200, resp.text
        assert ws.event("nest_deleted")["nest"] == code
        assert ws.close_code() == 4404
    finally:
        ws.close()


def test_fanout_builds_each_payload_once_and_hands_every_listener_the_same_frame(r):
    from db import DB
    from echonest.catalog import get_catalog
    from echonest.web.fanout import SSE, WS, Fanout, Listener, NestReader

    builds = []

    def counting_db(nest_id):
        builds.append(nest_id)
        return DB(nest_id=nest_id, init_history_to_redis=False, redis_client=r)

    fan = Fanout(r, NestReader(counting_db), position_seconds=3600)
    listeners = [Listener("main", WS), Listener("main", WS), Listener("main", SSE)]
    try:
        for listener in listeners:
            fan.add(listener)
        channel = keys.pubsub_channel("main")
        assert eventually(lambda: dict(r.pubsub_numsub(channel))[channel] == 1)

        track = get_catalog(None, r).lookup(offline_track_uris(1)[0])
        builds.clear()
        DB("main", init_history_to_redis=False, redis_client=r).add_song(track, "guest:x")
        frames = [listener.next_frame(timeout=10) for listener in listeners]
        assert frames[0] is frames[1]  # one serialization, shared by every WebSocket
        assert json.loads(frames[0])["data"]["queue"][0]["uri"] == track.uri
        assert frames[2].startswith("event: queue_update\nid: ")
        assert builds == ["main"]  # one queue rebuild for three listeners
    finally:
        for listener in listeners:
            fan.remove(listener)
        fan.stop()


def test_a_song_starting_refreshes_the_queue_listeners_see(r):
    from datetime import UTC, datetime

    from db import DB
    from echonest.catalog import get_catalog
    from echonest.web.fanout import WS, Fanout, Listener, NestReader

    db = DB("main", init_history_to_redis=False, redis_client=r)
    track = get_catalog(None, r).lookup(offline_track_uris(1)[0])
    db.add_song(track, "guest:x")
    fan = Fanout(r, NestReader(lambda n: DB(n, init_history_to_redis=False, redis_client=r)),
                 position_seconds=3600)
    listener = Listener("main", WS)
    try:
        fan.add(listener)
        channel = keys.pubsub_channel("main")
        assert eventually(lambda: dict(r.pubsub_numsub(channel))[channel] == 1)
        db.advance(datetime.now(UTC))
        first = json.loads(listener.next_frame(timeout=10))
        second = json.loads(listener.next_frame(timeout=10))
        assert first["event"] == "now_playing" and first["data"]["uri"] == track.uri
        assert second["event"] == "queue_update" and second["data"]["queue"] == []
        assert second["v"] == first["v"]
    finally:
        fan.remove(listener)
        fan.stop()


def test_sockets_survive_a_redis_restart_and_get_a_fresh_snapshot(tmp_path):
    import redis as redis_lib

    from db import DB
    from echonest.engine import EmbeddedEngine

    engine = EmbeddedEngine(tmp_path, persist=False).start()
    try:
        with web_server(engine.url) as srv:
            alice = Guest(srv.url, "Alice")
            ws = WSClient(srv.ws_url, "/socket", alice.cookie)
            try:
                ws.initial_state()
                engine.stop()
                engine = EmbeddedEngine(tmp_path, port=engine.port, persist=False).start()
                # Whatever was published during the outage is lost: the socket is resynced.
                assert ws.event("queue_update")["data"]["queue"] == []
                client = redis_lib.Redis.from_url(engine.url, decode_responses=True)
                DB("main", init_history_to_redis=False, redis_client=client).set_volume(33)
                assert ws.event("volume")["data"] == {"volume": 33}
                client.close()
            finally:
                ws.close()
    finally:
        engine.stop()


def test_an_open_socket_keeps_its_member_live_past_the_ttl(server, r):
    alice = Guest(server.url, "Alice")
    code = alice.create_nest("Heartbeat Nest")
    ws = WSClient(server.ws_url, f"/socket/{code}", alice.cookie)
    try:
        ws.initial_state()
        time.sleep(5)  # longer than MEMBER_TTL_SECONDS: only heartbeats keep Alice counted
        assert _member_count(alice, code) == 1
        assert r.ttl(keys.member_key(code, r.smembers(keys.members_key(code)).pop())) > 0
    finally:
        ws.close()


def test_stopping_the_server_closes_sockets_and_leaves_the_nest(redis_url, r):
    from nests import NestManager

    with web_server(redis_url) as srv:
        alice = Guest(srv.url, "Alice")
        code = alice.create_nest("Closing Nest")
        ws = WSClient(srv.ws_url, f"/socket/{code}", alice.cookie)
        ws.initial_state()
        assert NestManager(r).member_count(code) == 1
        srv.proc.send_signal(signal.SIGTERM)
        assert ws.close_code() == 1001  # going away: reconnect elsewhere
        assert srv.proc.wait(15) == 0
    assert NestManager(r).member_count(code) == 0


def test_a_listener_that_falls_too_far_behind_is_cut_off_not_buffered_forever():
    from echonest.web.fanout import CLOSE, WS, Listener

    listener = Listener("main", WS, maxsize=4)
    for n in range(10):
        listener.deliver(f"frame {n}")
    assert listener.overflowed and listener.reason == "overflow"
    assert listener.next_frame(timeout=1) is CLOSE  # closed at once, stale frames dropped
