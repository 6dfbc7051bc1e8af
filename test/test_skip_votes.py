"""Skip by vote: thresholds, live counts, members joining and leaving mid-vote."""

from __future__ import annotations

import pytest
from servers import Guest, WSClient, offline_track_uris, web_server

from db import DB
from echonest import keys, skip_votes
from echonest.catalog.track import Track

HOST = "host@x.io"


def track(n: int) -> Track:
    return Track(uri=f"local:track:t{n}", title=f"Song {n}", artists=("Band",), duration=200)


@pytest.fixture
def playing(mgr, r):
    """A nest whose host set skip-by-vote (half the room, at least 2) with a song playing."""
    code = mgr.create_nest(HOST)["code"]
    settings = {"skip_mode": "vote", "skip_vote_fraction": 0.5, "skip_vote_min": 2}
    from echonest.moderation import change_settings
    from echonest.nest_value import Nest

    class Host:
        id, kind, is_admin = HOST, "google", False

    change_settings(r, Nest.from_meta(code, mgr.get_nest(code)), Host(), settings)
    db = DB(code, redis_client=r)
    db.add_song(track(1), HOST)
    db.add_song(track(2), HOST)
    db.advance()
    return code, db


def join(mgr, r, code, *people):
    for person in people:
        mgr.join_nest(code, person)
    return skip_votes.recount(r, code)


def leave(mgr, r, code, *people):
    for person in people:
        mgr.leave_nest(code, person)
    return skip_votes.recount(r, code)


def test_the_threshold_is_a_share_of_live_listeners_with_a_minimum(mgr, r, playing):
    code, db = playing
    join(mgr, r, code, *(f"p{i}@x.io" for i in range(5)))
    assert skip_votes.ask_to_skip(r, code, "p0@x.io") == {"skipped": False, "count": 1,
                                                          "needed": 3}
    assert db.now_playing()["skip_votes"] == {"count": 1, "needed": 3}
    # asking twice counts once
    assert skip_votes.ask_to_skip(r, code, "p0@x.io")["count"] == 1
    assert skip_votes.ask_to_skip(r, code, "p1@x.io")["count"] == 2
    first = db.now_playing()["id"]
    assert skip_votes.ask_to_skip(r, code, "p2@x.io") == {"skipped": True, "count": 3,
                                                          "needed": 3}
    assert "id" not in db.now_playing()  # skipped: idle until the player moves on
    db.advance()
    after = db.now_playing()
    assert after["id"] != first and after["skip_votes"] is None


def test_a_lone_listener_can_still_skip_and_the_minimum_holds_in_a_pair(mgr, r, playing):
    code, _ = playing
    join(mgr, r, code, "solo@x.io")
    assert skip_votes.ask_to_skip(r, code, "solo@x.io")["skipped"] is True
    DB(code, redis_client=r).advance()
    join(mgr, r, code, "pal@x.io")
    assert skip_votes.ask_to_skip(r, code, "solo@x.io") == {"skipped": False, "count": 1,
                                                            "needed": 2}


def test_leaving_takes_the_ask_along_and_a_smaller_room_can_pass_the_vote(mgr, r, playing):
    code, db = playing
    people = [f"p{i}@x.io" for i in range(6)]
    join(mgr, r, code, *people)
    for person in people[:2]:
        skip_votes.ask_to_skip(r, code, person)
    assert db.now_playing()["skip_votes"] == {"count": 2, "needed": 3}
    assert leave(mgr, r, code, "p0@x.io") == {"skipped": False, "count": 1, "needed": 3}
    skip_votes.ask_to_skip(r, code, "p2@x.io")
    assert db.now_playing()["skip_votes"] == {"count": 2, "needed": 3}
    # two who did not ask go home: 3 left, 2 of them asked → half the room is enough
    assert leave(mgr, r, code, "p4@x.io", "p5@x.io") == {"skipped": True, "count": 2,
                                                          "needed": 2}


def test_joining_raises_the_bar(mgr, r, playing):
    code, db = playing
    join(mgr, r, code, "a@x.io", "b@x.io", "c@x.io")
    skip_votes.ask_to_skip(r, code, "a@x.io")
    assert db.now_playing()["skip_votes"] == {"count": 1, "needed": 2}
    assert join(mgr, r, code, *(f"n{i}@x.io" for i in range(5))) == {
        "skipped": False, "count": 1, "needed": 4}
    assert db.now_playing()["skip_votes"] == {"count": 1, "needed": 4}


def test_a_recount_with_no_open_vote_changes_nothing(mgr, r, playing):
    code, db = playing
    version = db.version()
    assert join(mgr, r, code, "a@x.io")["count"] == 0
    assert not r.exists(keys.nest_key(code, keys.SKIP_VOTES))
    assert db.version() == version + 1  # the join itself, not the recount


def test_votes_belong_to_the_song_they_were_cast_on(mgr, r, playing):
    code, db = playing
    join(mgr, r, code, "a@x.io", "b@x.io", "c@x.io", "d@x.io")
    skip_votes.ask_to_skip(r, code, "a@x.io")
    db.skip(HOST)
    db.advance()
    assert db.now_playing()["skip_votes"] is None
    assert skip_votes.ask_to_skip(r, code, "b@x.io") == {"skipped": False, "count": 1,
                                                         "needed": 2}


# --- through real sockets: the page's path ----------------------------------------------------
@pytest.fixture(scope="module")
def server(redis_url):
    with web_server(redis_url, conf={"MEMBER_HEARTBEAT_SECONDS": 0.5,
                                     "MEMBER_TTL_SECONDS": 3}) as srv:
        yield srv


def test_members_leaving_mid_vote_over_websockets(server, r):
    people = [Guest(server.url, name) for name in ("Host", "Ann", "Ben", "Cat", "Dan")]
    host = people[0]
    code = host.create_nest("Vote Nest")
    response = host.http.patch(f"{server.url}/api/nests/{code}", json={"settings": {
        "skip_mode": "vote", "skip_vote_fraction": 0.6, "skip_vote_min": 2}}, timeout=10)
    assert response.status_code == 200
    for uri in offline_track_uris(2):
        assert host.post_json(f"/api/nests/{code}/songs", {"track_uri": uri}).status_code == 200
    db = DB(code, redis_client=r)
    db.advance()
    sockets = [WSClient(server.ws_url, f"/socket/{code}", p.cookie) for p in people]
    try:
        for ws in sockets:
            ws.initial_state()
        host_ws, ann, ben, cat, dan = sockets
        ann.send("kill_playing", ref="ann")
        assert ann.reply("ann")["data"] == {"skipped": False, "count": 1, "needed": 3,
                                            "voted": True}
        seen = host_ws.wait_for(lambda f: f["event"] == "now_playing"
                                and (f["data"].get("skip_votes") or {}).get("count") == 1)
        assert seen["data"]["skip_votes"] == {"count": 1, "needed": 3}  # "1 of 3 want to skip"
        ben.send("kill_playing", ref="ben")
        assert ben.reply("ben")["data"]["count"] == 2
        # Two who did not ask leave: 3 listeners, 60% → 2 asks needed, and 2 were made.
        cat.close()
        dan.close()
        host_ws.wait_for(lambda f: f["event"] == "now_playing" and "id" not in f["data"])
        assert r.get(keys.nest_key(code, keys.SKIP)) is not None
    finally:
        for ws in sockets:
            ws.close()
