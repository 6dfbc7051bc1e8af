"""The player side of DB: advance by score, exact pause/resume, skip, airhorns, due_nests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from db_helpers import Events, conf, register, snapshot, track

import db as db_module
from db import DB, due_nests
from echonest.errors import EchoNestError, RateLimited

T0 = 1_800_000_000.0  # an arbitrary fixed "now" (2027-01-15)


@pytest.fixture
def db(r):
    return DB(redis_client=r)


def iso(ts):
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def test_idle_now_playing(db):
    assert db.now_playing(now=T0) == {"paused": False, "now": iso(T0)}
    assert db.advance(T0) is None and db.version() == 0  # nothing to do is not a change


def test_advance_pops_lowest_score_and_sets_times(db):
    first = db.add_song(track("a", 180), "A")["id"]
    db.add_song(track("b", 90), "B")
    db.add_song(track("c", 60), "C")
    db.vote(db.queue_items()[2]["id"], "A", True)  # c jumps over b
    assert db.advance(T0) is None  # nothing finished yet, a starts
    playing = db.now_playing(now=T0 + 30)
    assert playing["id"] == first and playing["paused"] is False
    assert (playing["starttime"], playing["endtime"], playing["pos"]) == (
        iso(T0), iso(T0 + 180), 30.0)
    assert [i["title"] for i in db.queue_items()] == ["Song c", "Song b"]
    assert db.advance(T0 + 179.9) is None and db.now_playing(now=T0 + 179.9)["id"] == first
    finished = db.advance(T0 + 185)
    assert finished["uri"] == "local:track:a" and finished["user"] == "A"
    assert (finished["started"], finished["ended"], finished["auto"]) == (
        iso(T0), iso(T0 + 180), False)
    playing = db.now_playing(now=T0 + 185)
    assert playing["title"] == "Song c" and playing["endtime"] == iso(T0 + 245)
    assert db.get_item(first) is None  # the finished song's keys are gone


def test_accepts_datetime_now(db):
    db.add_song(track("a", 100), "A")
    start = datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)
    db.advance(start)
    assert db.now_playing(now=datetime(2027, 1, 1, 12, 0, 10))["pos"] == 10.0  # naive = UTC


def test_pause_and_resume_freeze_position_exactly(db):
    db.add_song(track("a", 200), "A")
    db.add_song(track("b", 200), "B")
    db.advance(T0)
    db.pause("B", now=T0 + 42.5)
    for later in (T0 + 43, T0 + 500, T0 + 10_000):
        state = db.now_playing(now=later)
        assert state["paused"] is True and state["pos"] == 42.5
    assert db.advance(T0 + 10_000) is None  # a paused song never ends
    version = db.version()
    db.pause("C", now=T0 + 10_001)  # already paused: no change
    assert db.version() == version
    db.resume("A", now=T0 + 1000)
    state = db.now_playing(now=T0 + 1010)
    assert (state["paused"], state["pos"]) == (False, 52.5)
    assert state["starttime"] == iso(T0 + 1000 - 42.5) and state["endtime"] == iso(
        T0 + 1000 - 42.5 + 200)
    assert db.advance(T0 + 1157) is None
    assert db.advance(T0 + 1158)["title"] == "Song a"


def test_skip_is_visible_at_once_and_ends_song_on_next_advance(db):
    db.add_song(track("a"), "A")
    db.add_song(track("b"), "B")
    db.advance(T0)
    db.pause("A", now=T0 + 5)
    db.skip("someone")
    assert db.now_playing(now=T0 + 6) == {"paused": False, "now": iso(T0 + 6)}
    assert due_nests(db.redis, ["main"], T0 + 6) == ["main"]
    finished = db.advance(T0 + 6)
    assert finished["title"] == "Song a" and finished["ended"] == iso(T0 + 6)
    state = db.now_playing(now=T0 + 7)
    assert state["title"] == "Song b" and state["paused"] is False and state["pos"] == 1.0
    db.advance(T0 + 500)  # b ends; queue empty
    version = db.version()
    db.skip("someone")  # nothing playing: no-op
    assert db.version() == version


def test_concurrent_advance_pops_once(r, db):
    for name in "abcd":
        db.add_song(track(name, 10), "A" + name)
    db.advance(T0)
    results, barrier = [], threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(DB(redis_client=r).advance(T0 + 11))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [f["title"] for f in results if f] == ["Song a"]
    assert db.now_playing(now=T0 + 11)["title"] == "Song b" and db.queue_size() == 2


def test_due_nests(r, monkeypatch):
    for nest_id in ("IDLE1", "QUEUED", "PLAYS", "OVER", "PAUSED", "SKIPS"):
        register(r, nest_id)
    nests = {nest_id: DB(nest_id=nest_id, redis_client=r)
             for nest_id in ("QUEUED", "PLAYS", "OVER", "PAUSED", "SKIPS")}
    for nest_id, nest_db in nests.items():
        nest_db.add_song(track("x", 10 if nest_id == "OVER" else 100), "A")
    for nest_id in ("PLAYS", "OVER", "PAUSED", "SKIPS"):
        nests[nest_id].advance(T0)
    nests["PAUSED"].pause("A", now=T0 + 1)
    nests["SKIPS"].skip("A")
    ids = ["IDLE1", "QUEUED", "PLAYS", "OVER", "PAUSED", "SKIPS", "NEVERSEEN"]
    assert due_nests(r, ids, T0 + 9) == ["QUEUED", "SKIPS"]
    assert due_nests(r, ids, T0 + 10) == ["QUEUED", "OVER", "SKIPS"]
    assert due_nests(r, ids, T0 + 1000) == ["QUEUED", "PLAYS", "OVER", "SKIPS"]
    monkeypatch.setattr(db_module, "DUE_BATCH", 2)  # many nests go in several script calls
    assert due_nests(r, ids, T0 + 1000) == ["QUEUED", "PLAYS", "OVER", "SKIPS"]
    assert due_nests(r, [], T0) == []


def test_airhorn_policy(r, db):
    events = Events(r, "main")
    db.set_volume(70)
    with conf(AIRHORN_MAX=2, AIRHORN_EXPIRE_SEC=600):
        with pytest.raises(EchoNestError) as exc:
            db.airhorn("A", "no-such-horn", now=T0)
        assert (exc.value.code, exc.value.status) == ("invalid_request", 400)
        assert db.airhorn("A", "classic", now=T0) == {"name": "classic", "volume": 70,
                                                       "free": False}
        db.airhorn("A", "tada", now=T0 + 100)
        before = snapshot(r)
        with pytest.raises(RateLimited) as limited:
            db.airhorn("A", "classic", now=T0 + 200)
        assert limited.value.retry_after == 400 and limited.value.to_dict()["retry_after"] == 400
        assert snapshot(r) == before
        db.airhorn("B", "classic", now=T0 + 200)  # the limit is per user
        r.set("NEST:main|FREEHORN_A", 1)
        assert db.airhorn("A", "laser", now=T0 + 300)["free"] is True
        assert r.get("NEST:main|FREEHORN_A") == "0"
        with pytest.raises(RateLimited):
            db.airhorn("A", "laser", now=T0 + 301)
        # the first horn expired; the free one never counted against the limit
        assert db.airhorn("A", "laser", now=T0 + 601)["free"] is False
        with pytest.raises(RateLimited) as limited:
            db.airhorn("A", "laser", now=T0 + 602)
        assert limited.value.retry_after == 98  # when the T0+100 horn leaves the window
    published = [e for e in events.drain() if e["event"] == "airhorn"]
    assert [e["data"] for e in published] == [
        {"name": name, "volume": 70, "user": user}
        for name, user in (("classic", "A"), ("tada", "A"), ("classic", "B"), ("laser", "A"),
                           ("laser", "A"))]
    events.close()


def test_recent_airhorns_expire_but_keep_a_minimum(db):
    with conf(AIRHORN_MAX=100, AIRHORN_EXPIRE_SEC=600, AIRHORN_LIST_MIN_LEN=3,
              AIRHORN_EXPIRE_COUNT=6):
        for i in range(5):
            db.airhorn(f"u{i}", "classic", now=T0 + i)
        recent = db.recent_airhorns(now=T0 + 10)
        assert [h["user"] for h in recent] == ["u4", "u3", "u2", "u1", "u0"]
        assert recent[0] == {"name": "classic", "user": "u4", "time": iso(T0 + 4)}
        assert [h["user"] for h in db.recent_airhorns(now=T0 + 5000)] == ["u4", "u3", "u2"]
        for i in range(5, 10):
            db.airhorn(f"u{i}", "tada", now=T0 + i)
        assert len(db.recent_airhorns(now=T0 + 10)) == 6  # trimmed to AIRHORN_EXPIRE_COUNT
        db.airhorn("late", "tada", now=T0 + 5000)
        assert db.redis.llen("NEST:main|AIRHORNS") == 3  # expired ones dropped to the minimum
