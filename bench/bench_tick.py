"""Benchmark one player pass and one cleanup pass over many idle nests (docs/performance.md).

    .venv/bin/python bench/bench_tick.py [--nests 10000] [--passes 20] [--redis-url URL]

Without --redis-url it starts a private embedded Valkey (nothing persisted). Counts round trips
with a connection wrapper (a pipeline or a script call is one), commands with INFO stats, and
wall time per pass. Bender is off so only the player's own work is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from roundtrips import CountingConnection  # noqa: E402

from config import CONF  # noqa: E402
from db import DB  # noqa: E402
from echonest import keys  # noqa: E402
from echonest.catalog.track import Track  # noqa: E402

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ACTIVE_NESTS = 20  # nests with a song playing and listeners, like a busy evening


def _code(n: int) -> str:
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    out = ""
    for _ in range(5):
        n, digit = divmod(n, len(alphabet))
        out += alphabet[digit]
    return out


def populate(client: redis.Redis, count: int) -> list[str]:
    """``count`` registered temporary nests, all idle (nothing playing, nothing queued)."""
    stamp = T0.isoformat()
    codes = [_code(n) for n in range(count)]
    pipe = client.pipeline(transaction=False)
    for code in codes:
        meta = {"id": code, "code": code, "name": f"Nest {code}", "slug": code.lower(),
                "created_by": "bench@x.io", "created_at": stamp, "last_activity": stamp,
                "ttl_minutes": 120, "is_main": False, "bender_enabled": True}
        pipe.hset(keys.NESTS_REGISTRY, code, json.dumps(meta))
        pipe.set(keys.nest_code(code), code)
    pipe.execute()
    return codes


def make_active(client: redis.Redis, codes: list[str], songs: int = 1,
                duration: float = 3600) -> None:
    """Nests with a song playing and one live listener each (``songs`` queued in all)."""
    from nests import NestManager

    manager = NestManager(client)
    for n, code in enumerate(codes):
        db = DB(code, init_history_to_redis=False, redis_client=client)
        for k in range(songs):
            db.add_song(Track(uri=f"local:track:bench-{n}-{k}", title="Song", artists=("B",),
                              duration=duration), user=f"u{k}@x.io", now=T0)
        db.advance(T0)
        manager.join_nest(code, f"listener{n}@x.io", now=T0)


def _commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


def measure(url: str, passes: int, now: datetime, step: timedelta = timedelta(0)) -> dict:
    from master_player import cleanup_tick, master_player_tick_all

    pool = redis.ConnectionPool.from_url(url, decode_responses=True,
                                         connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    plain = redis.Redis.from_url(url, decode_responses=True)
    master_player_tick_all(now=now, redis_client=client)  # warm: scripts loaded, pools open
    walls, trips, commands = [], [], []
    for k in range(passes):
        before_cmds, CountingConnection.sent = _commands(plain), 0
        started = time.perf_counter()
        master_player_tick_all(now=now + step * (k + 1), redis_client=client)
        walls.append(time.perf_counter() - started)
        trips.append(CountingConnection.sent)
        commands.append(_commands(plain) - before_cmds - 1)  # minus our own INFO
    started = time.perf_counter()
    CountingConnection.sent = 0
    deleted = cleanup_tick(now, redis_client=client)
    cleanup_wall, cleanup_trips = time.perf_counter() - started, CountingConnection.sent
    pool.disconnect()
    return {
        "round_trips_per_pass": sorted(set(trips)),
        "commands_per_pass": int(statistics.median(commands)),
        "pass_ms_median": round(statistics.median(walls) * 1000, 1),
        "pass_ms_max": round(max(walls) * 1000, 1),
        "cleanup_ms": round(cleanup_wall * 1000, 1),
        "cleanup_round_trips": cleanup_trips,
        "cleanup_deleted": len(deleted),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nests", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--passes", type=int, default=20, help="at most 23 (queue depth)")
    parser.add_argument("--redis-url")
    options = parser.parse_args()
    CONF.USE_BENDER = False
    engine = tmp = None
    url = options.redis_url
    if not url:
        from echonest.engine import EmbeddedEngine

        tmp = tempfile.TemporaryDirectory(prefix="echonest-bench-")
        engine = EmbeddedEngine(tmp.name, persist=False).start()
        url = engine.url
    try:
        client = redis.Redis.from_url(url, decode_responses=True)
        for count in options.nests:
            client.flushdb()
            codes = populate(client, count)
            make_active(client, codes[:ACTIVE_NESTS])
            idle = measure(url, options.passes, T0 + timedelta(minutes=1))
            print(json.dumps({"scenario": "idle", "nests": count, "active": ACTIVE_NESTS,
                              **idle}))
            # The same, but the 20 busy nests each finish a song on every pass.
            client.flushdb()
            codes = populate(client, count)
            make_active(client, codes[:ACTIVE_NESTS], songs=options.passes + 2, duration=60)
            busy = measure(url, options.passes, T0, step=timedelta(seconds=60))
            print(json.dumps({"scenario": "20 advance per pass", "nests": count, **busy}))
    finally:
        if engine:
            engine.stop()
        if tmp:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
