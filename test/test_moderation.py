"""Hosts and moderation against a real server: kick/ban with two tabs, invite-only, host links,
co-hosts, hand-over, ending a nest, and guest controls over the WebSocket."""

from __future__ import annotations

import json

import pytest
import websocket
from servers import Guest, WSClient, eventually, offline_track_uris, web_server

from db import DB

OPERATOR = "operator-token-for-the-moderation-tests"


@pytest.fixture(scope="module")
def server(redis_url):
    conf = {"MEMBER_HEARTBEAT_SECONDS": 0.5, "MEMBER_TTL_SECONDS": 3,
            "ECHONEST_API_TOKEN": OPERATOR}
    with web_server(redis_url, conf=conf) as srv:
        yield srv


def member_id(host: Guest, code: str, name: str) -> str:
    members = host.get(f"/api/nests/{code}/members").json()["members"]
    return next(m["id"] for m in members if m["name"] == name)


def ids_of(server, host: Guest, code: str, *guests: tuple[Guest, str]) -> list[str]:
    """Each (guest, name)'s user id, read from the member list while they are connected."""
    sockets = [connect(server, guest, code) for guest, _ in guests]
    try:
        names = {m["name"]: m["id"] for m in host.get(f"/api/nests/{code}/members").json()[
            "members"]}
    finally:
        for ws in sockets:
            ws.close()
    return [names[name] for _, name in guests]


def connect(server, guest: Guest, code: str) -> WSClient:
    ws = WSClient(server.ws_url, f"/socket/{code}", guest.cookie)
    ws.initial_state()
    return ws


def refused_upgrade(server, guest: Guest, code: str) -> tuple[int, dict]:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        WSClient(server.ws_url, f"/socket/{code}", guest.cookie)
    return refused.value.status_code, json.loads(refused.value.resp_body)


def settle(host: Guest, code: str, **settings) -> dict:
    response = host.http.patch(f"{host.base_url}/api/nests/{code}",
                               json={"settings": settings}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


# --- kick and ban ------------------------------------------------------------------------------
def test_a_kick_closes_both_tabs_and_keeps_them_out_until_unbanned(server, r):
    alice, bob, carol = (Guest(server.url, n) for n in ("Alice", "Bob", "Carol"))
    code = alice.create_nest("Kick Nest")
    tab1, tab2 = connect(server, bob, code), connect(server, bob, code)
    watcher = connect(server, carol, code)
    try:
        bob_id = member_id(alice, code, "Bob")
        assert bob.post_json(f"/api/nests/{code}/admin/kick", {"user": member_id(
            alice, code, "Carol")}).status_code == 403  # guests cannot kick
        kicked = alice.post_json(f"/api/nests/{code}/admin/kick", {"user": bob_id, "minutes": 5})
        assert kicked.status_code == 200 and kicked.json()["ban"] is False
        for tab in (tab1, tab2):
            assert tab.event("member_kicked")["data"]["user"] == bob_id
            assert tab.close_code() == 4403
        assert watcher.event("member_kicked")["data"]["user"] == bob_id
        watcher.send("ping", ref="still-here")
        assert watcher.reply("still-here")["event"] == "ack"  # others stay connected

        status, body = refused_upgrade(server, bob, code)
        assert status == 403 and body["error"] == "kicked" and "5 min" in body["message"]
        page = bob.get(f"/api/nests/{code}")
        assert page.status_code == 403 and page.json()["until"] > 0
        assert bob.post_json(f"/api/nests/{code}/songs", {"track_uri": offline_track_uris(1)[0]}
                             ).status_code == 403
        admin = alice.get(f"/api/nests/{code}/admin/members").json()
        assert [b["user"] for b in admin["blocked"]] == [bob_id]
        assert eventually(lambda: alice.get(f"/api/nests/{code}").json()["member_count"] == 1)

        assert alice.post_json(f"/api/nests/{code}/admin/unban", {"user": bob_id}
                               ).status_code == 200
        connect(server, bob, code).close()
    finally:
        for ws in (tab1, tab2, watcher):
            ws.close()


def test_a_ban_has_no_end_and_hosts_cannot_be_kicked(server, r):
    alice, bob, dave = (Guest(server.url, n) for n in ("Alice", "Bob", "Dave"))
    code = alice.create_nest("Ban Nest")
    bob_id, dave_id = ids_of(server, alice, code, (bob, "Bob"), (dave, "Dave"))
    assert alice.post_json(f"/api/nests/{code}/admin/ban", {"user": bob_id}).json()["ban"]
    status, body = refused_upgrade(server, bob, code)
    assert status == 403 and body["error"] == "banned"
    assert bob.get(f"/nest/{code}").status_code == 403

    assert alice.post_json(f"/api/nests/{code}/admin/promote", {"user": dave_id}
                           ).status_code == 200
    refused = alice.post_json(f"/api/nests/{code}/admin/kick", {"user": dave_id})
    assert refused.status_code == 403 and "demote" in refused.json()["message"]
    for bad in ({}, {"user": 5}, {"user": ""}, {"user": "x" * 500}):
        assert alice.post_json(f"/api/nests/{code}/admin/kick", bad).status_code == 400
    assert alice.post_json(f"/api/nests/{code}/admin/kick",
                           {"user": dave_id + "x", "minutes": 0}).status_code == 400


# --- hosts -------------------------------------------------------------------------------------
def test_co_hosts_hand_over_and_the_creator_stays_until_handing_over(server, r):
    alice, bob, carol = (Guest(server.url, n) for n in ("Alice", "Bob", "Carol"))
    code = alice.create_nest("Host Nest")
    alice_id = alice.get(f"/api/nests/{code}").json()["created_by"]
    bob_id, carol_id = ids_of(server, alice, code, (bob, "Bob"), (carol, "Carol"))
    assert bob.post_json(f"/api/nests/{code}/admin/promote", {"user": bob_id}).status_code == 403
    assert alice.post_json(f"/api/nests/{code}/admin/promote", {"user": bob_id}
                           ).status_code == 200
    assert alice.get(f"/api/nests/{code}").json()["hosts"] == [alice_id, bob_id]
    # a co-host may promote and demote others, but not remove the creator nor hand over
    assert bob.post_json(f"/api/nests/{code}/admin/promote", {"user": carol_id}
                         ).status_code == 200
    assert bob.post_json(f"/api/nests/{code}/admin/demote", {"user": alice_id}
                         ).status_code == 403
    assert bob.post_json(f"/api/nests/{code}/admin/handover", {"user": bob_id}
                         ).status_code == 403
    assert bob.post_json(f"/api/nests/{code}/admin/demote", {"user": carol_id}
                         ).status_code == 200
    assert alice.post_json(f"/api/nests/{code}/admin/handover", {"user": bob_id}
                           ).status_code == 200
    nest = alice.get(f"/api/nests/{code}").json()
    assert nest["created_by"] == bob_id and nest["hosts"] == [bob_id, alice_id]
    members = alice.get(f"/api/nests/{code}/members").json()["members"]
    assert {m["id"]: m["is_creator"] for m in members if m["is_host"]} == {
        bob_id: True, alice_id: False}


def test_a_host_link_makes_whoever_opens_it_a_host_until_revoked(server, r):
    alice, bob, carol = (Guest(server.url, n) for n in ("Alice", "Bob", "Carol"))
    code = alice.create_nest("Link Nest")
    assert bob.get(f"/api/nests/{code}/admin/host-link").status_code == 403
    url = alice.get(f"/api/nests/{code}/admin/host-link").json()["url"]
    assert url == alice.get(f"/api/nests/{code}/admin/host-link").json()["url"]  # stable
    assert "?host=" in url and url.startswith(server.url)
    assert "host=" not in bob.get(f"/api/nests/{code}").text  # never shown to guests
    opened = bob.http.get(url, timeout=10)
    assert opened.status_code == 200
    bob_id, = ids_of(server, alice, code, (bob, "Bob"))
    assert bob_id in alice.get(f"/api/nests/{code}").json()["hosts"]

    rotated = bob.http.post(f"{server.url}/api/nests/{code}/admin/host-link", json={},
                            timeout=10).json()["url"]
    assert rotated != url
    stale = carol.http.get(url, timeout=10)
    assert stale.status_code == 403
    assert carol.http.get(rotated, timeout=10).status_code == 200


def test_ending_a_nest_closes_every_page(server, r):
    alice, bob = Guest(server.url, "Alice"), Guest(server.url, "Bob")
    code = alice.create_nest("Ending Nest")
    ws = connect(server, bob, code)
    try:
        assert bob.http.delete(f"{server.url}/api/nests/{code}", json={}, timeout=10
                               ).status_code == 403
        assert alice.http.delete(f"{server.url}/api/nests/{code}", json={}, timeout=10
                                 ).status_code == 200
        assert ws.event("nest_deleted")["nest"] == code
        assert ws.close_code() == 4404
        assert bob.get(f"/api/nests/{code}").status_code == 404
    finally:
        ws.close()


# --- private nests -----------------------------------------------------------------------------
def test_invite_only_with_and_without_an_invite(server, r):
    alice, bob, carol, dave = (Guest(server.url, n) for n in ("Alice", "Bob", "Carol", "Dave"))
    code = alice.create_nest("Secret Nest")
    assert settle(alice, code, visibility="invite_only")["settings"]["visibility"] == "invite_only"
    for path in (f"/api/nests/{code}", f"/api/nests/{code}/queue", f"/nest/{code}", f"/{code}"):
        response = bob.get(path, allow_redirects=False)
        assert response.status_code == 403, path
    assert bob.get(f"/api/nests/{code}").json()["error"] == "invite_required"
    status, body = refused_upgrade(server, bob, code)
    assert status == 403 and body["error"] == "invite_required"
    assert code not in [n["code"] for n in bob.get("/api/nests").json()["nests"]]
    assert code in [n["code"] for n in alice.get("/api/nests").json()["nests"]]

    assert bob.post_json(f"/api/nests/{code}/admin/invites").status_code == 403
    invite = alice.post_json(f"/api/nests/{code}/admin/invites").json()
    assert invite["url"] == f"{server.url}/nest/{code}?invite={invite['token']}"
    assert bob.http.get(invite["url"], timeout=10).status_code == 200
    assert bob.get(f"/api/nests/{code}").status_code == 200  # admitted from now on
    connect(server, bob, code).close()
    short = carol.get(f"/{code}?invite={invite['token']}", allow_redirects=False)
    assert short.status_code == 302 and "invite=" in short.headers["Location"]

    listed = alice.get(f"/api/nests/{code}/admin/invites").json()["invites"]
    assert [i["token"] for i in listed] == [invite["token"]]
    revoked = alice.http.delete(f"{server.url}/api/nests/{code}/admin/invites/{invite['token']}",
                                json={}, timeout=10)
    assert revoked.status_code == 200
    assert dave.http.get(invite["url"], timeout=10).status_code == 403
    assert dave.get(f"/api/nests/{code}?invite=forged").status_code == 403
    assert bob.get(f"/api/nests/{code}").status_code == 200  # already in stays in


def test_unlisted_is_joinable_by_code_but_not_in_the_list(server, r):
    alice, bob = Guest(server.url, "Alice"), Guest(server.url, "Bob")
    code = alice.create_nest("Quiet Nest")
    patched = alice.http.patch(f"{server.url}/api/nests/{code}", json={"invite_only": True},
                               timeout=10)
    assert patched.json()["settings"]["visibility"] == "invite_only"
    settle(alice, code, visibility="unlisted")
    assert code not in [n["code"] for n in bob.get("/api/nests").json()["nests"]]
    assert bob.get(f"/api/nests/{code}").status_code == 200
    connect(server, bob, code).close()


# --- guest controls over the WebSocket --------------------------------------------------------
def test_socket_actions_follow_the_settings(server, r):
    alice, bob = Guest(server.url, "Alice"), Guest(server.url, "Bob")
    code = alice.create_nest("Socket Rules")
    host, guest = connect(server, alice, code), connect(server, bob, code)
    try:
        uris = offline_track_uris(5)
        guest.send("add_song", {"track_uri": uris[0]}, ref="add")
        assert guest.reply("add")["event"] == "ack"
        DB(code, redis_client=r).advance()
        settle(alice, code, skip_mode="hosts", pause_mode="hosts", max_per_person=1)
        assert guest.event("nest_update")["data"]["settings"]["skip_mode"] == "hosts"
        for action in ("kill_playing", "pause"):
            guest.send(action, ref=action)
            error = guest.reply(action)
            assert error["event"] == "error" and error["data"]["error"] == "forbidden"
            assert error["data"]["setting"] in ("skip_mode", "pause_mode")
        guest.send("add_song", {"track_uri": uris[1]}, ref="second")
        guest.send("add_song", {"track_uri": uris[2]}, ref="third")
        assert guest.reply("second")["event"] == "ack"
        assert guest.reply("third")["data"]["error"] == "per_person_limit"
        host.send("pause", ref="host-pause")
        assert host.reply("host-pause")["event"] == "ack"
        host.send("kill_playing", ref="host-skip")
        assert host.reply("host-skip")["data"] == {"skipped": True}
    finally:
        host.close()
        guest.close()


def test_co_hosts_and_the_operator_token_over_the_socket(server, r):
    alice, bob, dave = (Guest(server.url, n) for n in ("Alice", "Bob", "Dave"))
    code = alice.create_nest("Socket Hosts")
    bob_id, dave_id = ids_of(server, alice, code, (bob, "Bob"), (dave, "Dave"))
    assert alice.post_json(f"/api/nests/{code}/admin/promote", {"user": dave_id}
                           ).status_code == 200
    settle(alice, code, skip_mode="hosts", volume_mode="hosts")
    for uri in offline_track_uris(2):
        assert alice.post_json(f"/api/nests/{code}/songs", {"track_uri": uri}).status_code == 200
    DB(code, redis_client=r).advance()
    guest, cohost = connect(server, bob, code), connect(server, dave, code)
    operator = websocket.create_connection(
        f"{server.ws_url}/socket/{code}", header=[f"Authorization: Bearer {OPERATOR}"],
        timeout=10)
    try:
        guest.send("change_volume", {"volume": 10}, ref="g")
        assert guest.reply("g")["data"]["setting"] == "volume_mode"
        cohost.send("change_volume", {"volume": 20}, ref="c")
        assert cohost.reply("c")["event"] == "ack"
        operator.send(json.dumps({"action": "kill_playing", "args": {}, "ref": "op"}))
        while True:
            frame = json.loads(operator.recv())
            if frame.get("ref") == "op":
                break
        assert frame["event"] == "ack" and frame["data"] == {"skipped": True}
        assert bob_id not in alice.get(f"/api/nests/{code}").json()["hosts"]
    finally:
        guest.close()
        cohost.close()
        operator.close()
