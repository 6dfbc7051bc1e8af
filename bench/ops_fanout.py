"""bench_ops scenario ``fanout``: one actor's votes reaching N idle listeners on 1..M web processes."""

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
from ops_queue import _trim_queue  # noqa: E402
from ops_support import (  # noqa: E402
    ROOT,
    _body_version,
    guest_cookie,
    pct,
    track_uris,
    web_servers,
    ws_url,
)

from echonest import keys  # noqa: E402


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
