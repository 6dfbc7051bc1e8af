"""How long `make install` spends synthesizing the demo library, and how big it is.

    .venv/bin/python bench/bench_demo_music.py [--workers N] [--out DIR]

Regenerates all twelve tracks (force) into a temporary folder and reports wall time, the CPU
time of this process and its workers, the audio length and the size on disk. The machine is
shared, so the load average at start is printed too: wall time means little without it.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from echonest.demo_music import generate  # noqa: E402
from echonest.demo_music.plan import PLAN  # noqa: E402


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-music-bench-") as tmp:
        out = args.out or Path(tmp)
        load = os.getloadavg()
        cpu, wall = cpu_seconds(), time.perf_counter()
        paths = generate(out, force=True, workers=args.workers)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        started = time.perf_counter()
        generate(out, workers=args.workers)
        noop = time.perf_counter() - started
        audio = sum(p.planned_seconds for p in PLAN)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        mp3 = sum(p.stat().st_size for p in paths)
        print(f"cores: {os.cpu_count()}  load average at start: {load[0]:.1f}")
        print(f"tracks: {len(paths)}  audio: {audio / 60:.1f} min")
        print(f"generate (force): wall {wall:.1f} s, cpu {cpu:.1f} s "
              f"({audio / cpu:.0f}x real time per core)")
        print(f"rerun when up to date: {noop * 1000:.0f} ms")
        print(f"size: {size / 1e6:.1f} MB total, {mp3 / 1e6:.1f} MB of MP3")


if __name__ == "__main__":
    main()
