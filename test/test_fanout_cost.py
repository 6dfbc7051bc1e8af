"""The web process's cost per queue event does not grow with the queue (issue 10, item 2).

A queue body is read once per nest version and reused: events whose change a body already
shows cost no read, no serialization and no frame, and joiners reuse the body while the
nest's version has not moved. The player-facing behaviour stays: every listener ends up
holding the newest queue, in one frame.
"""

from __future__ import annotations

import json

from servers import offline_track_uris

from db import DB
from echonest import events
from echonest.catalog import get_catalog
from echonest.web.fanout import WS, Fanout, Listener, NestReader


class CountingReader(NestReader):
    def __init__(self, r):
        super().__init__(lambda n: DB(n, init_history_to_redis=False, redis_client=r))
        self.bodies = 0

    def queue_body(self, nest_id, base=None):
        self.bodies += 1
        return super().queue_body(nest_id, base)


def _fan(r):
    """A fan-out driven by hand (no reader thread): events are handed to dispatch()."""
    reader = CountingReader(r)
    fan = Fanout(r, reader, position_seconds=3600)
    return fan, reader


def _listen(fan, nest_id="main"):
    listener = Listener(nest_id, WS)
    fan._listeners.setdefault(nest_id, set()).add(listener)
    return listener


def _frames(listener):
    out = []
    while (frame := listener.next_frame(timeout=0)) is not None:
        out.append(json.loads(frame))
    return out


def test_a_burst_of_adds_is_one_queue_read_and_one_frame(r):
    db = DB("main", init_history_to_redis=False, redis_client=r)
    catalog = get_catalog(None, r)
    uris = offline_track_uris(40)
    versions = []
    for n, uri in enumerate(uris):  # published while the fan-out was busy elsewhere
        db.add_song(catalog.lookup(uri), f"guest:{n % 7}")
        versions.append(db.version())
    fan, reader = _fan(r)
    listeners = [_listen(fan) for _ in range(3)]
    for v in versions:
        fan.dispatch(events.dumps(events.envelope(events.QUEUE_UPDATE, "main", v)))
    assert reader.bodies == 1
    for listener in listeners:
        frames = _frames(listener)
        assert [f["event"] for f in frames] == ["queue_update"]
        assert len(frames[0]["data"]["queue"]) == 40
        assert frames[0]["v"] == versions[0] and frames[0]["data"]["version"] == versions[-1]
    # The next change is read and sent as usual.
    db.add_song(catalog.lookup(offline_track_uris(41)[-1]), "guest:x")
    fan.dispatch(events.dumps(events.envelope(events.QUEUE_UPDATE, "main", db.version())))
    assert reader.bodies == 2
    assert len(_frames(listeners[0])[0]["data"]["queue"]) == 41


def test_joiners_reuse_the_body_while_the_nest_is_unchanged(r):
    db = DB("main", init_history_to_redis=False, redis_client=r)
    catalog = get_catalog(None, r)
    for n, uri in enumerate(offline_track_uris(30)):
        db.add_song(catalog.lookup(uri), f"guest:{n}")
    fan, reader = _fan(r)
    _listen(fan)
    bodies = [json.loads(fan.initial_frames("main", WS)[0]) for _ in range(100)]
    assert reader.bodies == 1
    assert all(len(b["data"]["queue"]) == 30 for b in bodies)
    db.add_song(catalog.lookup(offline_track_uris(31)[-1]), "guest:new")
    fresh = json.loads(fan.initial_frames("main", WS)[0])
    assert len(fresh["data"]["queue"]) == 31 and reader.bodies == 2


def test_other_events_between_merged_updates_still_arrive_without_a_version_gap(r):
    db = DB("main", init_history_to_redis=False, redis_client=r)
    catalog = get_catalog(None, r)
    uris = offline_track_uris(2)
    db.add_song(catalog.lookup(uris[0]), "guest:a")
    v1 = db.version()
    db.set_volume(30)
    v2 = db.version()
    db.add_song(catalog.lookup(uris[1]), "guest:b")
    v3 = db.version()
    fan, reader = _fan(r)
    listener = _listen(fan)
    fan.dispatch(events.dumps(events.envelope(events.QUEUE_UPDATE, "main", v1)))
    fan.dispatch(events.dumps(events.envelope(events.VOLUME, "main", v2, {"volume": 30})))
    fan.dispatch(events.dumps(events.envelope(events.QUEUE_UPDATE, "main", v3)))
    frames = _frames(listener)
    assert [f["event"] for f in frames] == ["queue_update", "volume"]
    # The page's socket sees v1 (no gap), then adopts the body's version, so v2 is no gap either.
    assert frames[0]["v"] == v1 and frames[0]["data"]["version"] == v3
    assert len(frames[0]["data"]["queue"]) == 2


def test_the_pacer_lets_a_quiet_nests_change_through_and_holds_a_burst_to_its_newest():
    from echonest.web.queue_pacing import QueuePacer

    now = [100.0]
    pacer = QueuePacer(gap=0.005, clock=lambda: now[0])

    def env(v, nest="main"):
        return {"event": "queue_update", "nest": nest, "v": v}

    assert pacer.admit(env(1))                      # quiet nest: read at once
    assert not pacer.admit(env(3)) and not pacer.admit(env(2))  # burst: held, newest kept
    assert pacer.admit(env(7, "other"))             # nests are paced apart
    assert pacer.due() == [] and 0 < pacer.wait(1.0) <= 0.005
    now[0] += 0.005
    assert pacer.due() == [env(3)] and pacer.wait(1.0) == 1.0
    assert not pacer.admit(env(4))
    assert pacer.take("main") == env(4)             # another event of the nest: out first
    assert pacer.take("main") is None


def test_a_burst_is_read_a_few_times_and_everyone_ends_on_the_newest_queue(r):
    """Through the real subscription: 60 votes as fast as Redis takes them cost far fewer queue
    reads than events, the listener ends on the final queue, and an event published mid-burst
    still arrives (the pacer's order is the unit test above)."""
    import time

    db = DB("main", init_history_to_redis=False, redis_client=r)
    catalog = get_catalog(None, r)
    ids = [db.add_song(catalog.lookup(uri), "guest:a")["id"] for uri in offline_track_uris(10)]
    reader = CountingReader(r)
    fan = Fanout(r, reader, position_seconds=3600)
    listener = Listener("main", WS)
    fan.add(listener)
    try:
        before = reader.bodies
        for n in range(60):
            db.vote(ids[n % 10], f"guest:v{n}", True)
            if n == 30:
                db.set_volume(40)
                volume_at = db.version()
        final = db.version()
        frames, deadline = [], time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                f["event"] == "queue_update" and f["data"]["version"] >= final for f in frames):
            frame = listener.next_frame(timeout=0.2)
            if frame is not None:
                frames.append(json.loads(frame))
        assert any(f["event"] == "queue_update" and f["data"]["version"] == final
                   for f in frames)
        assert reader.bodies - before < 30, reader.bodies - before
        assert [f["v"] for f in frames if f["event"] == "volume"] == [volume_at]
    finally:
        fan.stop()
