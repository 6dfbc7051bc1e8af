"""Benchmark the web tier end to end on loopback (docs/performance.md, "Queue operations").

    .venv/bin/python bench/bench_ops.py                       # every scenario, ~3 minutes
    .venv/bin/python bench/bench_ops.py --only ops --seconds 5 --clients 1 8 32
    .venv/bin/python bench/bench_ops.py --only fanout --listeners 100 1000 --web 1 2
    .venv/bin/python bench/bench_ops.py --only memory --idle 10000

A private embedded Valkey and real web processes (``python -m echonest.web.server`` on ports
5140+), guests signed in through the real login page, clients in separate processes
(websocket-client / requests; TCP_NODELAY on both sides). Bounded: every scenario has a time
limit and every process started here is stopped at the end. Scenarios:

- ops:    WebSocket and HTTP queue ops (votes, plus an add every 8th op) at 1/8/32 clients for
          --seconds: acked ops/s, p50/p99 of send → ack, and *sustained* ops/s: ops divided by
          the time until every listener holds a queue showing the last op (the backlog drained);
          Redis round trips and commands per action from MONITOR over a quiet 1-client pass.
- grow:   32 WebSocket clients add distinct songs until the queue holds --grow songs; acked
          and sustained adds/s, and Redis commands per add at 5 and at --grow songs.
- fanout: --listeners idle sockets on --web processes; an actor votes 20 times; latency from
          the vote's ack to each listener's frame; p50/p99/max and listeners served all 20.
- memory: --idle raw sockets (handshake done, never read): RSS of the web process per idle
          listener, and after they all closed; file descriptors.
- close:  time for a client's close handshake to complete (50 closes).
- burst:  --burst sockets connect at once (a party's phones after a Wi-Fi blip): 101s, 5xx,
          time until every one holds the first state.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

import psutil  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
import websocket  # noqa: E402

from echonest import keys  # noqa: E402
from echonest.engine import EmbeddedEngine  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef0123456789"
BASE_PORT = 5140
_CSRF = re.compile(r"""name=["']csrf_token["'][^>]*?value=["']([^"']+)["']""")


# --- processes -----------------------------------------------------------------------------
@contextmanager
def web_servers(redis_url: str, count: int, data_dir: str, **conf):
    overrides = {"RATE_LIMITS": {}, "USE_BENDER": False, "HTTP_MAX_CONNECTIONS_PER_IP": 0,
                 "REDIS_MAX_CONNECTIONS": 400, **conf}
    env = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT),
           "GUEST_LOGIN": "true", "DATA_DIR": data_dir, "SKIP_SPOTIFY_PREFETCH": "1",
           "MUSIC_DIR": "", "DEMO_MUSIC": "false", "CATALOG": "offline"}
    procs, urls = [], []
    for n in range(count):
        port = BASE_PORT + n
        argv = [sys.executable, "-m", "echonest.web.server", "--host", "127.0.0.1",
                "--port", str(port)]
        for key, value in overrides.items():
            argv += ["--conf", f"{key}={json.dumps(value)}"]
        procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    WATCH["web"] = [p.pid for p in procs]
    try:
        for url in urls:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not start")
                time.sleep(0.2)
        yield urls, procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def guest_cookie(base_url: str, name: str) -> str:
    http = requests.Session()
    page = http.get(f"{base_url}/login/", timeout=10)
    token = _CSRF.search(page.text).group(1)
    http.post(f"{base_url}/login/guest", data={"name": name, "csrf_token": token, "next": "/"},
              allow_redirects=False, timeout=10)
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/socket"


def track_uris(client: redis.Redis) -> list[str]:
    from echonest.catalog import get_catalog

    catalog = get_catalog(None, client)
    seen: dict[str, None] = {}
    for query in "abcdefghijklmnopqrstuvwxyz":
        for track in catalog.search(query, limit=50):
            seen[track.uri] = None
    return list(seen)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- one client (runs in a worker process, one thread per client) --------------------------
def _ws_client(url, cookie, uris, target_id, seconds, out, start_at, adds_only=False):
    ws = websocket.create_connection(url, header=[f"Cookie: {cookie}"], timeout=30)
    latencies, seen_version, errors = [], 0, 0
    ops, ref = 0, 0

    def read_until(ref_wanted):
        nonlocal seen_version, errors
        while True:
            raw = ws.recv()
            if raw.startswith('{"event":"queue_update"'):
                # A queue frame can be 200 KB at 300 songs: read its version, not all of it,
                # so the client side is not what limits the run.
                seen_version = max(seen_version, _body_version(raw))
                continue
            msg = json.loads(raw)
            if msg.get("ref") == ref_wanted:
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
            frame = {"action": "add_song", "args": {"track_uri": uris.pop()}, "ref": ref}
        else:
            frame = {"action": "vote", "args": {"id": target_id, "up": up}, "ref": ref}
            up = not up
        sent = time.perf_counter()
        ws.send(json.dumps(frame))
        read_until(ref)
        latencies.append(time.perf_counter() - sent)
        ops += 1
    out.put({"ops": ops, "latencies": latencies, "errors": errors, "version": seen_version,
             "ran": time.time() - start_at})
    # Keep listening until told the final version: when did this socket see it?
    final = out_final.get()
    while seen_version < final:
        try:
            ws.settimeout(30)
            raw = ws.recv()
        except Exception:
            break
        if raw.startswith('{"event":"queue_update"'):
            seen_version = max(seen_version, _body_version(raw))
    out.put({"caught_up": time.time()})
    ws.close()


_VERSION = re.compile(r'"version":\s*(\d+)')


def _body_version(raw: str) -> int:
    found = _VERSION.search(raw)
    return int(found.group(1)) if found else 0


out_final = None  # set per worker process
WATCH: dict[str, list[int]] = {"web": [], "redis": []}  # pids whose CPU time is charged per op


def cpu_seconds(kind: str) -> float:
    total = 0.0
    for pid in WATCH[kind]:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _http_client(base, cookie, uris, target_id, seconds, out, start_at):
    http = requests.Session()
    http.headers["Cookie"] = cookie
    latencies, errors, ops = [], 0, 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = time.time() + seconds
    up = True
    while time.time() < end:
        if ops % 8 == 7 and uris:
            path, body = "/api/nests/main/songs", {"track_uri": uris.pop()}
        else:
            path, body = "/api/nests/main/vote", {"id": target_id, "up": up}
            up = not up
        sent = time.perf_counter()
        resp = http.post(base + path, json=body, timeout=30)
        latencies.append(time.perf_counter() - sent)
        errors += resp.status_code != 200
        ops += 1
    out.put({"ops": ops, "latencies": latencies, "errors": errors})


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
        observer = websocket.create_connection(ws_url(base_urls[0]),
                                               header=[f"Cookie: {cookies[0]}"], timeout=30)

        def observe():
            while True:
                try:
                    raw = observer.recv()
                except Exception:
                    return
                if raw.startswith('{"event":"queue_update"'):
                    seen_at.append((time.time(), _body_version(raw)))

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
    return {"clients": n, "ops": ops, "errors": sum(r["errors"] for r in results),
            "acked_per_s": round(ops / ran, 1),
            "sustained_per_s": round(ops / (max(caught) - start_at), 1),
            "backlog_s": round(max(caught) - start_at - ran, 2),
            "p50_ms": round(pct(lat, 0.5) * 1000, 2), "p99_ms": round(pct(lat, 0.99) * 1000, 2),
            # CPU time per op (whole run incl. fan-out): what a dedicated core would allow.
            "web_cpu_ms_per_op": round(cpu["web"] * 1000 / max(ops, 1), 3),
            "redis_cpu_ms_per_op": round(cpu["redis"] * 1000 / max(ops, 1), 3)}


# --- Redis accounting ----------------------------------------------------------------------
class Monitor:
    """MONITOR lines while active: top-level commands (round trips) vs commands run by Lua."""

    def __init__(self, url):
        self.conn = redis.Redis.from_url(url)
        self.lines: list[str] = []
        self._stop = threading.Event()

    def __enter__(self):
        self._m = self.conn.monitor()
        self._m.__enter__()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        time.sleep(0.2)
        return self

    def _read(self):
        while not self._stop.is_set():
            try:
                cmd = self._m.next_command()
            except Exception:
                return
            self.lines.append(f"{cmd['client_type']} {cmd['command'][:120]}")

    def __exit__(self, *exc):
        time.sleep(0.3)
        self._stop.set()
        try:
            self._m.__exit__(*exc)
        except Exception:
            pass

    def counts(self):
        top = [line for line in self.lines if not line.startswith("lua")]
        return len(top), len(self.lines)


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
    with web_servers(engine_url, 1, tmp) as (urls, _):
        base = urls[0]
        uris = track_uris(client)
        cookies = [guest_cookie(base, f"Bench {i}") for i in range(max(opts.clients))]
        owner = guest_cookie(base, "Owner")
        target = requests.post(f"{base}/api/nests/main/songs", json={"track_uri": uris.pop()},
                               headers={"Cookie": owner}, timeout=10).json()["id"]
        rows.append({"scenario": "redis cost per action (1 WebSocket client)",
                     **redis_cost(engine_url, base, cookies[0], target, uris)})
        print(json.dumps(rows[-1]), flush=True)
        for kind in ("ws", "http"):
            for n in opts.clients:
                pool = [uris[i::n][:40] for i in range(n)]
                for used in pool:
                    for uri in used:
                        uris.remove(uri)
                row = {"scenario": f"{kind} queue ops", **run_clients(
                    kind, [base], cookies[:n], pool, target, opts.seconds, client)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                _trim_queue(client, keep=target)
                uris = uris or track_uris(client)
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


def _listener_proc(urls, cookies, out, ready, done):
    socks = []
    for i, cookie in enumerate(cookies):
        try:
            ws = websocket.create_connection(ws_url(urls[i % len(urls)]),
                                             header=[f"Cookie: {cookie}"], timeout=60)
            socks.append(ws)
        except Exception:
            socks.append(None)
    ready.put(sum(s is not None for s in socks))
    arrivals = [[] for _ in socks]

    def listen(k, ws):
        ws.settimeout(1.0)
        while not done.is_set():
            try:
                raw = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return
            if raw.startswith('{"event":"queue_update"'):
                arrivals[k].append((time.time(), _body_version(raw)))

    threads = [threading.Thread(target=listen, args=(k, ws), daemon=True)
               for k, ws in enumerate(socks) if ws is not None]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    out.put(arrivals)
    for ws in socks:
        if ws is not None:
            ws.close()


def scenario_fanout(engine_url, client, opts, tmp):
    rows = []
    votes = 20
    for web in opts.web:
        for listeners in opts.listeners:
            with web_servers(engine_url, web, tmp) as (urls, _):
                uris = track_uris(client)
                owner = guest_cookie(urls[0], "Owner")
                target = requests.post(f"{urls[0]}/api/nests/main/songs",
                                       json={"track_uri": uris.pop()},
                                       headers={"Cookie": owner}, timeout=10).json()["id"]
                # One cookie per listener is realistic but slow to make; 50 people, many tabs.
                people = [guest_cookie(urls[0], f"Listener {i}") for i in range(50)]
                cookies = [people[i % len(people)] for i in range(listeners)]
                ctx = multiprocessing.get_context("fork")
                out, ready, done = ctx.Queue(), ctx.Queue(), ctx.Event()
                procs_n = max(1, min(8, listeners // 125))
                procs = [ctx.Process(target=_listener_proc,
                                     args=(urls, cookies[k::procs_n], out, ready, done))
                         for k in range(procs_n)]
                for p in procs:
                    p.start()
                connected = sum(ready.get(timeout=180) for _ in procs)
                time.sleep(2.0)  # initial frames delivered and drained
                actor = requests.Session()
                actor.headers["Cookie"] = owner
                sent = {}
                voter = guest_cookie(urls[0], "Voter")
                actor.headers["Cookie"] = voter
                for i in range(votes):
                    t = time.time()
                    actor.post(f"{urls[0]}/api/nests/main/vote",
                               json={"id": target, "up": i % 2 == 0}, timeout=10)
                    sent[int(client.get(keys.nest_key("main", keys.VERSION)))] = t
                    time.sleep(0.1)
                time.sleep(3.0)
                done.set()
                results = [a for _ in procs for a in out.get(timeout=180)]
                for p in procs:
                    p.join(30)
                # A listener is served a vote when a frame shows its version or a later one
                # (the fan-out merges updates a newer body already shows).
                lat, served, final = [], 0, max(sent)
                for arrivals in results:
                    if arrivals and max(v for _, v in arrivals) >= final:
                        served += 1
                    for v, t_sent in sent.items():
                        first = min((t for t, got in arrivals if got >= v), default=None)
                        if first is not None:
                            lat.append((first - t_sent) * 1000)
                row = {"scenario": "fan-out", "web_processes": web, "listeners": listeners,
                       "connected": connected, "served_last_vote": served,
                       "p50_ms": round(pct(lat, 0.5), 1), "p99_ms": round(pct(lat, 0.99), 1),
                       "max_ms": round(max(lat), 1) if lat else None}
                rows.append(row)
                print(json.dumps(row), flush=True)
                _trim_queue(client, keep="")
    return rows


def _handshake(port, cookie):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /socket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head.split(b" ", 2)[1] if head else b"000"


def _pong_frames(buf: bytearray, sock: socket.socket) -> None:
    """Consume whole server frames from ``buf``; answer pings (the server drops a socket that
    never pongs), ignore the rest. Server frames are unmasked."""
    while len(buf) >= 2:
        opcode, size, head = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                return
            size, head = int.from_bytes(buf[2:4], "big"), 4
        elif size == 127:
            if len(buf) < 10:
                return
            size, head = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < head + size:
            return
        payload = bytes(buf[head:head + size])
        del buf[:head + size]
        if opcode == 0x9:
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)


def _idle_proc(port, cookie, n, out, hold):
    import selectors

    socks, codes, buffers = [], {}, {}
    sel = selectors.DefaultSelector()

    def pump(timeout):
        for key, _ in sel.select(timeout=timeout):
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                continue
            buffers[key.fileobj] += data
            _pong_frames(buffers[key.fileobj], key.fileobj)

    for _ in range(n):
        try:
            s, code = _handshake(port, cookie)
        except OSError:
            codes["error"] = codes.get("error", 0) + 1
            continue
        socks.append(s)
        codes[code.decode()] = codes.get(code.decode(), 0) + 1
        s.setblocking(False)
        buffers[s] = bytearray()
        sel.register(s, selectors.EVENT_READ)
        pump(0)  # answer pings while still connecting the rest
    out.put(codes)
    while hold.empty():  # idle listeners: read what comes, answer pings, nothing else
        pump(0.5)
    hold.get()
    started = time.perf_counter()
    for s in socks:
        s.close()
    out.put(time.perf_counter() - started)


def scenario_memory(engine_url, client, opts, tmp):
    rows = []
    with web_servers(engine_url, 1, tmp) as (urls, procs):
        port = BASE_PORT
        proc = psutil.Process(procs[0].pid)
        cookie = guest_cookie(urls[0], "Idler")
        # Warm the process (imports, pools, the fan-out) with a few sockets first.
        warm = [_handshake(port, cookie)[0] for _ in range(20)]
        time.sleep(1)
        for s in warm:
            s.close()
        time.sleep(2)
        before, fds_before = proc.memory_info().rss, proc.num_fds()
        ctx = multiprocessing.get_context("fork")
        out, hold = ctx.Queue(), ctx.Queue()
        workers_n = 10
        per = opts.idle // workers_n
        started = time.perf_counter()
        workers = [ctx.Process(target=_idle_proc, args=(port, cookie, per, out, hold))
                   for _ in range(workers_n)]
        for w in workers:
            w.start()
        codes: dict[str, int] = {}
        for _ in workers:
            for k, v in out.get(timeout=600).items():
                codes[k] = codes.get(k, 0) + v
        connect_s = time.perf_counter() - started
        time.sleep(3)
        at_n, fds_at_n = proc.memory_info().rss, proc.num_fds()
        for _ in workers:
            hold.put(1)
        time.sleep(1)
        close_s = max(out.get(timeout=600) for _ in workers)
        for w in workers:
            w.join(60)
        deadline = time.monotonic() + 60
        while proc.num_fds() > fds_before + 20 and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(3)
        after = proc.memory_info().rss
        rows.append({"scenario": "idle listeners", "sockets": opts.idle, "handshakes": codes,
                     "connect_s": round(connect_s, 1),
                     "rss_before_mib": round(before / 2**20, 1),
                     "rss_at_n_mib": round(at_n / 2**20, 1),
                     "kib_per_listener": round((at_n - before) / opts.idle / 1024, 1),
                     "fds_per_listener": round((fds_at_n - fds_before) / opts.idle, 2),
                     "rss_after_close_mib": round(after / 2**20, 1),
                     "client_close_s": round(close_s, 1),
                     "fds_after_close": proc.num_fds() - fds_before})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def scenario_close(engine_url, client, opts, tmp):
    with web_servers(engine_url, 1, tmp) as (urls, _):
        cookie = guest_cookie(urls[0], "Closer")
        times = []
        for _ in range(50):
            ws = websocket.create_connection(ws_url(urls[0]), header=[f"Cookie: {cookie}"],
                                             timeout=10)
            ws.recv()
            ws.recv()
            started = time.perf_counter()
            ws.close(timeout=5)  # sends the close frame, waits for the server's
            times.append(time.perf_counter() - started)
        row = {"scenario": "client close handshake", "closes": len(times),
               "p50_ms": round(pct(times, 0.5) * 1000, 1),
               "max_ms": round(max(times) * 1000, 1)}
        print(json.dumps(row), flush=True)
        return [row]


def _burst_one(url, cookie, results, go):
    go.wait()
    started = time.perf_counter()
    try:
        ws = websocket.create_connection(url, header=[f"Cookie: {cookie}"], timeout=60)
        first = json.loads(ws.recv())
        results.append(("ok" if first.get("event") else "odd",
                        time.perf_counter() - started))
        ws.close()
    except websocket.WebSocketBadStatusException as exc:
        results.append((str(exc.status_code), time.perf_counter() - started))
    except Exception as exc:
        results.append((type(exc).__name__, time.perf_counter() - started))


def _burst_proc(url, cookie, n, out, start_at):
    results, go = [], threading.Event()
    threads = [threading.Thread(target=_burst_one, args=(url, cookie, results, go), daemon=True)
               for _ in range(n)]
    for t in threads:
        t.start()
    while time.time() < start_at:
        time.sleep(0.001)
    go.set()
    for t in threads:
        t.join(120)
    out.put(results)


def scenario_burst(engine_url, client, opts, tmp):
    with web_servers(engine_url, 1, tmp) as (urls, _):
        cookie = guest_cookie(urls[0], "Burst")
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        procs_n = 5
        start_at = time.time() + 2
        procs = [ctx.Process(target=_burst_proc,
                             args=(ws_url(urls[0]), cookie, opts.burst // procs_n, out, start_at))
                 for _ in range(procs_n)]
        for p in procs:
            p.start()
        results = [r for _ in procs for r in out.get(timeout=180)]
        for p in procs:
            p.join(30)
        outcomes: dict[str, int] = {}
        for outcome, _ in results:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        ok = [t for o, t in results if o == "ok"]
        row = {"scenario": "reconnect burst", "sockets": len(results), "outcomes": outcomes,
               "first_state_p50_ms": round(pct(ok, 0.5) * 1000, 1),
               "all_served_s": round(max(ok), 2) if ok else None}
        print(json.dumps(row), flush=True)
        return [row]


SCENARIOS = {"ops": scenario_ops, "grow": scenario_grow, "fanout": scenario_fanout,
             "memory": scenario_memory, "close": scenario_close, "burst": scenario_burst}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--grow", type=int, default=320)
    parser.add_argument("--grow-seconds", type=float, default=20.0)
    parser.add_argument("--listeners", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--web", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--burst", type=int, default=500)
    opts = parser.parse_args()
    os.environ.update({"MUSIC_DIR": "", "DEMO_MUSIC": "false", "SKIP_SPOTIFY_PREFETCH": "1"})
    with tempfile.TemporaryDirectory(prefix="echonest-bench-") as tmp:
        for name in ("engine", *SCENARIOS):
            (Path(tmp) / name).mkdir()
        engine = EmbeddedEngine(Path(tmp) / "engine", persist=False).start()
        try:
            from config import CONF

            CONF.REDIS_URL = engine.url
            WATCH["redis"] = [engine.process.pid]
            client = redis.Redis.from_url(engine.url, decode_responses=True)
            print(json.dumps({"machine": {"cpus": os.cpu_count(),
                                          "load": os.getloadavg()}}), flush=True)
            for name in opts.only:
                client.flushdb()
                SCENARIOS[name](engine.url, client, opts, str(Path(tmp) / name))
        finally:
            engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
