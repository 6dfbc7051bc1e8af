"""Benchmark the music library (docs/performance.md, "Music library").

    .venv/bin/python bench/bench_library.py [--files 2000] [--listeners 50] [--ws 20]

1. Scan rate: ``--files`` generated tagged MP3s, a cold scan (every file read) and warm rescans
   (nothing changed: the cost of the periodic rescan), plus one process parsing the index.
2. Downloads vs. fan-out: a real gevent web process serves a 4-minute MP3. ``--ws`` WebSocket
   listeners sit in the main nest; events are published on its channel every 50 ms and the
   publish→receive latency is measured, first alone, then while ``--listeners`` clients (in
   another process, so the measuring one stays idle) fetch the song from its start
   (``Range: bytes=0-``) over and over.
Everything runs against a private embedded Valkey; nothing is persisted.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

from audio_fixtures import build_bench_library, encode, tag  # noqa: E402

from config import CONF  # noqa: E402
from echonest import events, keys  # noqa: E402
from echonest.catalog.library import index as library_index  # noqa: E402
from echonest.catalog.library.scan import Scanner  # noqa: E402
from echonest.engine import EmbeddedEngine  # noqa: E402
from echonest.store import connect  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_scan(client, files: int, work: Path) -> dict:
    root = work / "bench-library"
    started = time.perf_counter()
    build_bench_library(root, files)
    made = time.perf_counter() - started
    conf = CONF.copy(MUSIC_DIR=str(root), DEMO_MUSIC="false", DEMO_MUSIC_DIR="")
    client.flushdb()
    scanner = Scanner(client, conf)
    t0 = time.perf_counter()
    report = scanner.scan()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        again = scanner.scan()
        warm.append(time.perf_counter() - t0)
        assert again.read == 0
    t0 = time.perf_counter()
    data = library_index.build(library_index.parse_records(client.hgetall(keys.LIBRARY_TRACKS)))
    parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(100):
        data.index.search("song 1234")
    search_ms = (time.perf_counter() - t0) * 10
    return {"files": files, "generated_s": round(made, 2), "tracks": report.tracks,
            "cold_s": round(cold, 3), "cold_files_per_s": round(files / cold),
            "warm_median_s": round(statistics.median(warm), 3),
            "warm_files_per_s": round(files / statistics.median(warm)),
            "index_parse_s": round(parse, 3), "search_ms": round(search_ms, 2)}


# --- downloads vs fan-out ---------------------------------------------------------------------
def downloader(base_url: str, cookie: str, path: str, listeners: int, repeat_until: float,
               go: multiprocessing.Event, out: multiprocessing.Queue) -> None:
    """Runs in its own process: ``listeners`` threads fetch the song from its start at once
    (``repeat_until`` = 0: once each, like a song change; else again and again until then)."""
    import requests

    sessions = []
    for _ in range(listeners):
        http = requests.Session()
        http.headers.update({"Cookie": cookie, "Range": "bytes=0-"})
        sessions.append(http)
    stats = {"bytes": 0, "fetches": 0, "ttfb": [], "done": []}
    lock = threading.Lock()

    def one(http):
        go.wait()
        t_start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            with http.get(base_url + path, stream=True, timeout=60) as resp:
                assert resp.status_code == 206, resp.status_code
                ttfb, got = None, 0
                for chunk in resp.iter_content(64 * 1024):
                    if ttfb is None:
                        ttfb = time.perf_counter() - t0
                    got += len(chunk)
            with lock:
                stats["bytes"] += got
                stats["fetches"] += 1
                stats["ttfb"].append(ttfb)
            if time.time() >= repeat_until:
                break
        with lock:
            stats["done"].append(time.perf_counter() - t_start)

    threads = [threading.Thread(target=one, args=(http,)) for http in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(stats)


def measure_fanout(client, ws_clients, rounds: int, every: float = 0.02,
                   until=None) -> list[float]:
    """Publish an event every ``every`` s (``rounds`` times, or while ``until()`` is true)
    and collect publish→receive latencies over every WebSocket listener."""
    latencies: list[float] = []
    lock = threading.Lock()
    sent: dict[int, float] = {}
    last = [-1]

    def reader(ws):
        while True:
            try:
                frame = json.loads(ws.ws.recv())
            except Exception:
                return
            seq = frame.get("data", {}).get("bench_seq") if frame.get("event") == "volume" \
                else None
            if seq is None:
                continue
            if seq == -1:
                return
            with lock:
                latencies.append(time.perf_counter() - sent[seq])

    threads = [threading.Thread(target=reader, args=(ws,), daemon=True) for ws in ws_clients]
    for t in threads:
        t.start()
    channel = keys.pubsub_channel("main")

    def publish(seq):
        sent[seq] = time.perf_counter()
        client.publish(channel, events.dumps(events.envelope(
            events.VOLUME, "main", 1, {"volume": 50, "bench_seq": seq})))

    seq = 0
    while (seq < rounds) if until is None else until():
        publish(seq)
        seq += 1
        time.sleep(every)
    last[0] = seq
    time.sleep(0.5)
    publish(-1)
    for t in threads:
        t.join(10)
    return latencies


def _summary(lat: list[float]) -> dict:
    ms = [x * 1000 for x in lat]
    return {"n": len(ms), "p50": round(pct(ms, 50), 1), "p95": round(pct(ms, 95), 1),
            "max": round(max(ms), 1)}


def _burst(server, guest, client, sockets, path, listeners, repeat_seconds):
    out: multiprocessing.Queue = multiprocessing.Queue()
    go = multiprocessing.Event()
    repeat_until = time.time() + repeat_seconds + 2 if repeat_seconds else 0
    proc = multiprocessing.Process(target=downloader, args=(
        server.url, guest.cookie, path, listeners, repeat_until, go, out))
    proc.start()
    time.sleep(2.0)  # sessions made, threads waiting on go
    go.set()
    started = time.perf_counter()
    latencies = measure_fanout(client, sockets, 0, until=proc.is_alive)
    stats = out.get(timeout=120)
    proc.join()
    elapsed = time.perf_counter() - started
    return latencies, stats, elapsed


def bench_downloads(redis_url: str, client, listeners: int, ws_count: int, work: Path) -> dict:
    from servers import Guest, WSClient, web_server

    music = work / "one-song"
    music.mkdir()
    song = encode(music / "Bench Band - Long Song.mp3", seconds=240)
    tag(song, title="Long Song", artist="Bench Band")
    size = song.stat().st_size
    conf = {"MUSIC_DIR": str(music), "DEMO_MUSIC": "false", "DEMO_MUSIC_DIR": ""}
    client.flushdb()
    Scanner(client, CONF.copy(**conf)).scan()
    track_id = next(iter(client.hkeys(keys.LIBRARY_TRACKS)))
    result = {"song_bytes": size, "listeners": listeners, "ws_listeners": ws_count}
    path = f"/audio/{track_id}"
    with web_server(redis_url, {"USE_BENDER": False, **conf}) as server:
        guest = Guest(server.url, "Bench")

        def connect_all():
            sockets = [WSClient(server.ws_url, "/socket", guest.cookie) for _ in range(ws_count)]
            for ws in sockets:
                ws.initial_state()
            return sockets

        sockets = connect_all()
        result["fanout_quiet_ms"] = _summary(measure_fanout(client, sockets, 200))
        for ws in sockets:
            ws.close()
        for name, repeat in (("song_start", 0), ("nonstop_10s", 10)):
            sockets = connect_all()
            lat, stats, elapsed = _burst(server, guest, client, sockets, path, listeners, repeat)
            for ws in sockets:
                ws.close()
            result[f"fanout_during_{name}_ms"] = _summary(lat)
            result[f"downloads_{name}"] = {
                "fetches": stats["fetches"], "seconds": round(elapsed, 2),
                "MB_per_s": round(stats["bytes"] / elapsed / 1e6, 1),
                "ttfb_p50_ms": round(pct(stats["ttfb"], 50) * 1000, 1),
                "ttfb_p95_ms": round(pct(stats["ttfb"], 95) * 1000, 1),
                "all_done_s": round(max(stats["done"]), 2)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--listeners", type=int, default=50)
    parser.add_argument("--ws", type=int, default=20)
    parser.add_argument("--skip-downloads", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="echonest-bench-library-") as tmp:
        work = Path(tmp)
        engine = EmbeddedEngine(str(work / "engine"), persist=False).start()
        try:
            CONF.REDIS_URL = engine.url
            import os

            os.environ["REDIS_URL"] = engine.url
            client = connect(engine.url)
            print(json.dumps({"scan": bench_scan(client, args.files, work)}, indent=1))
            if not args.skip_downloads:
                print(json.dumps({"downloads_vs_fanout": bench_downloads(
                    engine.url, client, args.listeners, args.ws, work)}, indent=1))
        finally:
            engine.stop()


if __name__ == "__main__":
    main()
