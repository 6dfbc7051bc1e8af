"""The player worker on the real engine: advancing on a clock, pause, skip, locks, Bender, cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from layout_support import subscribe as layout_subscribe

import master_player
import nests
from config import CONF
from db import DB
from echonest import keys
from echonest.catalog.track import Track

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def _track(n: int, duration: float = 100.0) -> Track:
    return Track(uri=f"local:track:song-{n}", title=f"Song {n}", artists=("Band",),
                 duration=duration)


def _nest(r, creator="host@x.io", **overrides):
    mgr = nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=1000))
    code = mgr.create_nest(creator, now=T0)["code"]
    if overrides:
        mgr.update_nest(code, creator, **overrides)
    return code


def _queue(r, nest_id, *durations):
    db = DB(nest_id, init_history_to_redis=False, redis_client=r)
    for n, duration in enumerate(durations):
        db.add_song(_track(n, duration), user=f"user{n}@x.io", now=T0)
    return db


@pytest.fixture
def no_bender(monkeypatch):
    monkeypatch.setitem(CONF._values, "USE_BENDER", False)


def _playing_title(db, now):
    return db.now_playing(now).get("title")


def test_songs_advance_on_the_clock_and_finished_ones_are_recorded(r, no_bender):
    code = _nest(r)
    db = _queue(r, code, 100, 50)
    summary = master_player.master_player_tick_all(now=T0, redis_client=r)
    assert summary["advanced"] == [code]
    playing = db.now_playing(T0)
    assert playing["title"] == "Song 0" and playing["starttime"].startswith("2026-03-02T12:00:00")
    master_player.master_player_tick_all(now=T0 + timedelta(seconds=99), redis_client=r)
    assert _playing_title(db, T0 + timedelta(seconds=99)) == "Song 0"
    master_player.master_player_tick_all(now=T0 + timedelta(seconds=100), redis_client=r)
    assert _playing_title(db, T0 + timedelta(seconds=100)) == "Song 1"
    from echonest.history import recent_plays

    assert [play["uri"] for play in recent_plays(r, code)] == ["local:track:song-0"]


def test_pause_freezes_the_song_and_resume_continues_it(r, no_bender):
    code = _nest(r)
    db = _queue(r, code, 100, 50)
    master_player.master_player_tick_all(now=T0, redis_client=r)
    db.pause("user1@x.io", now=T0 + timedelta(seconds=30))
    later = T0 + timedelta(seconds=500)
    master_player.master_player_tick_all(now=later, redis_client=r)
    playing = db.now_playing(later)
    assert playing["title"] == "Song 0" and playing["paused"] is True and playing["pos"] == 30
    db.resume("user1@x.io", now=later)
    master_player.master_player_tick_all(now=later + timedelta(seconds=69), redis_client=r)
    assert _playing_title(db, later + timedelta(seconds=69)) == "Song 0"
    master_player.master_player_tick_all(now=later + timedelta(seconds=70), redis_client=r)
    assert _playing_title(db, later + timedelta(seconds=70)) == "Song 1"


def test_skip_ends_the_song_on_the_next_tick(r, no_bender):
    code = _nest(r)
    db = _queue(r, code, 100, 50)
    master_player.master_player_tick_all(now=T0, redis_client=r)
    db.skip("user1@x.io")
    master_player.master_player_tick_all(now=T0 + timedelta(seconds=5), redis_client=r)
    playing = db.now_playing(T0 + timedelta(seconds=5))
    assert playing["title"] == "Song 1" and playing["pos"] == 0


def test_main_and_temporary_nests_advance_in_one_pass(r, no_bender):
    codes = [_nest(r), _nest(r)]
    dbs = [_queue(r, nest_id, 60) for nest_id in ["main", *codes]]
    summary = master_player.master_player_tick_all(now=T0, redis_client=r)
    assert sorted(summary["advanced"]) == sorted(["main", *codes])
    assert all(_playing_title(db, T0) == "Song 0" for db in dbs)


def test_lock_has_an_owner_token_and_only_the_owner_releases_it(r):
    code = _nest(r)
    assert master_player.acquire_lock(r, code, "worker-a") is True
    assert master_player.acquire_lock(r, code, "worker-b") is False
    assert r.get(f"NEST:{code}|MISC|master-player") == "worker-a"
    assert 0 < r.pttl(f"NEST:{code}|MISC|master-player") <= master_player.LOCK_MS
    assert master_player.release_lock(r, code, "worker-b") is False
    assert r.get(f"NEST:{code}|MISC|master-player") == "worker-a"
    assert master_player.release_lock(r, code, "worker-a") is True
    assert master_player.acquire_lock(r, code, "worker-b") is True


def test_a_locked_nest_is_left_to_its_owner(r, no_bender):
    code = _nest(r)
    db = _queue(r, code, 60)
    master_player.acquire_lock(r, code, "other-worker")
    summary = master_player.master_player_tick_all(now=T0, redis_client=r)
    assert summary["locked_out"] == [code] and summary["advanced"] == []
    assert db.now_playing(T0).get("title") is None
    assert r.get(f"NEST:{code}|MISC|master-player") == "other-worker"


def test_a_deleted_nest_gets_no_lock_key(r):
    code = _nest(r)
    nests.NestManager(r).delete_nest(code)
    with pytest.raises(nests.NestGone):
        master_player.acquire_lock(r, code, "late")
    assert r.keys(f"NEST:{code}|*") == []


def test_two_workers_never_advance_a_nest_twice(r, redis_url, no_bender):
    from echonest.store import connect

    code = _nest(r)
    _queue(r, code, *([10] * 24))
    pubsub = layout_subscribe(r, keys.pubsub_channel(code))  # SSUBSCRIBE in cluster layout
    pubsub.get_message(timeout=1)
    rounds = 20
    barrier = threading.Barrier(2)
    failures = []

    def worker():
        client = connect(redis_url)
        try:
            for k in range(rounds):
                barrier.wait(timeout=30)
                master_player.master_player_tick_all(now=T0 + timedelta(seconds=10 * k),
                                                     redis_client=client)
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = []
    while (msg := pubsub.get_message(timeout=0.5)) is not None:
        if msg["type"] == "message" and json.loads(msg["data"])["event"] == "now_playing":
            started.append(msg)
    pubsub.close()
    assert failures == []
    assert len(started) == rounds  # one song change per ten seconds, whoever made it
    db = DB(code, init_history_to_redis=False, redis_client=r)
    assert db.queue_size() == 24 - rounds


def test_bender_hook_runs_for_listened_nests_only(r, monkeypatch):
    import echonest.bender

    calls = []

    def spy(db, catalog, meta, now, listeners):
        calls.append((db.nest_id, meta.get("bender_enabled"), listeners, now))
        return []

    monkeypatch.setattr(echonest.bender, "fill_nest", spy)
    monkeypatch.setitem(CONF._values, "USE_BENDER", True)
    listened, quiet, off = _nest(r), _nest(r), _nest(r, bender_enabled=False)
    mgr = nests.NestManager(r)
    mgr.join_nest(listened, "a@x.io")
    mgr.join_nest(listened, "b@x.io")
    mgr.join_nest(off, "a@x.io")
    master_player.master_player_tick_all(now=T0, redis_client=r, catalog=object())
    # Listened nests get the hook; whether Bender may add is fill_nest's call (it clears the
    # preview of a nest that switched him off), so the unlistened nest alone is skipped.
    assert sorted(calls) == sorted([(listened, True, 2, T0), (off, False, 1, T0)])
    monkeypatch.setitem(CONF._values, "USE_BENDER", False)
    master_player.master_player_tick_all(now=T0, redis_client=r, catalog=object())
    assert len(calls) == 2 and quiet


def test_a_failing_bender_never_stops_the_pass(r, monkeypatch):
    import echonest.bender

    def broken(*_args, **_kwargs):
        raise RuntimeError("catalog on fire")

    monkeypatch.setattr(echonest.bender, "fill_nest", broken)
    monkeypatch.setitem(CONF._values, "USE_BENDER", True)
    codes = [_nest(r), _nest(r)]
    dbs = [_queue(r, code, 60) for code in codes]
    for code in codes:
        nests.NestManager(r).join_nest(code, "a@x.io")
    summary = master_player.master_player_tick_all(now=T0, redis_client=r, catalog=object())
    assert sorted(summary["advanced"]) == sorted(codes) and summary["errors"] == {}
    assert all(_playing_title(db, T0) == "Song 0" for db in dbs)
    assert r.keys("NEST:*|MISC|master-player") == []  # locks released after the failure


class CountingConnection(redis.Connection):
    """Counts requests sent: a pipeline or a script call is one round trip."""

    sent = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


def _round_trips(redis_url, now):
    pool = redis.ConnectionPool.from_url(redis_url, decode_responses=True,
                                         connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    client.ping()
    CountingConnection.sent = 0
    master_player.master_player_tick_all(now=now, redis_client=client)
    sent = CountingConnection.sent
    pool.disconnect()
    return sent


def test_round_trips_per_pass_do_not_grow_with_idle_nests(r, redis_url, no_bender):
    for _ in range(5):
        _nest(r)
    few = _round_trips(redis_url, T0)
    for _ in range(200):
        _nest(r)
    many = _round_trips(redis_url, T0)
    assert few == many <= 4


# --- cleanup -----------------------------------------------------------------------------------
def test_cleanup_deletes_only_inactive_empty_unlistened_temporary_nests(r):
    mgr = nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=1000))
    idle, listened, queued, recent, stale_member = (_nest(r) for _ in range(5))
    mgr.join_nest(listened, "a@x.io", now=T0)
    _queue(r, queued, 60)
    mgr.touch_nest(recent, now=T0 + timedelta(minutes=100))
    mgr.join_nest(stale_member, "gone@x.io", now=T0)
    r.delete(keys.member_key(stale_member, "gone@x.io"))  # their heartbeat lapsed
    later = T0 + timedelta(minutes=CONF.NEST_MAX_INACTIVE_MINUTES)
    deleted = master_player.cleanup_tick(later, redis_client=r)
    assert sorted(deleted) == sorted([idle, stale_member])
    remaining = {nest_id for nest_id, _ in mgr.list_nests()}
    assert remaining == {"main", listened, queued, recent}
    assert r.keys(f"NEST:{idle}|*") == [] and r.keys(f"NEST:{stale_member}|*") == []


def test_cleanup_never_deletes_main_however_idle(r):
    nests.NestManager(r).ensure_main()
    assert master_player.cleanup_tick(T0 + timedelta(days=365), redis_client=r) == []
    assert nests.NestManager(r).get_nest("main")["is_main"] is True


def test_cleanup_accepts_naive_now(r):
    idle = _nest(r)
    naive = (T0 + timedelta(minutes=121)).replace(tzinfo=None)
    assert master_player.cleanup_tick(naive, redis_client=r) == [idle]


# --- the loop ----------------------------------------------------------------------------------
def test_run_stops_when_asked(r, no_bender):
    stop = threading.Event()
    worker = threading.Thread(target=master_player.run, args=(stop, r))
    worker.start()
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert nests.NestManager(r).get_nest("main") is not None


def test_cleanup_loop_cleans_then_stops(r):
    idle = _nest(r)  # created at T0, long ago by the wall clock the loop uses
    stop = threading.Event()
    loop = threading.Thread(target=master_player.nest_cleanup_loop, args=(stop, 3600, r))
    loop.start()
    try:
        for _ in range(300):
            if nests.NestManager(r).get_nest(idle) is None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        loop.join(timeout=30)
    assert not loop.is_alive()
    assert nests.NestManager(r).get_nest(idle) is None


def test_module_runs_as_a_worker_and_stops_on_sigterm(r, redis_url):
    env = {**os.environ, "REDIS_URL": redis_url, "USE_BENDER": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "master_player"], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "player worker started" in line:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "player worker stopped" in proc.stderr.read()


def test_bender_keeps_a_listened_nest_playing_from_the_offline_catalog(r, monkeypatch):
    from echonest.catalog import get_catalog

    monkeypatch.setitem(CONF._values, "USE_BENDER", True)
    catalog = get_catalog(CONF.copy(CATALOG="offline"))
    listened, empty = _nest(r), _nest(r)
    nests.NestManager(r).join_nest(listened, "a@x.io")
    for second in range(3):
        master_player.master_player_tick_all(now=T0 + timedelta(seconds=second),
                                             redis_client=r, catalog=catalog)
    later = T0 + timedelta(seconds=3)
    playing = DB(listened, init_history_to_redis=False, redis_client=r).now_playing(later)
    assert playing["auto"] is True and catalog.lookup(playing["uri"]).title == playing["title"]
    queue = DB(listened, init_history_to_redis=False, redis_client=r).queue_items()
    assert len(queue) == CONF.NEST_MIN_QUEUE_DEPTH and all(item["auto"] for item in queue)
    idle = DB(empty, init_history_to_redis=False, redis_client=r)
    assert idle.queue_size() == 0 and idle.now_playing(later).get("uri") is None


def test_switching_bender_off_clears_the_preview_row(r, monkeypatch):
    from echonest.catalog import get_catalog

    monkeypatch.setitem(CONF._values, "USE_BENDER", True)
    code = _nest(r)
    mgr = nests.NestManager(r)
    mgr.join_nest(code, "a@x.io")
    catalog = get_catalog(CONF, redis_client=r)
    master_player.master_player_tick_all(now=T0, redis_client=r, catalog=catalog)
    db = DB(code, init_history_to_redis=False, redis_client=r)
    assert db.queue_body(now=T0)["preview"] is not None
    creator = mgr.get_nest(code)["created_by"]
    mgr.update_nest(code, creator, bender_enabled=False)
    master_player.master_player_tick_all(now=T0, redis_client=r, catalog=catalog)
    assert db.queue_body(now=T0)["preview"] is None
