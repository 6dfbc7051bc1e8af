"""Benchmark the web tier end to end on loopback (docs/performance.md, "Queue operations").

    .venv/bin/python bench/bench_ops.py                       # every scenario, ~3 minutes
    .venv/bin/python bench/bench_ops.py --only ops --seconds 5 --clients 1 8 32 [--ops-web 1 2]
    .venv/bin/python bench/bench_ops.py --only fanout --listeners 100 1000 --web 1 2
    .venv/bin/python bench/bench_ops.py --only memory --idle 10000
    .venv/bin/python bench/bench_ops.py --only ops --clients 32 --pin-web   # server on its own CPU

A private embedded Valkey and real web processes (``python -m echonest.web.server`` on ports
5140+), guests signed in through the real login page, clients in separate processes
(TCP_NODELAY on both sides). The ops/grow clients are lean raw-socket ones (ops_support.RawWS /
RawHTTP: a real handshake and real frames, HTTP/1.1 keep-alive, requests and frames built
before the clock starts, queue frames read for their version without decoding): with
websocket-client and requests the client processes, not the server, set the pace (87 % CPU in
the client vs 25 % in the server at one WebSocket client). What each row means is unchanged.
BENCH_SERVER_ROOT=<dir> serves another checkout's code (e.g. ``git archive`` of an older
commit) under this same harness, for before/after rows. Bounded: every scenario has a time
limit and every process started here is stopped at the end. Scenarios:

- ops:    WebSocket and HTTP queue ops (votes, plus an add every 8th op) at 1/8/32 clients for
          --seconds: acked ops/s, p50/p99 of send → ack, and *sustained* ops/s: ops divided by
          the time until every listener holds a queue showing the last op (the backlog drained);
          Redis round trips and commands per action from MONITOR over a quiet 1-client pass.
- grow:   32 WebSocket clients add distinct songs until the queue holds --grow songs; acked
          and sustained adds/s, and Redis commands per add at 5 and at --grow songs.
- fanout: --listeners idle raw sockets on --web processes; an actor votes 20 times; latency
          from just before each vote's POST to the first byte of each listener's frame showing
          that version; p50/p99/max and listeners served all 20.
- memory: --idle raw sockets (handshake done, never read): RSS of the web process per idle
          listener, after they all closed and once RSS settles; file descriptors. --waves N
          repeats the wave on the same process: what stays held is reused, or it grows.
- close:  time for a client's close handshake to complete (50 closes).
- burst:  --burst sockets connect at once (a party's phones after a Wi-Fi blip): 101s, 5xx,
          time until every one holds the first state.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "test"), str(ROOT / "bench")]

import redis  # noqa: E402
from ops_fanout import scenario_fanout  # noqa: E402
from ops_queue import scenario_grow, scenario_ops  # noqa: E402
from ops_sockets import scenario_burst, scenario_close, scenario_memory  # noqa: E402
from ops_support import (  # noqa: E402
    ROOT,
    WATCH,
)

from echonest.engine import EmbeddedEngine  # noqa: E402

SCENARIOS = {"ops": scenario_ops, "grow": scenario_grow, "fanout": scenario_fanout,
             "memory": scenario_memory, "close": scenario_close, "burst": scenario_burst}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--ops-web", type=int, nargs="+", default=[1],
                        help="web processes behind the ops clients (round-robin), e.g. 1 2")
    parser.add_argument("--grow", type=int, default=320)
    parser.add_argument("--grow-seconds", type=float, default=20.0)
    parser.add_argument("--listeners", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--web", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--waves", type=int, default=1,
                        help="memory: waves of --idle sockets one after another")
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--pin-web", action="store_true",
                        help="web processes on the last CPU, everything else on the others")
    opts = parser.parse_args()
    if opts.pin_web:
        os.environ["BENCH_PIN_WEB"] = "1"
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
