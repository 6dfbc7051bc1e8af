"""The player worker's life: short leases, one log line per Redis outage, no orphan."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
from servers import eventually

import master_player
import nests
from config import CONF
from db import DB
from echonest.catalog.track import Track

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_bender(monkeypatch):
    monkeypatch.setitem(CONF._values, "USE_BENDER", False)


def _nest_with_song(r) -> str:
    code = nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=1000)).create_nest("h@x.io")["code"]
    DB(code, init_history_to_redis=False, redis_client=r).add_song(
        Track(uri="local:track:song-1", title="Song 1", artists=("Band",), duration=100.0),
        user="u@x.io")
    return code


def test_a_dead_workers_lock_frees_the_nest_within_seconds(r, no_bender):
    code = _nest_with_song(r)
    # A worker SIGKILLed mid-pass: its lock stays behind and nobody renews it.
    assert master_player.acquire_lock(r, code, "dead-worker")
    assert 0 < r.pttl(master_player.lock_key(code)) <= 5_000
    assert master_player.master_player_tick_all(redis_client=r)["locked_out"] == [code]

    def advanced():
        return code in master_player.master_player_tick_all(redis_client=r)["advanced"]

    assert eventually(advanced, timeout=15, interval=0.2)


def test_a_live_worker_keeps_renewing_its_lease_and_lets_go_when_done(r):
    code = _nest_with_song(r)
    keeper = master_player.LeaseKeeper(r, ttl_ms=300)
    assert master_player.acquire_lock(r, code, "me", ttl_ms=300)
    keeper.hold(code, "me")
    renewals = []
    original = keeper.renew
    keeper.renew = lambda: renewals.append(original()) or renewals[-1]
    # Outlives its 300 ms lease several times over because it is renewed.
    assert eventually(lambda: len(renewals) >= 6, timeout=15)
    assert r.get(master_player.lock_key(code)) == "me"
    keeper.drop(code)
    assert eventually(lambda: r.get(master_player.lock_key(code)) is None, timeout=15)
    # Someone else's lock is never extended by us.
    assert master_player.acquire_lock(r, code, "other", ttl_ms=60_000)
    keeper.hold(code, "me")
    assert keeper.renew() == 0
    keeper.drop(code)


def test_a_redis_outage_is_one_line_down_and_one_line_back(tmp_path, monkeypatch, caplog,
                                                           no_bender):
    from echonest.engine import EmbeddedEngine

    monkeypatch.setitem(CONF._values, "PLAYER_TICK_SECONDS", 0.02)
    engine = EmbeddedEngine(tmp_path, persist=False).start()
    port, url = engine.port, engine.url
    engine.stop()
    client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=0.2)
    passes = []
    real_tick = master_player.master_player_tick_all
    monkeypatch.setattr(master_player, "master_player_tick_all",
                        lambda **kw: passes.append(1) or real_tick(**kw))
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="master_player")
    worker = threading.Thread(target=master_player.run, args=(stop, client), daemon=True)
    worker.start()
    try:
        assert eventually(lambda: len(passes) >= 20, timeout=30)
        down = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(down) == 1
        assert not [r for r in caplog.records if "back" in r.getMessage()]
        engine = EmbeddedEngine(tmp_path, port=port, persist=False).start()
        assert eventually(lambda: any("connection back" in r.getMessage()
                                      for r in caplog.records), timeout=30)
        seen = len(passes)
        assert eventually(lambda: len(passes) >= seen + 10, timeout=30)
    finally:
        stop.set()
        worker.join(10)
        engine.stop()
        client.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "unreachable" in m]) == 1
    assert len([m for m in messages if "connection back" in m]) == 1
    # The start-up steps may each report the outage once; the passes never add a traceback.
    pass_tracebacks = [r for r in caplog.records if r.exc_info and "pass" in r.getMessage()]
    assert pass_tracebacks == []


def test_an_orphaned_worker_stops_instead_of_living_on(redis_url, tmp_path):
    log = tmp_path / "player.log"
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    # A parent that starts the worker (telling it its pid) and dies at once, by SIGKILL.
    script = (f"import subprocess, os, signal\n"
              f"p = subprocess.Popen([{sys.executable!r}, '-m', 'master_player', "
              f"'--parent-pid', str(os.getpid())], stdout=open({str(log)!r}, 'w'), "
              f"stderr=subprocess.STDOUT)\n"
              f"print(p.pid, flush=True)\n"
              f"os.kill(os.getpid(), signal.SIGKILL)\n")
    parent = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=30)
    pid = int(parent.stdout.split()[0])

    def gone() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        return state == "Z"

    try:
        assert eventually(gone, timeout=30)
    finally:
        if not gone():
            os.kill(pid, 9)
    text = log.read_text()
    assert "is gone; stopping" in text and "Traceback" not in text
