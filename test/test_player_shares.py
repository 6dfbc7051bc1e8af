"""Player workers split the nests: no overlap, no gap, a dead worker's nests taken over in time,
and — with real worker processes, one killed mid-party — no song skipped or played twice."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import pytest
from servers import WAIT, player_worker

import master_player
import nests
from config import CONF
from db import DB
from echonest import keys
from echonest.catalog.track import Track
from echonest.history import recent_plays
from echonest.player_shares import Shares

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _nests(r, count):
    mgr = nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=1000))
    return [mgr.create_nest(f"host{n}@x.io", now=T0)["code"] for n in range(count)]


def _refresh_all(workers, now_ms, rounds=3):
    for _ in range(rounds):  # first passes settle who holds what (each sees the others join)
        for worker in workers:
            worker.refresh(now_ms)


def test_workers_split_the_nests_with_no_overlap_and_no_gap(r):
    codes = set(_nests(r, 40)) | {nests.MAIN_NEST_ID}
    nests.NestManager(r).ensure_main()
    workers = [Shares(r, lease_ms=60_000, worker_id=f"{n:06x}") for n in (1, 2, 3)]
    now_ms = int(time.time() * 1000)
    _refresh_all(workers, now_ms)
    held = [w.held for w in workers]
    aim = -(-keys.PLAYER_BUCKETS // 3)  # ceil: each takes at most its share, so none starves
    assert all(keys.PLAYER_BUCKETS - 2 * aim <= len(h) <= aim for h in held)
    assert set().union(*held) == set(range(keys.PLAYER_BUCKETS))
    assert sum(len(h) for h in held) == keys.PLAYER_BUCKETS  # no bucket held twice
    shares = [set(w.nest_ids()) for w in workers]
    assert set().union(*shares) == codes
    assert sum(len(s) for s in shares) == len(codes)


def test_a_silent_workers_buckets_pass_to_the_others_after_the_lease(r):
    _nests(r, 10)
    lease = 400
    workers = [Shares(r, lease_ms=lease, worker_id=f"{n:06x}") for n in (1, 2, 3)]
    start = int(time.time() * 1000)
    _refresh_all(workers, start)
    dead = workers.pop()
    assert dead.held
    # Before the lease ends the survivors may not take its buckets…
    _refresh_all(workers, start + lease // 2)
    assert not (dead.held & (workers[0].held | workers[1].held))
    # …after it, they hold every bucket between them, once each.
    time.sleep(lease / 1000 * 1.5)
    _refresh_all(workers, int(time.time() * 1000))
    assert workers[0].held | workers[1].held == set(range(keys.PLAYER_BUCKETS))
    assert not workers[0].held & workers[1].held


def test_a_lost_bucket_set_is_rebuilt_from_the_registry(r):
    from echonest.player_shares import heal_index

    codes = _nests(r, 12)
    nests.NestManager(r).ensure_main()
    assert heal_index(r) is False  # in step: one count, nothing rewritten
    bucket = nests.player_bucket(codes[0])
    r.delete(keys.player_bucket_nests(bucket))  # e.g. lost with a shard
    assert heal_index(r) is True
    assert codes[0] in r.smembers(keys.player_bucket_nests(bucket))


def test_a_pass_reads_only_the_workers_share(r, monkeypatch):
    monkeypatch.setitem(CONF._values, "USE_BENDER", False)
    codes = _nests(r, 30)
    workers = [Shares(r, lease_ms=60_000, worker_id=f"{n:06x}") for n in (1, 2, 3)]
    _refresh_all(workers, int(time.time() * 1000))
    seen = [master_player.master_player_tick_all(now=T0, redis_client=r, shares=w)["nests"]
            for w in workers]
    assert sum(seen) == len(codes) and max(seen) < len(codes)


def test_killed_worker_no_song_skipped_or_played_twice(r, redis_url):
    """Three real workers, 1-second songs in 9 nests; one worker is SIGKILLed mid-party."""
    codes = _nests(r, 9)
    songs = 4
    for code in codes:
        db = DB(code, init_history_to_redis=False, redis_client=r)
        for n in range(songs):
            db.add_song(Track(uri=f"local:track:{code}-{n}", title=f"{code} {n}",
                              artists=("Band",), duration=1.0), user=f"u{n}@x.io")
    env = {"PLAYER_LEASE_SECONDS": "1", "PLAYER_TICK_SECONDS": "0.2", "USE_BENDER": "false"}
    with player_worker(redis_url, **env) as a, player_worker(redis_url, **env), \
            player_worker(redis_url, **env):
        time.sleep(1.5)
        a.send_signal(signal.SIGKILL)
        a.wait()
        deadline = time.monotonic() + WAIT + songs
        while time.monotonic() < deadline:
            plays = {code: recent_plays(r, code) for code in codes}
            if all(len(p) >= songs for p in plays.values()):
                break
            time.sleep(0.3)
    for code in codes:
        uris = [p["uri"] for p in recent_plays(r, code)]
        # The kill may land between a song's advance and its history write: that song
        # played but is not recorded. Nothing else may be missing, nothing recorded twice.
        assert len(uris) == len(set(uris)), f"a song played twice in {code}: {uris}"
        assert len(uris) >= songs - 1, f"songs skipped in {code}: {uris}"
        assert DB(code, init_history_to_redis=False, redis_client=r).queue_size() == 0


@pytest.fixture(autouse=True)
def _no_history_file(monkeypatch, tmp_path):
    monkeypatch.setitem(CONF._values, "DATA_DIR", str(tmp_path))


def _playing(workers):
    """Buckets some worker plays right now (held: renewed, offered or not)."""
    return set().union(*(w.held for w in workers))


def test_a_joining_worker_never_leaves_a_bucket_without_a_player(r):
    # Hand-over is make-before-break: the worker giving buckets away keeps playing them until
    # the newcomer has taken them, whatever the order of their passes, and even if the
    # newcomer stalls right after announcing itself.
    everything = set(range(keys.PLAYER_BUCKETS))
    first = Shares(r, lease_ms=60_000, worker_id="000001")
    now_ms = int(time.time() * 1000)
    first.refresh(now_ms)
    assert first.held == everything
    joiner = Shares(r, lease_ms=60_000, worker_id="000002")
    for step in (joiner, first, first, joiner, first, joiner, first):
        step.refresh(now_ms)
        assert _playing([first, joiner]) == everything, step.worker_id
    assert first.held.isdisjoint(joiner.held)
    aim = -(-keys.PLAYER_BUCKETS // 2)
    assert len(first.held) == len(joiner.held) == aim

    # A newcomer that announces itself and then stalls (never takes anything): the first
    # worker, counting two workers, offers half — and goes on playing all of it.
    lone = Shares(r, lease_ms=60_000, worker_id="000003")
    stalled = Shares(r, lease_ms=60_000, worker_id="000004")
    r.delete(*[keys.player_bucket_lease(b) for b in everything], keys.PLAYER_WORKERS)
    lone.refresh(now_ms)
    r.zadd(keys.PLAYER_WORKERS, {stalled.worker_id: now_ms + 60_000})  # announced, then silent
    for _ in range(3):
        lone.refresh(now_ms)
        assert lone.held == everything
    assert lone.offered  # half is on offer, still played
    # Once the staller's heartbeat lapses, the offers are simply taken back.
    r.zadd(keys.PLAYER_WORKERS, {stalled.worker_id: now_ms - 1})
    lone.refresh(now_ms + 1)
    assert lone.held == everything and not lone.offered


def test_a_worker_stopping_with_buckets_on_offer_hands_them_all_over(r):
    leaving = Shares(r, lease_ms=60_000, worker_id="000005")
    staying = Shares(r, lease_ms=60_000, worker_id="000006")
    now_ms = int(time.time() * 1000)
    leaving.refresh(now_ms)
    staying.refresh(now_ms)   # announces itself, takes nothing yet (all held)
    leaving.refresh(now_ms)   # offers half, still plays everything
    assert leaving.offered and leaving.held == set(range(keys.PLAYER_BUCKETS))
    leaving.release_all()     # a clean stop: offered or not, every lease goes
    staying.refresh(now_ms)
    assert staying.held == set(range(keys.PLAYER_BUCKETS))
