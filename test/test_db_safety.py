"""DB writes are versioned, published once, nest-isolated, race-free and refuse bad input."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from db_helpers import Events, register, snapshot, track

from db import BENDER_USER, DB
from echonest import keys
from echonest.errors import EchoNestError, NestGone

T0 = 1_800_000_000.0


def busy(db):
    """Give a nest some of everything: queue, playing song, votes, jams, comments, horns."""
    a = db.add_song(track("a"), "A")["id"]
    b = db.add_song(track("b"), "B")["id"]
    db.add_song(track("c"), BENDER_USER, auto=True)
    db.advance(T0)
    db.vote(b, "A", True)
    db.jam(a, "B")
    db.add_comment(b, "A", "nice", now=T0)
    db.airhorn("A", "classic", now=T0)
    db.set_volume(30)
    db.set_preview(track("p"))
    return a, b


def every_write(db):
    """(name, action, event) for each kind of write, in an order where each one changes state."""
    ids = {}
    return [
        ("add", lambda: ids.update(x=db.add_song(track("x"), "A")["id"],
                                   y=db.add_song(track("y"), "B")["id"]), None),
        ("vote", lambda: db.vote(ids["y"], "A", True), "queue_update"),
        ("jam", lambda: db.jam(ids["x"], "B"), "queue_update"),
        ("comment", lambda: db.add_comment(ids["x"], "B", "hi"), "queue_update"),
        ("remove", lambda: db.remove(ids["x"], "A"), "queue_update"),
        ("advance", lambda: db.advance(T0), "now_playing"),
        ("pause", lambda: db.pause("A", now=T0 + 1), "now_playing"),
        ("resume", lambda: db.resume("A", now=T0 + 2), "now_playing"),
        ("skip", lambda: db.skip("A"), "now_playing"),
        ("advance-after-skip", lambda: db.advance(T0 + 3), "now_playing"),
        ("clear", lambda: (db.add_song(track("z"), "A"), db.clear("owner@x.io")), None),
        ("volume", lambda: db.set_volume(80), "volume"),
        ("airhorn", lambda: db.airhorn("A", "tada", now=T0), "airhorn"),
        ("filter", lambda: db.filter_uri("local:track:q"), "queue_update"),
        ("preview", lambda: db.set_preview(track("q")), "queue_update"),
    ]


def test_every_write_bumps_version_and_publishes_one_event(r):
    register(r, "ABCDE", created_by="owner@x.io")
    db = DB(nest_id="ABCDE", redis_client=r)
    events = Events(r, "ABCDE")
    for name, action, event in every_write(db):
        before = db.version()
        action()
        published = events.drain()
        if event is None:  # compound steps: one version and one event per write inside
            assert len(published) == db.version() - before >= 2, name
            continue
        assert db.version() == before + 1, name
        assert [(e["event"], e["nest"], e["v"]) for e in published] == [
            (event, "ABCDE", before + 1)], name
    events.close()


def test_actions_in_one_nest_leave_other_nests_byte_identical(r):
    register(r, "AAAAA", created_by="owner@x.io")
    register(r, "BBBBB")
    busy(DB(nest_id="BBBBB", redis_client=r))
    busy(DB(redis_client=r))
    others = snapshot(r, "NEST:BBBBB|*") | snapshot(r, "NEST:main|*")
    nest = DB(nest_id="AAAAA", redis_client=r)
    busy(nest)
    for _, action, _ in every_write(nest):
        action()
    assert snapshot(r, "NEST:BBBBB|*") | snapshot(r, "NEST:main|*") == others
    assert r.keys("NEST:AAAAA|*")


def test_deleted_nest_refuses_writes_and_recreates_nothing(r):
    register(r, "GONE1", created_by="owner@x.io")
    db = DB(nest_id="GONE1", redis_client=r)
    item = db.add_song(track("a"), "A")["id"]
    r.hdel(keys.NESTS_REGISTRY, "GONE1")
    r.delete(*r.keys("NEST:GONE1|*"))
    attempts = [
        lambda: db.add_song(track("b"), "A"), lambda: db.vote(item, "B", True),
        lambda: db.jam(item, "B"), lambda: db.add_comment(item, "B", "x"),
        lambda: db.remove(item, "A"), lambda: db.clear("owner@x.io"), lambda: db.skip("A"),
        lambda: db.pause("A"), lambda: db.resume("A"), lambda: db.set_volume(3),
        lambda: db.airhorn("A", "classic"), lambda: db.filter_uri("local:track:a"),
        lambda: db.set_preview(track("c")), lambda: db.advance(T0),
    ]
    for attempt in attempts:
        with pytest.raises(NestGone):
            attempt()
    assert r.keys("NEST:GONE1|*") == []
    assert db.queue_items() == [] and db.now_playing(now=T0)["paused"] is False


def test_nest_being_deleted_refuses_writes(r):
    register(r, "DYING")
    db = DB(nest_id="DYING", redis_client=r)
    db.add_song(track("a"), "A")
    r.set(keys.nest_deleting("DYING"), "1")
    before = snapshot(r)
    with pytest.raises(NestGone):
        db.add_song(track("b"), "A")
    assert snapshot(r) == before


def test_concurrent_adds_never_lose_or_duplicate(r):
    barrier = threading.Barrier(8)
    errors = []

    def adder(worker):
        db = DB(redis_client=r)
        barrier.wait()
        for n in range(15):
            try:
                db.add_song(track(f"w{worker}-{n}"), f"user{worker % 4}")
            except EchoNestError as exc:  # pragma: no cover - would fail the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=adder, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = DB(redis_client=r).queue_items()
    assert errors == []
    assert len(items) == 120 and len({i["id"] for i in items}) == 120
    assert {i["uri"] for i in items} == {f"local:track:w{w}-{n}" for w in range(8)
                                         for n in range(15)}
    rounds, seen = [], {}
    for item in items:  # fairness holds under contention: rounds never decrease
        seen[item["user"]] = seen.get(item["user"], 0) + 1
        rounds.append(seen[item["user"]])
    assert rounds == sorted(rounds)


HUGE = "x" * 10_000


def bad_calls(db, item):
    yield lambda: db.add_song("local:track:zzz", "A")
    yield lambda: db.add_song(None, "A")
    for user in (None, 5, ["a"], "", "   ", HUGE, "a\x00b"):
        yield lambda user=user: db.add_song(track("new"), user)
        yield lambda user=user: db.vote(item, user, True)
        yield lambda user=user: db.airhorn(user, "classic")
    for bad_track in (replace(track("n"), uri=""), replace(track("n"), uri="a b"),
                      replace(track("n"), uri=HUGE), replace(track("n"), title=None),
                      replace(track("n"), title=HUGE), replace(track("n"), duration=0),
                      replace(track("n"), duration=float("nan")),
                      replace(track("n"), duration="200"), replace(track("n"), artists=[1])):
        yield lambda bad_track=bad_track: db.add_song(bad_track, "A")
    yield lambda: db.add_song(track("n"), "A", auto="yes")
    for bad_id in (None, ["1"], 1.5, "", "0", "-1", "1; DEL x", HUGE, "99999", True):
        yield lambda bad_id=bad_id: db.vote(bad_id, "B", True)
        yield lambda bad_id=bad_id: db.jam(bad_id, "B")
        yield lambda bad_id=bad_id: db.remove(bad_id, "A")
        yield lambda bad_id=bad_id: db.add_comment(bad_id, "B", "hi")
    yield lambda: db.vote(item, "B", "up")
    yield lambda: db.vote(item, "B", None)
    for name in (None, 3, "", HUGE, "CLASSIC", "../etc/passwd"):
        yield lambda name=name: db.airhorn("A", name)
    for uri in (None, "", HUGE, "a\nb"):
        yield lambda uri=uri: db.filter_uri(uri)
    yield lambda: db.set_preview("local:track:p")
    yield lambda: db.pause("A", now="yesterday")
    yield lambda: db.remove(item, "stranger")
    yield lambda: db.clear("stranger")


def test_bad_input_is_refused_and_changes_nothing(r):
    db = DB(redis_client=r)
    _, item = busy(db)
    before = snapshot(r)
    calls = list(bad_calls(db, item))
    for call in calls:
        with pytest.raises(EchoNestError):
            call()
    assert snapshot(r) == before
    assert len(calls) > 80
    assert db.get_item(None) is None and db.get_item("nope") is None
