"""bench_ops scenarios ``memory``, ``close`` and ``burst``: what idle sockets cost, how fast a
close completes, and a reconnect burst."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test"), str(ROOT / "bench")]

import psutil  # noqa: E402
import websocket  # noqa: E402
from ops_support import (  # noqa: E402
    BASE_PORT,
    ROOT,
    guest_cookie,
    pct,
    web_servers,
    ws_url,
)


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


def _memory_wave(proc, port, cookie, n, fds_before, idle, wave):
    """One wave: n idle sockets connect, stay, all leave; RSS at each stage. A later wave
    starting where the last one settled shows whether what stays held is reused or lost."""
    before = proc.memory_info().rss
    ctx = multiprocessing.get_context("fork")
    out, hold = ctx.Queue(), ctx.Queue()
    workers_n = 10
    per = n // workers_n
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
    # The process gives memory back once the wave of leaves has settled (memory.py):
    # sample until RSS stops falling (bounded), to see what it keeps for good.
    settled, deadline = after, time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(2)
        now_rss = proc.memory_info().rss
        if now_rss >= settled - 2**20 and time.monotonic() > deadline - 20:
            settled = min(settled, now_rss)
            break
        settled = min(settled, now_rss)
    return {"scenario": "idle listeners", "wave": wave, "sockets": n, "handshakes": codes,
            "connect_s": round(connect_s, 1),
            "rss_idle_mib": round(idle / 2**20, 1),
            "rss_before_mib": round(before / 2**20, 1),
            "rss_at_n_mib": round(at_n / 2**20, 1),
            "kib_per_listener": round((at_n - before) / n / 1024, 1),
            "fds_per_listener": round((fds_at_n - fds_before) / n, 2),
            "rss_after_close_mib": round(after / 2**20, 1),
            "rss_settled_mib": round(settled / 2**20, 1),
            "client_close_s": round(close_s, 1),
            "fds_after_close": proc.num_fds() - fds_before}


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
        idle, fds_before = proc.memory_info().rss, proc.num_fds()
        for wave in range(1, opts.waves + 1):
            rows.append(_memory_wave(proc, port, cookie, opts.idle, fds_before, idle, wave))
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
