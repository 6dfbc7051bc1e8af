"""`python -m echonest.demo_music [--out DIR] [--force]`: build the demo library (idempotent)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from echonest.demo_music.library import generate

DEFAULT_DIR = "data/demo-music"


def _configured_dir() -> Path:
    try:
        from config import CONF
    except ImportError:
        return Path(DEFAULT_DIR)
    return Path(CONF.get("DEMO_MUSIC_DIR") or DEFAULT_DIR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m echonest.demo_music",
        description="Generate EchoNest's demo library of original music (a no-op when current).")
    parser.add_argument("--out", type=Path, help=f"target folder (default: DEMO_MUSIC_DIR or "
                                                 f"{DEFAULT_DIR})")
    parser.add_argument("--force", action="store_true", help="regenerate even when up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    out = args.out or _configured_dir()
    paths = generate(out, force=args.force)
    logging.getLogger(__name__).info("demo music: %d tracks ready in %.1f s", len(paths),
                                     time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
