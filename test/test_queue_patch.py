"""Queue patches: a listener that asked for them gets what changed, and ends up with the queue.

A vote on a long queue used to send every listener the whole queue again; a socket opened with
``?patches=1`` gets a ``queue_patch`` (echonest/queue_patch.py) once it holds a whole body. The
client rebuilds the exact body the server would have sent (static/js/queuepatch.js does the same
in the page; test_browser_requests.py shows the page doing it).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import Guest, WSClient, offline_track_uris, web_server

from db import DB
from echonest import events, queue_patch
from echonest.catalog import get_catalog
from echonest.web.fanout import WS, Fanout, Listener, NestReader


# --- the patch itself ------------------------------------------------------------------------
def _item(n: int, vote: int = 0, title: str = "") -> dict:
    return {"id": f"s{n}", "title": title or f"Song {n}", "vote": vote, "jam": [], "votes": {}}


@st.composite
def _bodies(draw):
    """A body and a next body after any mix of adds, removals, moves and item changes."""
    size = draw(st.integers(0, 30))
    old = [_item(n) for n in range(size)]
    new = [dict(item) for item in old]
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["add", "remove", "move", "vote", "title"]))
        if op == "add":
            new.insert(draw(st.integers(0, len(new))), _item(100 + draw(st.integers(0, 50))))
        elif new and op == "remove":
            new.pop(draw(st.integers(0, len(new) - 1)))
        elif new and op == "move":
            item = new.pop(draw(st.integers(0, len(new) - 1)))
            new.insert(draw(st.integers(0, len(new))), item)
        elif new:
            i = draw(st.integers(0, len(new) - 1))
            new[i] = {**new[i], "vote": new[i]["vote"] + 1} if op == "vote" else \
                {**new[i], "title": "<b>renamed</b>"}
    seen, unique = set(), []
    for item in new:  # ids are unique in a real queue
        if item["id"] not in seen:
            seen.add(item["id"])
            unique.append(item)
    users = {"guest:a": {"name": "A"}}
    return ({"queue": old, "preview": None, "version": 7, "now": "t1", "users": users},
            {"queue": unique, "preview": draw(st.sampled_from([None, _item(999)])),
             "version": 9, "now": "t2",
             "users": draw(st.sampled_from([users, {**users, "guest:b": {"name": "B"}}]))})


@settings(max_examples=300, deadline=None)
@given(_bodies())
def test_a_patch_rebuilds_exactly_the_next_body(bodies):
    old, new = bodies
    patch = queue_patch.diff(old, new)
    if patch is None:  # only when most items changed: a whole body is then no bigger
        assert sum(1 for item in new["queue"] if item not in old["queue"]) * 2 \
            > len(new["queue"]) + 1
        return
    assert queue_patch.apply(old, patch) == new
    assert queue_patch.apply({**old, "version": 8}, patch) is None  # not its base


def test_a_vote_on_a_long_queue_is_a_small_patch():
    old = {"queue": [_item(n) for n in range(300)], "preview": None, "version": 1, "now": "a",
           "users": {}}
    queue = list(old["queue"])
    moved = {**queue.pop(250), "vote": 3}
    queue.insert(0, moved)
    new = {**old, "queue": queue, "version": 2, "now": "b"}
    patch = queue_patch.diff(old, new)
    assert patch["items"] == [moved]
    assert patch["order"] == [[250, 251], [0, 250], [251, 300]]
    assert len(events.dumps(patch)) * 20 < len(events.dumps(new))
    assert queue_patch.apply(old, patch) == new


# --- the fan-out: who gets a patch -----------------------------------------------------------
def _fan(r):
    reader = NestReader(lambda n: DB(n, init_history_to_redis=False, redis_client=r))
    return Fanout(r, reader, position_seconds=3600)


def _listen(fan, patches, nest_id="main"):
    listener = Listener(nest_id, WS, patches=patches)
    fan._listeners.setdefault(nest_id, set()).add(listener)
    return listener


def _drain(listener):
    out = []
    while (frame := listener.next_frame(timeout=0)) is not None:
        out.append(json.loads(frame))
    return out


def _without_now(body):
    return {k: v for k, v in body.items() if k != "now"}


def test_patch_listeners_get_patches_after_one_whole_queue_others_whole_queues(r):
    db = DB("main", init_history_to_redis=False, redis_client=r)
    catalog = get_catalog(None, r)
    ids = [db.add_song(catalog.lookup(uri), f"guest:{n % 3}")["id"]
           for n, uri in enumerate(offline_track_uris(12))]
    fan = _fan(r)
    patching, whole = _listen(fan, True), _listen(fan, False)

    def change(write):
        write()
        fan.dispatch(events.dumps(events.envelope(events.QUEUE_UPDATE, "main", db.version())))

    change(lambda: db.vote(ids[5], "guest:x", True))
    held = _drain(patching)
    assert [f["event"] for f in held] == ["queue_update"]  # nothing known yet: whole
    body = held[0]["data"]
    for write in (lambda: db.vote(ids[9], "guest:y", True),
                  lambda: db.remove(ids[2], "guest:2", is_admin=True),
                  lambda: db.add_song(catalog.lookup(offline_track_uris(13)[-1]), "guest:z")):
        change(write)
        frames = _drain(patching)
        assert [f["event"] for f in frames] == ["queue_patch"]
        assert frames[0]["v"] == frames[0]["data"]["version"] == db.version()
        body = queue_patch.apply(body, frames[0]["data"])
        assert _without_now(body) == _without_now(db.queue_body())
    assert {f["event"] for f in _drain(whole)} == {"queue_update"}


def test_a_listener_with_a_queue_frame_still_waiting_gets_a_whole_body(r):
    """A waiting queue frame may yet be replaced by a newer one, so nothing may build on it."""
    db = DB("main", init_history_to_redis=False, redis_client=r)
    catalog = get_catalog(None, r)
    ids = [db.add_song(catalog.lookup(uri), "guest:a")["id"] for uri in offline_track_uris(6)]
    fan = _fan(r)
    listener = _listen(fan, True)
    for n in range(3):  # nobody reads in between: each replaces the one waiting
        db.vote(ids[n], "guest:v", True)
        fan.dispatch(events.dumps(events.envelope(events.QUEUE_UPDATE, "main", db.version())))
    frames = _drain(listener)
    assert [f["event"] for f in frames] == ["queue_update"]
    assert _without_now(frames[0]["data"]) == _without_now(db.queue_body())
    db.vote(ids[4], "guest:v", True)
    fan.dispatch(events.dumps(events.envelope(events.QUEUE_UPDATE, "main", db.version())))
    patch = _drain(listener)[0]
    assert patch["event"] == "queue_patch" and patch["data"]["base"] == frames[0]["data"][
        "version"]


# --- a real socket ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(redis_url):
    with web_server(redis_url, conf={"USE_BENDER": False}) as srv:
        yield srv


def test_a_patching_socket_ends_up_with_the_queue_everyone_sees(server, r):
    alice, bob = Guest(server.url, "Alice"), Guest(server.url, "Bob")
    code = alice.create_nest("Patch Party")
    uris = offline_track_uris(24)
    for uri in uris[:20]:
        assert alice.post_json(f"/api/nests/{code}/songs", {"track_uri": uri}).status_code == 200
    ws = WSClient(server.ws_url, f"/socket/{code}?patches=1", bob.cookie)
    plain = WSClient(server.ws_url, f"/socket/{code}", bob.cookie)
    try:
        queue, _ = ws.initial_state()
        plain.initial_state()
        body = queue["data"]
        ids = [item["id"] for item in body["queue"]]
        writes = [(bob, "vote", {"id": ids[17], "up": True}),
                  (bob, "vote", {"id": ids[3], "up": False}),
                  (alice, "remove", {"id": ids[0]}),
                  (bob, "comments", {"id": ids[5], "text": "tune <3"}),
                  (bob, "jam", {"id": ids[8]}), (bob, "songs", {"track_uri": uris[20]})]
        sizes = {"queue_patch": [], "queue_update": []}
        for who, suffix, args in writes:
            assert who.post_json(f"/api/nests/{code}/{suffix}", args).status_code == 200
            want = bob.get(f"/api/nests/{code}/queue").json()
            while body["version"] < want["version"]:
                frame = ws.wait_for(lambda f: f["event"] in ("queue_patch", "queue_update"))
                sizes[frame["event"]].append(len(json.dumps(frame)))
                body = (queue_patch.apply(body, frame["data"]) if frame["event"] == "queue_patch"
                        else frame["data"])
                assert body is not None
            assert _without_now(body) == _without_now(want)
            whole = plain.wait_for(lambda f, v=want["version"]: f["event"] == "queue_update"
                                   and f["data"]["version"] >= v)
            sizes["queue_update"].append(len(json.dumps(whole)))
        assert len(sizes["queue_patch"]) >= len(writes) - 1  # the first may be whole
        assert max(sizes["queue_patch"]) * 4 < min(sizes["queue_update"])
    finally:
        ws.close()
        plain.close()
