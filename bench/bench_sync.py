"""Benchmark synchronized playback across real Chromium pages on one machine (docs/performance.md).

    .venv/bin/python bench/bench_sync.py [--pages 4] [--seconds 60] [--interval 0.25]

Starts a private embedded Valkey, a web process and a player worker over a generated music
folder (one 4-minute MP3 copied under three titles), opens N pages in one nest (each its own
browser context, as N phones would be), presses Sync audio on each and measures:

- **time to settle**: from the click to the first moment the page's audible position stays within
  20 ms of the server clock for 2 s (sampled every 50 ms);
- **skew vs the server clock**: the page hook's audible position against the machine's own clock
  (server and pages share it), so clock-sync error is included;
- **pairwise skew**: |error_i − error_j| for every pair of pages, sampled in the same round.

Chromium runs with --autoplay-policy=no-user-gesture-required (headless has no user to tap).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "test"))

from browser_helpers import Visitor, browser  # noqa: E402
from servers import player_worker, web_server  # noqa: E402
from sync_support import (  # noqa: E402
    find_library_uris,
    library_env,
    make_music_dir,
    pairwise,
    percentile,
    playing,
    sample,
    start_ms,
)

SETTLE_MS = 20.0
SETTLE_HOLD_S = 2.0


def settle_time(visitor: Visitor, code: str, host: Visitor, limit: float = 20.0) -> float:
    """Seconds from pressing Sync audio until the page stays within SETTLE_MS for SETTLE_HOLD_S."""
    start = start_ms(playing(host, code))
    clicked = time.monotonic()
    visitor.page.click("#sync-btn")
    first_good = None
    while time.monotonic() - clicked < limit:
        s = sample(visitor, start)
        now = time.monotonic()
        if s["err_ms"] is not None and abs(s["err_ms"]) <= SETTLE_MS:
            if first_good is None:
                first_good = now
            elif now - first_good >= SETTLE_HOLD_S:
                return first_good - clicked
        else:
            first_good = None
        time.sleep(0.05)
    return float("inf")


def describe(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50):6.2f}  p95 {percentile(values, 95):6.2f}  "
            f"max {max(values):6.2f}  (n={len(values)})")


def machine() -> str:
    try:
        mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.split("\n")[1]
        mem = mem.split()[1]
    except Exception:
        mem = "?"
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True,
                              text=True).stdout.strip()
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), {mem} RAM, "
            f"Python {platform.python_version()}, {chromium}, "
            f"load average at start {load[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=0.25)
    args = ap.parse_args()

    from echonest.engine import EmbeddedEngine

    print(machine())
    with tempfile.TemporaryDirectory(prefix="echonest-bench-sync-") as tmp:
        engine = EmbeddedEngine(str(Path(tmp) / "engine"), persist=False).start()
        try:
            music = make_music_dir(Path(tmp) / "music")
            env = library_env(music)
            with web_server(engine.url, {"USE_BENDER": False}, **env) as srv, \
                    player_worker(engine.url, USE_BENDER="false", **env), browser() as chromium:
                run(chromium, srv.url, args)
        finally:
            engine.stop()


def run(chromium, url: str, args) -> None:
    host = Visitor(chromium, url, "Bench Host")
    code = host.build_nest("Bench Sync")
    host.goto(f"/nest/{code}")
    hits = find_library_uris(host)
    for title in ("First Light", "Second Wind"):
        host.api_post(f"/api/nests/{code}/songs", {"track_uri": hits[title]["uri"]})
    pages = [host] + [Visitor(chromium, url, f"Listener {i}") for i in range(1, args.pages)]
    for v in pages[1:]:
        v.goto(f"/nest/{code}")
    time.sleep(1.0)  # every page has its clock sync and the song's state

    settles = [settle_time(v, code, host) for v in pages]
    print(f"settle (s) per page: {', '.join(f'{s:.2f}' for s in settles)}")

    start = start_ms(playing(host, code))
    vs_clock: list[float] = []
    vs_own_clock: list[float] = []
    pairs: list[float] = []
    rounds = 0
    restarts_before = [v.page.evaluate("window.EchoNest.playback().restarts") for v in pages]
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        samples = [sample(v, start) for v in pages]
        if all(s["err_ms"] is not None for s in samples):
            errors = [s["err_ms"] for s in samples]
            vs_clock.extend(abs(e) for e in errors)
            vs_own_clock.extend(abs(s["est_err_ms"]) for s in samples)
            pairs.extend(pairwise(errors))
            rounds += 1
        time.sleep(args.interval)
    restarts = [v.page.evaluate("window.EchoNest.playback().restarts") - b
                for v, b in zip(pages, restarts_before, strict=True)]

    print(f"pages {len(pages)}, {rounds} rounds over {args.seconds:.0f} s "
          f"(every {args.interval * 1000:.0f} ms), reschedules during sampling: {restarts}")
    print(f"pairwise skew (ms)             {describe(pairs)}")
    print(f"skew vs server clock (ms)      {describe(vs_clock)}")
    print(f"skew vs page's clock estimate  {describe(vs_own_clock)}")
    finite = [s for s in settles if s != float('inf')]
    print(f"time to settle (s)             p50 {statistics.median(finite):.2f}  "
          f"max {max(settles):.2f}" if finite else "never settled")
    for v in pages:
        v.close()


if __name__ == "__main__":
    main()
