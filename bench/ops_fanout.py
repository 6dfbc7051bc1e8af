"""bench_ops scenario ``fanout``: one actor's votes reaching N idle listeners on 1..M web processes.

Listeners are raw sockets in at most 4 processes (selectors, frames parsed by hand, only the
queue frames' ``"version"`` extracted): the former 1,000 websocket-client threads in 8
processes could not read 20,000 frames in time on 2 cores and dominated the latency.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test"), str(ROOT / "bench")]

import requests  # noqa: E402
from ops_queue import _trim_queue  # noqa: E402
from ops_sockets import _handshake, _pong_frames  # noqa: E402
from ops_support import (  # noqa: E402
    ROOT,
    guest_cookie,
    pct,
    track_uris,
    web_servers,
)

from echonest import keys  # noqa: E402

_QUEUE_PREFIX = b'{"event":"queue_update"'
_VERSION = re.compile(rb'"version":\s*(\d+)')


def _frames(buf: bytearray, sock: socket.socket, started: float, arrivals: list) -> float:
    """Consume whole server frames from ``buf``: answer pings, note queue versions with the
    time the frame's first byte was read. Returns the start time of a frame left incomplete."""
    while len(buf) >= 2:
        opcode, size, head = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                break
            size, head = int.from_bytes(buf[2:4], "big"), 4
        elif size == 127:
            if len(buf) < 10:
                break
            size, head = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < head + size:
            break
        if opcode == 0x1 and buf[head:head + len(_QUEUE_PREFIX)] == _QUEUE_PREFIX:
            found = _VERSION.search(buf, head, head + size)
            arrivals.append((started, int(found.group(1)) if found else 0))
        elif opcode == 0x9:
            _pong_frames(bytearray(buf[:head + size]), sock)
        del buf[:head + size]
    return started


def _listener_proc(urls, cookies, out, ready, done):
    """Idle listeners as raw non-blocking sockets multiplexed with ``selectors``: one process
    reads hundreds of sockets, and a frame's time is taken when its first byte is read, so the
    client's own slowness adds as little as it can to the measured latency."""
    import selectors

    sel = selectors.DefaultSelector()
    socks, arrivals, buffers, starts = [], [], {}, {}
    for i, cookie in enumerate(cookies):
        port = int(urls[i % len(urls)].rsplit(":", 1)[1])
        try:
            sock, code = _handshake(port, cookie)
        except OSError:
            continue
        if code != b"101":
            sock.close()
            continue
        sock.setblocking(False)
        mine: list = []
        socks.append(sock)
        arrivals.append(mine)
        buffers[sock] = bytearray()
        sel.register(sock, selectors.EVENT_READ, mine)
    ready.put(len(socks))
    while not done.is_set():
        for key, _ in sel.select(timeout=0.2):
            now = time.time()
            sock, buf = key.fileobj, buffers[key.fileobj]
            try:
                data = sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                continue
            if not buf:
                starts[sock] = now
            buf += data
            _frames(buf, sock, starts[sock], key.data)
            starts[sock] = now  # what is left started in this chunk
    out.put(arrivals)
    for sock in socks:
        sock.close()


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
                procs_n = max(1, min(4, listeners // 250))
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
