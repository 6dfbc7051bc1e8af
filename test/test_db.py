"""DB queue rules a user notices: key scoping, fair order, votes, jams, comments, remove, clear."""

from __future__ import annotations

import pytest
from db_helpers import Events, conf, register, snapshot, track

from config import CONF
from db import BENDER_USER, DB
from echonest import keys
from echonest.errors import EchoNestError


def titles(db):
    return [item["title"].removeprefix("Song ") for item in db.queue_items()]


def code(exc_info):
    return exc_info.value.code, exc_info.value.status


@pytest.fixture
def db(r):
    return DB(redis_client=r)


@pytest.fixture
def nest(r):
    register(r, "X7K2P", created_by="owner@x.io")
    return DB(nest_id="X7K2P", redis_client=r)


def test_key_prefixing_and_no_io_in_constructor():
    with conf(REDIS_URL=""):
        db = DB(nest_id="X7K2P")  # would raise NoRedisConfigured if it touched Redis
    assert db._key("MISC|now-playing") == "NEST:X7K2P|MISC|now-playing"
    assert DB()._key(keys.PRIORITY_QUEUE) == "NEST:main|MISC|priority-queue"
    assert DB(init_history_to_redis=False).init_history_to_redis is False
    for bad in ("", "a|b", "X7K2P*", None, 5, "x" * 65):
        with pytest.raises(EchoNestError):
            DB(nest_id=bad)


def test_writes_land_under_the_nest_prefix_only(r, nest):
    nest.add_song(track("a"), "u@x.io")
    assert r.keys("*") and all(
        k.startswith("NEST:X7K2P|") or k == keys.NESTS_REGISTRY for k in r.keys("*"))


def test_round_robin_fairness_and_bender_last(db):
    db.add_song(track("bender1"), BENDER_USER, auto=True)
    for user, count in (("A", 3), ("B", 2), ("C", 1)):
        for n in range(1, count + 1):
            db.add_song(track(f"{user}{n}"), user)
    db.add_song(track("bender2"), BENDER_USER, auto=True)
    db.add_song(track("D1"), "D")
    assert titles(db) == ["A1", "B1", "C1", "D1", "A2", "B2", "A3", "bender1", "bender2"]


def test_fair_rounds_count_what_is_still_queued(db):
    for name, user in (("A1", "A"), ("A2", "A"), ("B1", "B"), ("B2", "B")):
        db.add_song(track(name), user)
    assert titles(db) == ["A1", "B1", "A2", "B2"]
    db.advance(now=1000)  # A1 starts playing: A2 is now A's first queued song
    db.add_song(track("C1"), "C")
    db.add_song(track("A3"), "A")
    assert titles(db) == ["B1", "A2", "C1", "B2", "A3"]


def test_added_item_shape(db):
    item = db.add_song(track("a", duration=187.5), "u@x.io")
    assert item == db.get_item(item["id"])
    assert item["id"] == "1" and item["uri"] == item["trackid"] == "local:track:a"
    assert (item["img"], item["big_img"], item["duration"]) == ("small.png", "big.png", 187.5)
    assert (item["user"], item["vote"], item["jam"], item["comments"], item["auto"]) == (
        "u@x.io", 0, [], [], False)
    assert item["added_at"].endswith("+00:00")


def test_duplicate_and_depth_cap(r, db, nest):
    db.add_song(track("a"), "u")
    with pytest.raises(EchoNestError) as exc:
        db.add_song(track("a"), "other", auto=False)
    assert code(exc) == ("already_queued", 409)
    nest.add_song(track("a"), "u")  # another nest's queue is its own
    with conf(NEST_MAX_QUEUE_DEPTH=3):
        for name in ("b", "c"):
            nest.add_song(track(name), "u")
        before = snapshot(r)
        with pytest.raises(EchoNestError) as exc:
            nest.add_song(track("d"), "v", auto=False)
        assert code(exc) == ("queue_full", 409)
        with pytest.raises(EchoNestError):
            nest.add_song(track("e"), BENDER_USER, auto=True)
        assert snapshot(r) == before
        for name in "bcdef":
            db.add_song(track(name), "u")  # main has no cap
    assert db.queue_size() == 6


def test_human_add_filters_uri_for_bender_but_bender_add_does_not(r, db):
    db.add_song(track("human"), "u")
    db.add_song(track("robot"), BENDER_USER, auto=True)
    assert db.is_filtered("local:track:human") and not db.is_filtered("local:track:robot")
    ttl = r.ttl("NEST:main|FILTER|local:track:human")
    assert CONF.BENDER_FILTER_SECONDS - 5 < ttl <= CONF.BENDER_FILTER_SECONDS
    assert db.queued_uris() == {"local:track:human", "local:track:robot"}


def test_vote_rules(db):
    ids = [db.add_song(track(n), u)["id"] for n, u in (("A1", "A"), ("B1", "B"), ("C1", "C"))]
    with pytest.raises(EchoNestError) as exc:
        db.vote(ids[2], "C", True)
    assert code(exc) == ("forbidden", 403)
    assert db.vote(ids[2], "A", True)["vote"] == 1
    assert titles(db) == ["A1", "C1", "B1"]  # exactly one slot up
    version = db.version()
    assert db.vote(ids[2], "A", True)["vote"] == 1  # same direction again: nothing happens
    assert titles(db) == ["A1", "C1", "B1"] and db.version() == version
    assert db.vote(ids[2], "A", False)["vote"] == -1  # opposite replaces, moves one slot down
    assert titles(db) == ["A1", "B1", "C1"]
    assert db.vote(ids[2], "C", False)["vote"] == -2  # own song may be downvoted
    assert titles(db) == ["A1", "B1", "C1"]  # already last: only the count changes
    for unknown in ("999", 999, "abc"):
        with pytest.raises(EchoNestError) as exc:
            db.vote(unknown, "A", True)
        assert code(exc) == ("not_found", 404)


def test_votes_never_cross_the_bender_boundary(db):
    human = db.add_song(track("h"), "A")["id"]
    robot = db.add_song(track("r"), BENDER_USER, auto=True)["id"]
    db.vote(robot, "A", True)
    db.vote(human, "B", False)
    assert titles(db) == ["h", "r"]
    assert (db.get_item(human)["vote"], db.get_item(robot)["vote"]) == (-1, 1)


@pytest.fixture
def two_jams():
    with conf(FREE_AIRHORN=2):
        yield


def test_jam_toggles_and_earns_one_free_airhorn_once(r, db, two_jams):
    item = db.add_song(track("a"), "adder")["id"]
    assert db.jam(item, "x") is True and db.get_item(item)["jam"] == ["x"]
    assert db.jam(item, "x") is False and db.get_item(item)["jam"] == []
    db.jam(item, "x")
    db.jam(item, "y")
    assert r.get("NEST:main|FREEHORN_adder") == "1"
    db.jam(item, "y")
    db.jam(item, "y")
    db.jam(item, "z")
    assert r.get("NEST:main|FREEHORN_adder") == "1"
    with pytest.raises(EchoNestError) as exc:
        db.jam("77", "x")
    assert code(exc) == ("not_found", 404)


def test_jam_and_comment_on_the_playing_song_publish_now_playing(r, db):
    item = db.add_song(track("a"), "adder")["id"]
    db.advance(now=100)
    events = Events(r, "main")
    assert db.jam(item, "fan") is True
    db.add_comment(item, "fan", "great", now=101)
    assert [e["event"] for e in events.drain()] == ["now_playing", "now_playing"]
    playing = db.now_playing(now=110)
    assert playing["jam"] == ["fan"] and playing["comments"][0]["body"] == "great"
    events.close()


def test_comments_keep_text_literally_newest_last(r, db):
    item = db.add_song(track("a"), "adder")["id"]
    first = db.add_comment(item, "u1", "  <script>alert(1)</script> & co\x00\x07 ", now=100)
    assert first == {"user": "u1", "body": "<script>alert(1)</script> & co",
                     "time": "1970-01-01T00:01:40.000+00:00"}
    db.add_comment(item, "u2", "second\nline", now=101)
    assert [c["body"] for c in db.get_item(item)["comments"]] == [
        "<script>alert(1)</script> & co", "second line"]
    before = snapshot(r)
    for bad in ("", "   \n\t", "\x00\x01", "x" * (CONF.COMMENT_MAX_LENGTH + 1), "y" * 10_000,
                None, 5, ["a"]):
        with pytest.raises(EchoNestError) as exc:
            db.add_comment(item, "u1", bad)
        assert code(exc) == ("invalid_request", 400)
    with pytest.raises(EchoNestError) as exc:
        db.add_comment("12345", "u1", "hello")
    assert code(exc) == ("not_found", 404)
    assert snapshot(r) == before
    assert db.add_comment(item, "u1", "z" * CONF.COMMENT_MAX_LENGTH)["body"]


def test_remove_rules(r, db, nest):
    mine = nest.add_song(track("a"), "adder")["id"]
    nest.vote(mine, "v", True)
    nest.jam(mine, "v")
    nest.add_comment(mine, "v", "hi")
    other = nest.add_song(track("b"), "adder")["id"]
    with pytest.raises(EchoNestError) as exc:
        nest.remove(mine, "stranger")
    assert code(exc) == ("forbidden", 403)
    with pytest.raises(EchoNestError):
        nest.remove(mine, "stranger", is_admin=True)  # admins rule main only
    nest.remove(mine, "adder")
    assert r.keys(f"NEST:X7K2P|*{mine}") == []
    nest.remove(other, "owner@x.io")  # the nest's creator
    assert nest.queue_items() == []
    with pytest.raises(EchoNestError) as exc:
        nest.remove(other, "adder")
    assert code(exc) == ("not_found", 404)
    item = db.add_song(track("c"), "adder")["id"]
    db.remove(item, "admin@x.io", is_admin=True)
    assert db.queue_size() == 0


def test_clear_rules(r, nest, db):
    for name in "abc":
        nest.add_song(track(name), "adder")
    nest.advance(now=10)
    with pytest.raises(EchoNestError) as exc:
        nest.clear("adder")
    assert code(exc) == ("forbidden", 403)
    with pytest.raises(EchoNestError):
        nest.clear("admin@x.io", is_admin=True)
    assert nest.clear("owner@x.io") == 2
    assert nest.queue_items() == [] and nest.now_playing(now=11)["title"] == "Song a"
    assert r.keys("NEST:X7K2P|QUEUE|[23]") == []
    db.add_song(track("d"), "adder")
    with pytest.raises(EchoNestError):
        db.clear("adder")
    assert db.clear("admin@x.io", is_admin=True) == 1


def test_volume(db):
    assert db.get_volume() == CONF.DEFAULT_VOLUME
    db.set_volume(0)
    assert db.get_volume() == 0
    for bad in (-1, 101, 50.0, "50", True, None):
        with pytest.raises(EchoNestError):
            db.set_volume(bad)
    assert db.get_volume() == 0


def test_preview_and_filter(r, db):
    events = Events(r, "main")
    db.set_preview(track("next"))
    db.set_preview(track("next"))  # Bender re-setting the same pick wakes nobody
    body = db.queue_body(now=0)
    assert body["preview"]["uri"] == "local:track:next" and body["preview"]["auto"] is True
    assert body["preview"]["user"] == BENDER_USER and body["now"] == "1970-01-01T00:00:00.000+00:00"
    db.filter_uri("local:track:other")
    assert db.queue_body()["preview"] is not None and db.is_filtered("local:track:other")
    db.filter_uri("local:track:next")  # filtering the previewed song drops the preview
    assert db.queue_body()["preview"] is None
    db.set_preview(track("again"))
    db.set_preview(None)
    assert db.queue_body()["preview"] is None
    assert [e["event"] for e in events.drain()] == ["queue_update"] * 5
    events.close()
