"""bench_ops scenarios ``ops`` and ``grow``: queue actions over WebSocket and HTTP at N clients,
Redis round trips and commands per action (see bench_ops.py for what each measures)."""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test"), str(ROOT / "bench")]

import requests  # noqa: E402
import websocket  # noqa: E402
from ops_support import (  # noqa: E402
    ROOT,
    WATCH,
    Monitor,
    RawHTTP,
    RawWS,
    cpu_seconds,
    guest_cookie,
    pct,
    track_uris,
    web_servers,
    ws_url,
)

from echonest import keys  # noqa: E402


# --- one client (runs in a worker process, one thread per client) --------------------------
def _ws_client(url, cookie, uris, target_id, seconds, out, start_at, adds_only=False):
    ws = RawWS(url, cookie, timeout=30)
    latencies, seen_version, errors = [], 0, 0
    ops, ref = 0, 0
    # Frames built before the clock starts: the run measures the server, not json.dumps.
    votes = [json.dumps({"action": "vote", "args": {"id": target_id, "up": up}, "ref": "R"})
             for up in (True, False)]

    def read_until(ref_wanted: bytes):
        nonlocal seen_version, errors
        while True:
            raw = ws.recv()
            if isinstance(raw, int):  # a queue_update: its version only
                seen_version = max(seen_version, raw)
                continue
            if ref_wanted in raw:
                msg = json.loads(raw)
                if msg.get("ref") == int(ref_wanted[6:-1]):
                    if msg["event"] != "ack":
                        errors += 1
                    return

    while time.time() < start_at:
        time.sleep(0.001)
    end = time.time() + seconds
    up = True
    while time.time() < end and (uris or not adds_only):
        ref += 1
        if (adds_only or ops % 8 == 7) and uris:
            frame = json.dumps({"action": "add_song", "args": {"track_uri": uris.pop()},
                                "ref": ref}).encode()
        else:
            frame = votes[0 if up else 1].replace('"R"', str(ref)).encode()
            up = not up
        sent = time.perf_counter()
        ws.send(frame)
        read_until(b'"ref":%d,' % ref)
        latencies.append(time.perf_counter() - sent)
        ops += 1
    out.put({"ops": ops, "latencies": latencies, "errors": errors, "version": seen_version,
             "ran": time.time() - start_at})
    # Keep listening until told the final version: when did this socket see it?
    final = out_final.get()
    ws.settimeout(30)
    while seen_version < final:
        try:
            raw = ws.recv()
        except Exception:
            break
        if isinstance(raw, int):
            seen_version = max(seen_version, raw)
    out.put({"caught_up": time.time()})
    ws.close()



out_final = None  # set per worker process


def _http_client(base, cookie, uris, target_id, seconds, out, start_at):
    http = RawHTTP(base, cookie, timeout=30)
    # Requests built before the clock starts (an add per song, a vote each way).
    adds = [http.build("/api/nests/main/songs", {"track_uri": uri}) for uri in uris]
    votes = [http.build("/api/nests/main/vote", {"id": target_id, "up": up})
             for up in (True, False)]
    latencies, errors, ops, statuses = [], 0, 0, {}
    while time.time() < start_at:
        time.sleep(0.001)
    end = time.time() + seconds
    up = True
    while time.time() < end:
        if ops % 8 == 7 and adds:
            raw = adds.pop()
        else:
            raw = votes[0 if up else 1]
            up = not up
        sent = time.perf_counter()
        status = http.post(raw)
        latencies.append(time.perf_counter() - sent)
        if status != 200:
            errors += 1
            statuses[status] = statuses.get(status, 0) + 1
        ops += 1
    http.close()
    out.put({"ops": ops, "latencies": latencies, "errors": errors, "statuses": statuses})


def _worker(kind, jobs, seconds, out, finals, start_at, adds_only=False):
    global out_final
    out_final = finals
    threads = []
    for job in jobs:
        target = _ws_client if kind == "ws" else _http_client
        args = (job["url"], job["cookie"], job["uris"], job["target"], seconds, out, start_at)
        if kind == "ws":
            args += (adds_only,)
        threads.append(threading.Thread(target=target, args=args, daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)


def run_clients(kind, base_urls, cookies, uris_each, target_id, seconds, client_redis,
                adds_only=False):
    """Run len(cookies) clients split over up to 4 processes; returns the measurements."""
    ctx = multiprocessing.get_context("fork")
    out, finals = ctx.Queue(), ctx.Queue()
    n = len(cookies)
    procs_n = min(4, n)
    jobs = [[] for _ in range(procs_n)]
    for i, cookie in enumerate(cookies):
        url = base_urls[i % len(base_urls)]
        jobs[i % procs_n].append({"url": ws_url(url) if kind == "ws" else url, "cookie": cookie,
                                  "uris": uris_each[i], "target": target_id})
    start_at = time.time() + 1.0
    cpu_before = {kind: cpu_seconds(kind) for kind in WATCH}
    workers = [ctx.Process(target=_worker,
                           args=(kind, j, seconds, out, finals, start_at, adds_only))
               for j in jobs]
    observer, seen_at = None, []
    if kind == "http":  # one listener, read all along, to see when the fan-out caught up
        observer = RawWS(ws_url(base_urls[0]), cookies[0], timeout=90)

        def observe():
            while True:
                try:
                    raw = observer.recv()
                except Exception:
                    return
                if isinstance(raw, int):
                    seen_at.append((time.time(), raw))

        threading.Thread(target=observe, daemon=True).start()
    for w in workers:
        w.start()
    results = [out.get(timeout=seconds + 60) for _ in range(n)]
    final = int(client_redis.get(keys.nest_key("main", keys.VERSION)) or 0)
    caught = []
    if kind == "ws":
        for _ in range(n):
            finals.put(final)
        caught = [out.get(timeout=90)["caught_up"] for _ in range(n)]
    else:
        deadline = time.time() + 60
        while time.time() < deadline and not any(v >= final for _, v in seen_at):
            time.sleep(0.01)
        caught = [min((t for t, v in seen_at if v >= final), default=time.time())]
        observer.close()
    cpu = {kind: cpu_seconds(kind) - cpu_before[kind] for kind in WATCH}
    for w in workers:
        w.join(30)
    ops = sum(r["ops"] for r in results)
    lat = [x for r in results for x in r["latencies"]]
    ran = min(seconds, max(r.get("ran", seconds) for r in results))
    statuses: dict[str, int] = {}
    for r in results:
        for status, count in r.get("statuses", {}).items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    return {"clients": n, "ops": ops, "errors": sum(r["errors"] for r in results),
            **({"error_statuses": statuses} if statuses else {}),
            "acked_per_s": round(ops / ran, 1),
            "sustained_per_s": round(ops / (max(caught) - start_at), 1),
            "backlog_s": round(max(caught) - start_at - ran, 2),
            "p50_ms": round(pct(lat, 0.5) * 1000, 2), "p99_ms": round(pct(lat, 0.99) * 1000, 2),
            # CPU time per op (whole run incl. fan-out): what a dedicated core would allow.
            "web_cpu_ms_per_op": round(cpu["web"] * 1000 / max(ops, 1), 3),
            "redis_cpu_ms_per_op": round(cpu["redis"] * 1000 / max(ops, 1), 3)}


def redis_cost(url, base_url, cookie, target_id, uris, *, votes=100, adds=20):
    """Round trips / commands per vote and per add with one client, fan-out included
    (one listener: the acting socket itself), then the action alone (the fan-out's reads
    — the READ script, names — left out)."""
    ws = websocket.create_connection(ws_url(base_url), header=[f"Cookie: {cookie}"], timeout=30)

    def act(frame):
        ws.send(json.dumps(frame))
        while json.loads(ws.recv()).get("ref") != frame["ref"]:
            pass

    act({"action": "vote", "args": {"id": target_id, "up": True}, "ref": 0})  # warm
    out = {}
    for name, n, frame_of in (
            ("vote", votes, lambda i: {"action": "vote", "args": {"id": target_id,
                                                                    "up": i % 2 == 0}}),
            ("add", adds, lambda i: {"action": "add_song", "args": {"track_uri": uris.pop()}})):
        with Monitor(url) as mon:
            for i in range(n):
                act({**frame_of(i), "ref": i + 1})
            time.sleep(0.5)
        top, total = mon.counts()
        # The fan-out's reads: the queue read script (no nest guard keys), names, library.
        fanout = [ln for ln in mon.lines if not ln.startswith("lua") and (
            ("EVALSHA" in ln and "NESTS|deleting" not in ln) or "NESTS|user-names" in ln
            or "LIBRARY|" in ln)]
        out[name] = {"round_trips_per_action_with_fanout": round(top / n, 2),
                     "round_trips_per_action_alone": round((top - len(fanout)) / n, 2),
                     "commands_per_action_with_fanout": round(total / n, 1)}
    ws.close()
    return out


def commands_per_add(url, client, uris, sizes):
    """Redis commands one add costs (inside its script) at each queue size."""
    from db import DB
    from echonest.catalog import get_catalog

    catalog = get_catalog(None, client)
    db = DB("main", init_history_to_redis=False, redis_client=client)
    db.clear("bench", is_admin=True)
    out = {}
    for size in sizes:
        while db.queue_size() < size:
            db.add_song(catalog.lookup(uris.pop()), f"guest:{db.queue_size() % 32}")
        with Monitor(url) as mon:
            db.add_song(catalog.lookup(uris.pop()), "guest:probe")
        out[size] = mon.counts()[1]
    db.clear("bench", is_admin=True)
    return out


# --- scenarios -----------------------------------------------------------------------------
def scenario_ops(engine_url, client, opts, tmp):
    rows = []
    for web_n in opts.ops_web:
        with web_servers(engine_url, web_n, tmp) as (urls, _):
            base = urls[0]
            uris = track_uris(client)
            cookies = [guest_cookie(base, f"Bench {i}") for i in range(max(opts.clients))]
            owner = guest_cookie(base, "Owner")
            target = requests.post(f"{base}/api/nests/main/songs",
                                   json={"track_uri": uris.pop()},
                                   headers={"Cookie": owner}, timeout=10).json()["id"]
            if web_n == opts.ops_web[0]:
                rows.append({"scenario": "redis cost per action (1 WebSocket client)",
                             **redis_cost(engine_url, base, cookies[0], target, uris)})
                print(json.dumps(rows[-1]), flush=True)
            for kind in ("ws", "http"):
                for n in opts.clients:
                    pool = [uris[i::n][:40] for i in range(n)]
                    for used in pool:
                        for uri in used:
                            uris.remove(uri)
                    # Clients spread round-robin over the web processes (a load balancer).
                    row = {"scenario": f"{kind} queue ops", "web_processes": web_n,
                           **run_clients(kind, urls, cookies[:n], pool, target, opts.seconds,
                                         client)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    _trim_queue(client, keep=target)
                    uris = uris or track_uris(client)
            _trim_queue(client, keep="")
    return rows


def _trim_queue(client, keep):
    from db import DB

    db = DB("main", init_history_to_redis=False, redis_client=client)
    for item in db.queue_items():
        if item["id"] != keep:
            db.remove(item["id"], "bench", is_admin=True)


def scenario_grow(engine_url, client, opts, tmp):
    rows = []
    uris = track_uris(client)
    rows.append({"scenario": "commands per add by queue size",
                 "commands": commands_per_add(engine_url, client, list(uris), [5, 50, opts.grow])})
    print(json.dumps(rows[-1]), flush=True)
    with web_servers(engine_url, 1, tmp) as (urls, _):
        base = urls[0]
        n = 32
        cookies = [guest_cookie(base, f"Grower {i}") for i in range(n)]
        owner = guest_cookie(base, "Owner")
        target = requests.post(f"{base}/api/nests/main/songs", json={"track_uri": uris.pop()},
                               headers={"Cookie": owner}, timeout=10).json()["id"]
        per = (opts.grow + n - 1) // n
        pool = [uris[i * per:(i + 1) * per] for i in range(n)]
        # Adds only: every op of the 8-op cycle that is a vote is cheap; make adds dominate by
        # giving each client just its songs and a short run that ends when they are spent.
        row = run_clients("ws", [base], cookies, pool, target, opts.grow_seconds, client,
                          adds_only=True)
        size = int(client.zcard(keys.nest_key("main", keys.PRIORITY_QUEUE)))
        rows.append({"scenario": f"ws ops while the queue grows to {size}", **row})
        print(json.dumps(rows[-1]), flush=True)
        _trim_queue(client, keep=target)
    return rows
