"""People by name: names recorded at sign-in, `users` maps in queue/playing, voters per item,
airhorns with names (events and GET …/airhorns), over the real app, Redis and fan-out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests
from fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeOIDC
from servers import eventually
from web_support import (
    ALICE,
    BOB,
    create_nest,
    guest_sign_in,
    make_app,
    some_uris,
    user_client,
)

from echonest import keys, user_names


@pytest.fixture
def app(r):
    return make_app(r, USE_BENDER=False)


@pytest.fixture
def alice(app):
    return user_client(app, ALICE, name="Alice Liddell")


def guest(app, name):
    client = app.test_client()
    assert guest_sign_in(client, name).status_code == 302
    with client.session_transaction() as sess:
        return client, sess["user"]["id"]


def post(client, path, body=None):
    response = client.post(path, json=body or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def get(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_guest_is_seen_by_name_as_adder_jammer_and_commenter(app, bob):
    gus, gus_id = guest(app, "  Gus   the Guest ")
    code = create_nest(bob, "Names")["code"]
    first, second = some_uris(app, 2)
    song = post(gus, f"/api/nests/{code}/songs", {"track_uri": first})
    post(bob, f"/api/nests/{code}/songs", {"track_uri": second})
    post(gus, f"/api/nests/{code}/jam", {"id": song["id"]})
    post(gus, f"/api/nests/{code}/comments", {"id": song["id"], "text": "mine!"})

    body = get(bob, f"/api/nests/{code}/queue")
    assert body["users"][gus_id] == {"name": "Gus the Guest", "avatar_url": ""}
    assert body["users"][BOB] == {"name": "Bob", "avatar_url": ""}
    mine = next(i for i in body["queue"] if i["id"] == song["id"])
    assert mine["user"] == gus_id and mine["jam"] == [gus_id]
    assert mine["comments"][0]["user"] == gus_id


def test_playing_song_carries_names_of_its_adder_jammers_and_commenters(app, r, alice, bob):
    from db import DB

    nest = create_nest(alice, "Playing names")
    code = nest["code"]
    (uri,) = some_uris(app, 1)
    song = post(alice, f"/api/nests/{code}/songs", {"track_uri": uri})
    DB(nest["id"], init_history_to_redis=False, redis_client=r).advance(datetime.now(UTC))
    post(bob, f"/api/nests/{code}/jam", {"id": song["id"]})
    post(bob, f"/api/nests/{code}/comments", {"id": song["id"], "text": "tune"})
    playing = get(bob, f"/api/nests/{code}/playing")
    assert playing["id"] == song["id"]
    assert playing["users"] == {ALICE: {"name": "Alice Liddell", "avatar_url": ""},
                                BOB: {"name": "Bob", "avatar_url": ""}}


def test_bender_songs_and_the_preview_are_bender(app, r, alice):
    from db import DB
    from echonest.catalog import get_catalog

    catalog = get_catalog(None, r)
    first, second = (catalog.lookup(u) for u in some_uris(app, 2))
    db = DB("main", init_history_to_redis=False, redis_client=r)
    db.add_song(first, "bender", auto=True)
    db.set_preview(second)
    body = get(alice, "/api/nests/main/queue")
    assert body["users"] == {"bender": {"name": "Bender", "avatar_url": ""}}
    # The legacy list has no room for a map: each item names its adder instead.
    legacy = get(alice, "/api/queue")["queue"]
    assert isinstance(legacy, list) and [i["user_name"] for i in legacy] == ["Bender", "Bender"]
    assert set(legacy[0]) == set(body["queue"][0]) | {"user_name"}


def test_hostile_names_are_stored_as_short_plain_text(app, r):
    ugly = "\u202eevil\u200b <b>Mallory</b>\x00 " + "x" * 100
    client = user_client(app, "mal@example.com", name=ugly)
    assert client.get("/api/nests").status_code == 200  # an old session records its name
    stored = json.loads(r.hget(keys.USER_NAMES, "mal@example.com"))
    assert stored["name"].startswith("evil <b>Mallory</b> xxx")  # markup kept as text
    assert len(stored["name"]) == user_names.NAME_MAX_LENGTH
    assert "\u202e" not in stored["name"] and "\u200b" not in stored["name"]
    assert user_names.clean_display_name("\u200b \t", "Guest") == "Guest"
    assert user_names.clean_avatar_url("javascript:alert(1)") == ""
    assert user_names.clean_avatar_url('https://x.test/a.png" onerror="x') == ""
    # Even a tampered hash entry is cleaned on the way out.
    r.hset(keys.USER_NAMES, "mal@example.com",
           json.dumps({"name": "\x07" + "y" * 90, "avatar_url": "http://plain.test/a"}))
    assert user_names.lookup(r, ["mal@example.com", "guest:nobody"]) == {
        "mal@example.com": {"name": "y" * 40, "avatar_url": ""},
        "guest:nobody": {"name": "Guest", "avatar_url": ""},
    }
    r.hset(keys.USER_NAMES, "mal@example.com", "not json")
    assert user_names.lookup(r, ["mal@example.com"])["mal@example.com"]["name"] == "mal"


def test_google_sign_in_records_the_name_and_picture(r):
    provider = FakeOIDC().start()
    try:
        provider.user = {"sub": "7", "email": "ana@example.com", "email_verified": True,
                         "name": "Ana Example", "picture": "https://example.com/ana.png"}
        app = make_app(r, GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CLIENT_SECRET=CLIENT_SECRET,
                       GOOGLE_DISCOVERY_URL=provider.discovery_url,
                       ALLOWED_EMAIL_DOMAINS=["example.com"])
        client = app.test_client()
        start = client.get("/login/google")
        reply = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
        back = urlsplit(reply.headers["Location"])
        assert client.get(f"{back.path}?{back.query}").status_code == 302
    finally:
        provider.stop()
    assert user_names.lookup(r, ["ana@example.com"]) == {
        "ana@example.com": {"name": "Ana Example", "avatar_url": "https://example.com/ana.png"}}


def test_my_vote_follows_me_to_another_device(app, alice, bob):
    code = create_nest(alice, "Votes")["code"]
    (uri,) = some_uris(app, 1)
    song = post(bob, f"/api/nests/{code}/songs", {"track_uri": uri})
    answer = post(alice, f"/api/nests/{code}/vote", {"id": song["id"], "up": False})
    assert answer["votes"] == {ALICE: -1}
    phone = user_client(app, ALICE, name="Alice Liddell")  # same person, fresh session
    item = get(phone, f"/api/nests/{code}/queue")["queue"][0]
    assert item["votes"] == {ALICE: -1} and item["vote"] == -1
    post(phone, f"/api/nests/{code}/vote", {"id": song["id"], "up": True})
    item = get(bob, f"/api/nests/{code}/queue")["queue"][0]
    assert item["votes"] == {ALICE: 1} and item["vote"] == 1


def test_recent_airhorns_on_page_load_carry_names(app, alice, bob):
    code = create_nest(alice, "Horns")["code"]
    post(alice, f"/api/nests/{code}/airhorn", {"name": "foghorn"})
    post(bob, f"/api/nests/{code}/airhorn", {"name": "classic"})
    horns = get(bob, f"/api/nests/{code}/airhorns")["airhorns"]
    assert [(h["name"], h["user"], h["user_name"]) for h in horns] == [
        ("classic", BOB, "Bob"), ("foghorn", ALICE, "Alice Liddell")]
    assert all(h["time"] for h in horns)
    assert get(bob, "/api/airhorns") == {"airhorns": []}  # main keeps its own horns
    post(bob, "/blast_airhorn", {"name": "laser"})
    assert [h["user_name"] for h in get(alice, "/api/airhorns")["airhorns"]] == ["Bob"]
    missing = bob.get("/api/nests/ZZZZZ/airhorns")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert app.test_client().get(f"/api/nests/{code}/airhorns").status_code == 401


def test_fanout_names_the_airhorn_and_the_queue_once_for_every_listener(app, r, alice):
    from db import DB
    from echonest.catalog import get_catalog
    from echonest.web.fanout import WS, Fanout, Listener, NestReader

    assert alice.get("/api/nests").status_code == 200  # records Alice's name
    lookups = []

    class CountingReader(NestReader):
        def names(self, nest_id, user_ids):
            lookups.append(list(user_ids))
            return super().names(nest_id, user_ids)

    fan = Fanout(r, CountingReader(lambda n: DB(n, init_history_to_redis=False, redis_client=r)),
                 position_seconds=3600)
    listeners = [Listener("main", WS), Listener("main", WS)]
    try:
        for listener in listeners:
            fan.add(listener)
        channel = keys.pubsub_channel("main")
        assert eventually(lambda: dict(r.pubsub_numsub(channel))[channel] == 1)
        db = DB("main", init_history_to_redis=False, redis_client=r)
        db.airhorn(ALICE, "siren")
        frames = [listener.next_frame(timeout=10) for listener in listeners]
        assert frames[0] is frames[1]
        horn = json.loads(frames[0])
        assert horn["event"] == "airhorn"
        assert horn["data"]["user"] == ALICE and horn["data"]["user_name"] == "Alice Liddell"
        assert lookups == [[ALICE]]  # one lookup for every listener

        track = get_catalog(None, r).lookup(some_uris(app, 1)[0])
        db.add_song(track, ALICE)
        update = json.loads(listeners[0].next_frame(timeout=10))
        assert update["event"] == "queue_update"
        assert update["data"]["users"] == {ALICE: {"name": "Alice Liddell", "avatar_url": ""}}
        assert update["data"]["queue"][0]["votes"] == {}
    finally:
        for listener in listeners:
            fan.remove(listener)
        fan.stop()
