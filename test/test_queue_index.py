"""The queue's index keeps fair order exact while an add stops costing one command per song.

The add script used to read every queued item to place a song (66 commands at 5 songs, 286 at
50); it now reads one entry per adder from the index (keys.QUEUE_URIS …). These tests replay
random sessions against the original rule, written out plainly here, and count what one add
costs inside Redis at different queue sizes.
"""

from __future__ import annotations

import random
import threading
import time

import redis
from db_helpers import track

from db import DB
from echonest import keys
from echonest.errors import EchoNestError


def expected_position(queue: list[dict], user: str, auto: bool) -> int:
    """The fair-order rule as DB documents it, on the queue as it is now: how many items the
    new one goes after."""
    if auto:
        return len(queue)
    counts, rounds = {}, []
    for item in queue:
        if item["auto"]:
            rounds.append(None)
        else:
            counts[item["user"]] = counts.get(item["user"], 0) + 1
            rounds.append(counts[item["user"]])
    mine = counts.get(user, 0) + 1
    pos = 0
    for i, rnd in enumerate(rounds, start=1):
        if rnd is not None and rnd <= mine:
            pos = i
    return pos


def test_random_sessions_keep_the_fair_order_rule(r):
    rng = random.Random(7)
    db = DB(redis_client=r)
    users = [f"u{n}@x.io" for n in range(6)]
    serial = 0
    for step in range(400):
        queue = db.queue_items()
        roll = rng.random()
        if roll < 0.55 or not queue:
            auto = rng.random() < 0.15
            user = "bender" if auto else rng.choice(users)
            serial += 1
            want = expected_position(queue, user, auto)
            item = db.add_song(track(f"s{serial}"), user, auto=auto)
            ids = [i["id"] for i in db.queue_items()]
            assert ids.index(item["id"]) == want, (step, user, auto)
        elif roll < 0.8:
            item = rng.choice(queue)
            voter = rng.choice([u for u in users if u != item["user"]])
            try:
                db.vote(item["id"], voter, rng.random() < 0.6)
            except EchoNestError:
                pass
        elif roll < 0.9:
            item = rng.choice(queue)
            db.remove(item["id"], item["user"], is_admin=True)
        elif roll < 0.98:
            db.advance(time.time() + step * 1000)  # far enough on that the song is over
        else:
            db.clear("admin@x.io", is_admin=True)
    # The index agrees with the queue it describes.
    queue = db.queue_items()
    uris = r.hgetall(db._key(keys.QUEUE_URIS))
    assert uris == {i["uri"]: i["id"] for i in queue}
    adders = {}
    for i in queue:
        if not i["auto"]:
            adders[i["user"]] = adders.get(i["user"], 0) + 1
    assert {u: int(n) for u, n in r.hgetall(db._key(keys.QUEUE_ADDERS)).items()} == adders
    for user in adders:
        mirror = r.zrange(db._key(keys.queue_by_adder(user)), 0, -1)
        assert mirror == [i["id"] for i in queue if i["user"] == user and not i["auto"]]


def test_a_queue_from_before_the_index_is_indexed_on_the_next_add(r):
    db = DB(redis_client=r)
    for n, user in enumerate(["a@x.io", "a@x.io", "b@x.io"]):
        db.add_song(track(f"old{n}"), user)
    for key in (keys.QUEUE_URIS, keys.QUEUE_ADDERS, keys.QUEUE_INDEXED):
        r.delete(db._key(key))
    r.delete(db._key(keys.queue_by_adder("a@x.io")), db._key(keys.queue_by_adder("b@x.io")))
    with_index_gone = db.add_song(track("new"), "b@x.io")
    assert [i["id"] for i in db.queue_items()].index(with_index_gone["id"]) == 3
    try:
        db.add_song(track("old0"), "c@x.io")
        raise AssertionError("a queued song was queued twice")
    except EchoNestError as exc:
        assert exc.code == "already_queued"


def _commands_for_one_add(r, redis_url, db, user, title) -> int:
    lines = []
    monitor_conn = redis.Redis.from_url(redis_url)
    with monitor_conn.monitor() as mon:
        stop = threading.Event()

        def read():
            while not stop.is_set():
                try:
                    lines.append(mon.next_command())
                except Exception:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(0.2)
        db.add_song(track(title), user)
        time.sleep(0.3)
        stop.set()
    return sum(1 for line in lines if line["client_type"] == "lua")


def test_commands_per_add_do_not_grow_with_the_queue(r, redis_url):
    db = DB(redis_client=r)
    users = [f"u{n}@x.io" for n in range(8)]
    db.add_song(track("warm"), users[0])
    for n in range(1, 8):
        db.add_song(track(f"fill{n}"), users[n % 8])
    small = _commands_for_one_add(r, redis_url, db, users[3], "probe-small")
    for n in range(8, 240):
        db.add_song(track(f"fill{n}"), users[n % 8])
    large = _commands_for_one_add(r, redis_url, db, users[3], "probe-large")
    assert db.queue_size() == 242
    print("commands per add", small, large)
    assert large <= small + 2, (small, large)  # the same work; not 30x the songs
