"""Guest controls and queue hygiene over HTTP: who may do what, per setting, and why not.

Permission combinations: a member, the host (creator), a co-host, an admin on the Home Nest
and the operator token. Every refusal names the setting that refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nest_support import events_of, subscribe
from web_support import ALICE, BOB, TOKEN, auth, create_nest, make_app, some_uris, user_client

from db import DB
from echonest import history, keys
from echonest.actions import check_track
from echonest.catalog.track import Track
from echonest.errors import Forbidden, SongTooLong
from echonest.nest_value import Nest

CAROL = "carol@example.com"   # ADMIN_EMAILS
DAVE = "dave@example.com"     # promoted to co-host


@pytest.fixture
def app(r):
    return make_app(r, ECHONEST_API_TOKEN=TOKEN, ADMIN_EMAILS=[CAROL])


@pytest.fixture
def uris(app):
    return some_uris(app, 8)


@pytest.fixture
def dave(app):
    return user_client(app, DAVE, name="Dave")


@pytest.fixture
def code(alice, dave):
    code = create_nest(alice, "Rules Nest")["code"]
    assert alice.post(f"/api/nests/{code}/admin/promote", json={"user": DAVE}).status_code == 200
    return code


@pytest.fixture
def operator(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


def settle(client, code, **settings):
    response = client.patch(f"/api/nests/{code}", json={"settings": settings})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def post(client, path, body=None):
    return client.post(path, json={} if body is None else body)


def add(client, code, uri):
    return post(client, f"/api/nests/{code}/songs", {"track_uri": uri})


def refused(response, status, code, setting):
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"] == code and body.get("setting") == setting, body
    assert body["message"]
    return body["message"]


def queue_ids(client, code):
    return [i["id"] for i in client.get(f"/api/nests/{code}/queue").get_json()["queue"]]


# --- settings: who may change them -----------------------------------------------------------
def test_get_carries_every_setting_and_the_hosts(alice, code):
    body = alice.get(f"/api/nests/{code}").get_json()
    assert body["hosts"] == [ALICE, DAVE]
    assert body["settings"]["skip_mode"] == "anyone" and body["settings"]["max_per_person"] == 3
    assert "moderated" not in body and body["share_url"].endswith(f"/{code}")


def test_hosts_change_settings_guests_cannot_and_everyone_hears(r, alice, bob, dave, operator,
                                                                  code):
    pubsub = subscribe(r, code)
    denied = bob.patch(f"/api/nests/{code}", json={"settings": {"skip_mode": "hosts"}})
    assert denied.status_code == 403 and denied.get_json()["error"] == "forbidden"
    assert settle(alice, code, skip_mode="hosts")["settings"]["skip_mode"] == "hosts"
    assert settle(dave, code, pause_mode="hosts")["settings"]["pause_mode"] == "hosts"
    assert settle(operator, code, max_per_person=5)["settings"]["max_per_person"] == 5
    updates = [e for e in events_of(pubsub) if e["event"] == "nest_update"]
    assert [u["data"]["settings"] for u in updates][-1] == {
        "skip_mode": "hosts", "pause_mode": "hosts", "max_per_person": 5}
    pubsub.close()
    settings = bob.get(f"/api/nests/{code}").get_json()["settings"]
    assert (settings["skip_mode"], settings["pause_mode"], settings["max_per_person"]) == (
        "hosts", "hosts", 5)


@pytest.mark.parametrize("body", [{"settings": {"skip_mode": "sometimes"}},
                                  {"settings": {"max_per_person": 5, "bogus": 1}},
                                  {"settings": "skip_mode=hosts"}, {"settings": {}},
                                  {"settings": {"no_repeat_hours": 1e309}},
                                  {"invite_only": "yes"}, {"settings": [["skip_mode", "vote"]]}])
def test_bad_settings_change_nothing(alice, code, body):
    before = alice.get(f"/api/nests/{code}").get_json()["settings"]
    response = alice.patch(f"/api/nests/{code}", json=body)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert alice.get(f"/api/nests/{code}").get_json()["settings"] == before


def test_the_home_nest_is_set_by_admins_and_the_operator(app, alice, operator):
    carol = user_client(app, CAROL, name="Carol")
    assert alice.patch("/api/nests/main", json={"settings": {"skip_mode": "vote"}}
                       ).status_code == 403
    assert settle(carol, "main", skip_mode="vote")["settings"]["skip_mode"] == "vote"
    assert settle(operator, "main", pause_mode="hosts")["settings"]["pause_mode"] == "hosts"
    fixed = carol.patch("/api/nests/main", json={"settings": {"visibility": "unlisted"}})
    assert fixed.status_code == 403
    assert carol.patch("/api/nests/main", json={"name": "Mine"}).status_code == 403
    # and the rules bite on the Home Nest too: a guest may not pause, an admin may
    refused(post(alice, "/api/queue/pause"), 403, "forbidden", "pause_mode")
    assert post(carol, "/api/queue/pause").status_code == 200


# --- guest controls ----------------------------------------------------------------------------
def test_skip_and_pause_modes(alice, bob, dave, operator, code, uris):
    add(alice, code, uris[0])
    DB(code, redis_client=None).advance()
    settle(alice, code, skip_mode="hosts", pause_mode="hosts")
    message = refused(post(bob, f"/api/nests/{code}/skip"), 403, "forbidden", "skip_mode")
    assert "Who may skip the playing song" in message
    refused(post(bob, f"/api/nests/{code}/pause"), 403, "forbidden", "pause_mode")
    refused(post(bob, f"/api/nests/{code}/resume"), 403, "forbidden", "pause_mode")
    for host in (dave, operator, alice):
        assert post(host, f"/api/nests/{code}/pause").status_code == 200
        assert post(host, f"/api/nests/{code}/resume").status_code == 200
    assert post(dave, f"/api/nests/{code}/skip").get_json() == {"skipped": True}


def test_remove_clear_and_volume_modes(alice, bob, dave, code, uris):
    mine = add(alice, code, uris[0]).get_json()
    theirs = add(bob, code, uris[1]).get_json()
    refused(post(bob, f"/api/nests/{code}/remove", {"id": mine["id"]}), 403, "forbidden",
            "remove_mode")
    assert post(dave, f"/api/nests/{code}/remove", {"id": theirs["id"]}).status_code == 200
    settle(alice, code, remove_mode="anyone")
    assert post(bob, f"/api/nests/{code}/remove", {"id": mine["id"]}).status_code == 200

    add(alice, code, uris[2])
    refused(post(bob, f"/api/nests/{code}/clear"), 403, "forbidden", "clear_mode")
    settle(alice, code, clear_mode="anyone")
    assert post(bob, f"/api/nests/{code}/clear").status_code == 200 and not queue_ids(bob, code)

    assert post(bob, f"/api/nests/{code}/volume", {"volume": 30}).status_code == 200
    settle(dave, code, volume_mode="hosts")
    refused(post(bob, f"/api/nests/{code}/volume", {"volume": 90}), 403, "forbidden",
            "volume_mode")
    assert post(dave, f"/api/nests/{code}/volume", {"volume": 70}).status_code == 200


def test_bender_switch_follows_bender_mode(alice, bob, code):
    denied = bob.patch(f"/api/nests/{code}", json={"bender_enabled": False})
    assert denied.status_code == 403 and denied.get_json()["setting"] == "bender_mode"
    settle(alice, code, bender_mode="anyone")
    switched = bob.patch(f"/api/nests/{code}", json={"bender_enabled": False})
    assert switched.status_code == 200 and switched.get_json()["bender_enabled"] is False
    # a guest allowed to switch Bender still may not touch anything else
    assert bob.patch(f"/api/nests/{code}", json={"bender_enabled": True, "settings": {
        "skip_mode": "anyone"}}).status_code == 403
    assert bob.get(f"/api/nests/{code}").get_json()["bender_enabled"] is False


def test_co_hosts_may_rename_guests_may_not(alice, bob, dave, code):
    assert dave.patch(f"/api/nests/{code}", json={"name": "Dave's Now"}).status_code == 200
    assert bob.patch(f"/api/nests/{code}", json={"name": "Bob's"}).status_code == 403
    assert alice.get(f"/api/nests/{code}").get_json()["name"] == "Dave's Now"


# --- queue hygiene -----------------------------------------------------------------------------
def test_adds_closed_for_guests_not_hosts(alice, bob, code, uris):
    settle(alice, code, adds_open=False)
    message = refused(add(bob, code, uris[0]), 403, "adds_closed", "adds_open")
    assert "Guests may add songs" in message
    assert add(alice, code, uris[0]).status_code == 200
    assert len(queue_ids(bob, code)) == 1


def test_per_person_limit(alice, bob, code, uris):
    settle(alice, code, max_per_person=2)
    first = add(bob, code, uris[0]).get_json()
    assert add(bob, code, uris[1]).status_code == 200
    message = refused(add(bob, code, uris[2]), 409, "per_person_limit", "max_per_person")
    assert "2 songs" in message and "Songs one person may have queued" in message
    for uri in uris[3:6]:  # hosts are not limited
        assert add(alice, code, uri).status_code == 200
    assert post(bob, f"/api/nests/{code}/remove", {"id": first["id"]}).status_code == 200
    assert add(bob, code, uris[2]).status_code == 200
    settle(alice, code, max_per_person=0)
    assert add(bob, code, uris[6]).status_code == 200


def test_the_default_cap_is_three_in_a_temporary_nest(bob, code, uris):
    for uri in uris[:3]:
        assert add(bob, code, uri).status_code == 200
    refused(add(bob, code, uris[3]), 409, "per_person_limit", "max_per_person")


def test_song_too_long(alice, bob, code, uris):
    settle(alice, code, max_song_seconds=1)
    message = refused(add(bob, code, uris[0]), 403, "song_too_long", "max_song_seconds")
    assert "Longest song allowed" in message
    settle(alice, code, max_song_seconds=0)
    assert add(bob, code, uris[0]).status_code == 200


def test_recently_played_includes_the_playing_song(r, alice, bob, code, uris):
    settle(alice, code, no_repeat_hours=2)
    add(bob, code, uris[0])
    DB(code, redis_client=r).advance()
    message = refused(add(bob, code, uris[0]), 409, "recently_played", "no_repeat_hours")
    assert "playing right now" in message
    history.record_play(r, code, {"uri": uris[1], "user": BOB, "title": "t", "artist": "a"},
                        datetime.now(UTC))
    message = refused(add(alice, code, uris[1]), 409, "recently_played", "no_repeat_hours")
    assert "last 2 h" in message
    settle(alice, code, no_repeat_hours=0)
    assert add(alice, code, uris[1]).status_code == 200


def test_explicit_songs_follow_allow_explicit():
    class ExplicitTrack:
        duration, explicit = 200.0, True

    nest = Nest.from_meta("ABCDE", {"settings": {"allow_explicit": False,
                                                 "max_song_seconds": 600}})
    with pytest.raises(Forbidden) as refusal:
        check_track(nest, ExplicitTrack())
    assert refusal.value.extra["setting"] == "allow_explicit"
    check_track(Nest.from_meta("ABCDE", {}), ExplicitTrack())  # allowed by default
    check_track(nest, Track(uri="local:track:1", title="t", artists=("a",), duration=200))
    with pytest.raises(SongTooLong):
        check_track(nest, Track(uri="local:track:2", title="t", artists=("a",), duration=601))


def test_a_song_at_the_score_floor_leaves_the_queue(app, alice, bob, dave, code, uris):
    item = add(alice, code, uris[0]).get_json()
    keep = add(alice, code, uris[1]).get_json()
    erin = user_client(app, "erin@example.com")
    for voter in (bob, dave):
        assert post(voter, f"/api/nests/{code}/vote", {"id": item["id"], "up": False}
                    ).get_json()["vote"] < 0
    dropped = post(erin, f"/api/nests/{code}/vote", {"id": item["id"], "up": False})
    assert dropped.status_code == 200 and dropped.get_json()["removed"] is True
    assert "-3" in dropped.get_json()["message"]
    assert queue_ids(alice, code) == [keep["id"]]
    settle(alice, code, downvote_floor=0)  # 0: down-votes never drop a song
    for voter in (bob, dave, erin):
        post(voter, f"/api/nests/{code}/vote", {"id": keep["id"], "up": False})
    assert queue_ids(alice, code) == [keep["id"]]


def test_the_operator_token_is_a_host_everywhere(operator, alice, code, uris):
    settle(alice, code, skip_mode="hosts", adds_open=False)
    response = operator.post(f"/api/nests/{code}/songs", json={"track_uri": uris[0]},
                             headers=auth())
    assert response.status_code == 200
    assert operator.post(f"/api/nests/{code}/skip", headers=auth()).status_code == 200


def test_keys_are_spelled_once():
    assert keys.nest_key("X7K2P", keys.BLOCKED) == "NEST:X7K2P|MOD|blocked"
    assert keys.nest_key("X7K2P", keys.SKIP_VOTERS) == "NEST:X7K2P|MISC|skip-voters"
