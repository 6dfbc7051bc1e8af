"""Incremental queue reads (issue 10): the fan-out's read after a change costs O(change).

Every guarded write records which items' shown content it changed (keys.QUEUE_REVS, written by
echonest/atomic.py); echonest/queue_revs.py rebuilds a queue body from the body it held plus the
entries changed since. What a listener gets must be exactly what a full read would give.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from library_support import (  # noqa: F401 - fixtures
    fresh_indexes,
    library_template,
    own_library,
    track_id_of,
)

from db import DB
from echonest import atomic, keys, queue_revs, user_names
from echonest.catalog.track import Track
from echonest.errors import EchoNestError

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
USERS = ["u0@example.com", "u1@example.com", "guest:g2", user_names.BENDER_ID]


def _track(n: int, duration: float = 200.0) -> Track:
    return Track(uri=f"local:track:s{n}", title=f"Song {n}", artists=(f"Band {n % 3}",),
                 album=f"Album {n % 2}", duration=duration, images=(f"https://i.example/{n}",))


def _without_now(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "now"}


def _db(r, nest_id: str) -> DB:
    return DB(nest_id, init_history_to_redis=False, redis_client=r)


class Built:
    """Counts the items a read builds (queue_revs.item_from_entry, the real function)."""

    def __init__(self, monkeypatch):
        self.count = 0
        real = queue_revs.item_from_entry

        def counting(entry):
            self.count += 1
            return real(entry)

        monkeypatch.setattr(queue_revs, "item_from_entry", counting)


def _commands(r) -> int:
    """Commands the engine ran since the last reset, the script calls and INFO left out."""
    stats = r.info("commandstats")
    skip = {"cmdstat_info", "cmdstat_config", "cmdstat_evalsha", "cmdstat_eval",
            "cmdstat_script", "cmdstat_ping"}
    return sum(int(v["calls"]) for k, v in stats.items() if k not in skip)


# --- every write path, at random, across two nests --------------------------------------------
STEPS = ["add", "bender_add", "vote_up", "vote_down", "vote_drop", "jam", "comment", "remove",
         "clear", "filter", "preview", "unpreview", "advance", "skip", "pause", "resume",
         "airhorn", "volume", "rename", "apply_item"]


def _pick(db: DB, n: int) -> str:
    """A queued id (mostly), the playing id (n = 7), or an id that is nowhere (n = 8)."""
    queue = db.queue_body()["queue"]
    if n == 7:
        return db.redis.hget(db._key(keys.NOW_PLAYING), "id") or "1"
    if n == 8 or not queue:
        return "999"
    return queue[n % len(queue)]["id"]


def _step(r, db: DB, kind: str, who: int, n: int, clock: list) -> None:
    user = USERS[who]
    human = user if user != user_names.BENDER_ID else USERS[0]
    if kind == "add":
        db.add_song(_track(n), human, now=clock[0])
    elif kind == "bender_add":
        db.add_song(_track(20 + n), user_names.BENDER_ID, auto=True, now=clock[0])
    elif kind.startswith("vote"):
        db.vote(_pick(db, n), human, kind == "vote_up", floor=-1 if kind == "vote_drop" else 0)
    elif kind == "jam":
        db.jam(_pick(db, n), human)
    elif kind == "comment":
        db.add_comment(_pick(db, n), human, f"nice <b>{n}</b>", now=clock[0])
    elif kind == "remove":
        db.remove(_pick(db, n), human, allowed=True)
    elif kind == "clear":
        db.clear(human, allowed=True)
    elif kind == "filter":
        db.filter_uri(_track(n).uri)
    elif kind == "preview":
        db.set_preview(_track(40 + n))
    elif kind == "unpreview":
        db.set_preview(None)
    elif kind == "advance":
        clock[0] += timedelta(seconds=150 * (n % 3))
        db.advance(clock[0])
    elif kind == "skip":
        db.skip(human)
        db.advance(clock[0])
    elif kind == "pause":
        db.pause(human, clock[0])
    elif kind == "resume":
        db.resume(human, clock[0])
    elif kind == "airhorn":
        db.airhorn(human, "siren", clock[0])
    elif kind == "volume":
        db.set_volume(10 * n)
    elif kind == "rename":  # a sign-in records a new display name; no nest event follows
        user_names.remember(r, human, f"Name {n}")
    elif kind == "apply_item":  # any guarded write to an item's keys, not only the queue scripts
        atomic.apply(r, db.nest_id, [["HSET", db._key(keys.queue_item(_pick(db, n))),
                                      "title", f"Retitled {n}"]])


@st.composite
def _steps(draw):
    return draw(st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 1),
                                   st.integers(0, 3), st.integers(0, 8)),
                         min_size=1, max_size=30))


@pytest.fixture
def two_nests(r, mgr):
    def make():
        r.flushdb()
        mgr.ensure_main()
        return ["main", mgr.create_nest(USERS[0], name="Revs")["id"]]

    return make


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=_steps())
def test_an_incremental_read_equals_a_full_read_after_any_write(r, two_nests, steps):
    nest_ids = two_nests()
    dbs = [_db(r, n) for n in nest_ids]
    for db in dbs:  # songs queued, one playing, a preview: every step has something to change
        for n in range(4):
            db.add_song(_track(50 + n), USERS[n % 3], now=T0)
        db.advance(T0)
        db.set_preview(_track(60))
    held = {n: queue_revs.queue_body(db) for n, db in zip(nest_ids, dbs, strict=True)}
    clock = [T0]
    reused = 0
    for kind, nest, who, n in steps:
        try:
            _step(r, dbs[nest], kind, who, n, clock)
        except EchoNestError:
            pass  # refused (full, not found, forbidden …): nothing changed, still compared
        for nest_id, db in zip(nest_ids, dbs, strict=True):
            body = queue_revs.queue_body(db, held[nest_id])
            assert _without_now(body) == _without_now(db.queue_body()), (kind, nest_id)
            before = {item["id"]: item for item in held[nest_id]["queue"]}
            reused += sum(before.get(item["id"]) is item for item in body["queue"])
            held[nest_id] = body
    if any(len(body["queue"]) > 1 for body in held.values()):
        assert reused > 0  # the incremental path was taken, not only full reads


def test_each_write_path_is_covered_by_a_known_sequence(r, two_nests, monkeypatch):
    """Every step kind once, on a queue that has songs, a playing song and a preview."""
    nest_ids = two_nests()
    db = _db(r, nest_ids[1])
    clock = [T0]
    for n in range(5):
        db.add_song(_track(n), USERS[n % 3], now=T0)
    db.advance(T0)
    held = queue_revs.queue_body(db)
    built = Built(monkeypatch)
    for kind in STEPS:
        for n in (1, 7):  # a queued song, then the playing one
            try:
                _step(r, db, kind, 1, n, clock)
            except EchoNestError:
                pass
            built.count = 0
            body = queue_revs.queue_body(db, held)
            assert built.count <= 2, kind  # only what the step changed was built
            assert _without_now(body) == _without_now(db.queue_body()), kind
            held = body


# --- cost at 300 songs ------------------------------------------------------------------------
@pytest.mark.parametrize("size", [300, 1000])
def test_one_vote_on_a_long_queue_reads_and_builds_one_item(r, monkeypatch, size):
    db = _db(r, "main")
    ids = [db.add_song(_track(n), USERS[n % 3], now=T0)["id"] for n in range(size)]
    held = queue_revs.queue_body(db)
    db.vote(ids[150], "voter@example.com", True)

    r.config_resetstat()
    full = db.queue_body()
    full_commands = _commands(r)

    built = Built(monkeypatch)
    r.config_resetstat()
    body = queue_revs.queue_body(db, held)
    commands = _commands(r)

    assert _without_now(body) == _without_now(full)
    assert built.count == 1
    assert full_commands >= 4 * size  # four per song, as every read cost before
    assert commands <= 15, commands   # the order, the version, the one changed item, its names
    unchanged = [item for item in body["queue"] if item["id"] != ids[150]]
    assert all(item is old for item, old in zip(
        unchanged, [i for i in held["queue"] if i["id"] != ids[150]], strict=True))


# --- fallbacks --------------------------------------------------------------------------------
def test_data_without_the_revs_set_is_read_in_full_and_right(r, monkeypatch):
    db = _db(r, "main")
    ids = [db.add_song(_track(n), USERS[0], now=T0)["id"] for n in range(6)]
    held = queue_revs.queue_body(db)
    revs = db._key(keys.QUEUE_REVS)
    assert r.zcard(revs) == 8  # six items, the marker and the last version recorded
    # As if written by code from before the set existed: the set is gone, items keep changing.
    r.delete(revs)
    atomic.apply(r, "main", [["HSET", db._key(keys.queue_item(ids[2])), "title", "Changed"]])
    r.delete(revs)
    db.set_volume(5)
    built = Built(monkeypatch)
    body = queue_revs.queue_body(db, held)
    assert built.count == 6  # a full read: nothing vouched for the held body
    assert body["queue"][2]["title"] == "Changed"
    assert _without_now(body) == _without_now(db.queue_body())
    # The next recorded change starts a new marker; reads from then on are incremental again.
    db.vote(ids[4], USERS[1], True)
    body = queue_revs.queue_body(db, body)  # full: the held body predates the new marker
    db.vote(ids[5], USERS[1], True)
    built.count = 0
    nxt = queue_revs.queue_body(db, body)
    assert built.count == 1
    assert _without_now(nxt) == _without_now(db.queue_body())


def test_a_write_by_code_that_does_not_record_forces_a_full_read(r):
    """A rolling upgrade: a process still on older code bumps the version and changes an item
    without recording it; later recorded writes must not hide that change."""
    db = _db(r, "main")
    ids = [db.add_song(_track(n), USERS[0], now=T0)["id"] for n in range(5)]
    held = queue_revs.queue_body(db)
    old_code = "redis.call('INCR', KEYS[1]); redis.call('HSET', KEYS[2], 'title', 'By old code')"
    r.eval(old_code, 2, db._key(keys.VERSION), db._key(keys.queue_item(ids[1])))
    db.vote(ids[3], USERS[1], True)  # recorded, after the unrecorded one
    body = queue_revs.queue_body(db, held)
    assert body["queue"][1]["title"] == "By old code"
    assert _without_now(body) == _without_now(db.queue_body())
    # Read right after the unrecorded write, too (it was the newest version).
    r.eval(old_code.replace("By old code", "Again"), 2, db._key(keys.VERSION),
           db._key(keys.queue_item(ids[2])))
    body = queue_revs.queue_body(db, body)
    assert _without_now(body) == _without_now(db.queue_body())


def test_a_flushed_database_is_never_patched_onto_an_old_body(r, monkeypatch):
    db = _db(r, "main")
    for n in range(4):
        db.add_song(_track(n), USERS[0], now=T0)
    held = queue_revs.queue_body(db)
    r.flushdb()  # same nest, same item ids, other songs, a version that catches up
    for n in range(10, 16):
        db.add_song(_track(n), USERS[1], now=T0)
    assert db.version() > held["version"]
    body = queue_revs.queue_body(db, held)
    assert [item["title"] for item in body["queue"]] == [f"Song {n}" for n in range(10, 16)]
    assert _without_now(body) == _without_now(db.queue_body())


def test_a_version_behind_the_base_is_a_full_read(r):
    db = _db(r, "main")
    for n in range(3):
        db.add_song(_track(n), USERS[0], now=T0)
    held = queue_revs.queue_body(db)
    r.set(db._key(keys.VERSION), 1)  # restored from an older copy
    body = queue_revs.queue_body(db, held)
    assert _without_now(body) == _without_now(db.queue_body())


def test_names_follow_a_rename_without_a_queue_change(r):
    db = _db(r, "main")
    db.add_song(_track(1), USERS[0], now=T0)
    user_names.remember(r, USERS[0], "Before")
    held = queue_revs.queue_body(db)
    user_names.remember(r, USERS[0], "After")
    db.set_volume(20)  # an unrelated change: the next read is incremental with no items
    body = queue_revs.queue_body(db, held)
    assert body["users"][USERS[0]]["name"] == "After"
    assert body["queue"][0] is held["queue"][0]


def test_the_fanout_sends_incrementally_built_bodies(r):
    """Through the fan-out: every frame a listener gets equals a full read at its version."""
    import json

    from echonest import events
    from echonest.web.fanout import WS, Fanout, Listener, NestReader

    db = _db(r, "main")
    ids = [db.add_song(_track(n), USERS[n % 3], now=T0)["id"] for n in range(20)]
    fan = Fanout(r, NestReader(lambda n: _db(r, n)), position_seconds=3600)
    listener = Listener("main", WS)
    fan._listeners.setdefault("main", set()).add(listener)
    for write, kind in ((lambda: db.vote(ids[3], USERS[1], True), events.QUEUE_UPDATE),
                        (lambda: db.add_comment(ids[7], USERS[2], "hey", now=T0),
                         events.QUEUE_UPDATE),
                        (lambda: db.remove(ids[0], USERS[0], allowed=True), events.QUEUE_UPDATE),
                        (lambda: db.advance(T0), events.NOW_PLAYING)):
        write()
        fan.dispatch(events.dumps(events.envelope(kind, "main", db.version())))
        frames = []
        while (frame := listener.next_frame(timeout=0)) is not None:
            frames.append(json.loads(frame))
        queue_frames = [f for f in frames if f["event"] == "queue_update"]
        assert queue_frames, frames
        assert _without_now(queue_frames[-1]["data"]) == _without_now(db.queue_body())


def test_library_changes_re_resolve_audio_urls_of_unchanged_items(r, own_library):  # noqa: F811
    """A rescan that drops a file: its song's audio url goes, as a full read says, although
    no queue write touched it."""
    from echonest.catalog.library import TRACK_PREFIX
    from echonest.catalog.library.index import shared_index
    from echonest.catalog.library.scan import Scanner

    conf, root, files = own_library
    Scanner(r, conf).scan()
    by_uri = shared_index(r).refresh(force=True).by_uri
    names = ("bohemian", "one_more", "joga")
    tracks = [by_uri[TRACK_PREFIX + track_id_of(root, files[name])] for name in names]
    db = _db(r, "main")
    queued = [db.add_song(track, USERS[0], now=T0)["id"] for track in tracks]
    held = queue_revs.queue_body(db)
    assert [item["uri"] for item in held["queue"]] == [t.uri for t in tracks]
    assert all(item["audio_url"] for item in held["queue"])
    files["bohemian"].unlink()
    Scanner(r, conf).scan()
    shared_index(r).refresh(force=True)
    db.vote(queued[2], USERS[1], True)
    body = queue_revs.queue_body(db, held)
    assert _without_now(body) == _without_now(db.queue_body())
    gone = next(item for item in body["queue"] if item["uri"] == tracks[0].uri)
    assert gone["audio_url"] is None


def test_every_script_spells_redis_commands_in_upper_case():
    """The revs watch tells reads from writes by the command's name as written (atomic.py):
    a lower-case name would be taken for a write, or miss keys after the first."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [*root.glob("*.py"), *(root / "echonest").rglob("*.py")]
    calls = re.compile(r"redis\.p?call\(\s*'([^']*)'")
    found = {name for path in sources for name in calls.findall(path.read_text())}
    assert "HSET" in found and "ZADD" in found  # the scan sees the scripts
    assert not [name for name in found if name != name.upper()]


def test_atomic_apply_records_item_writes_whatever_the_case(r):
    db = _db(r, "main")
    item_id = db.add_song(_track(1), USERS[0], now=T0)["id"]
    held = queue_revs.queue_body(db)
    atomic.apply(r, "main", [["hset", db._key(keys.queue_item(item_id)), "title", "Lower"]])
    body = queue_revs.queue_body(db, held)
    assert body["queue"][0]["title"] == "Lower"
    assert _without_now(body) == _without_now(db.queue_body())
