"""`python -m echonest.demo_music [--out DIR] [--force]`: build the demo library (idempotent)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from echonest.demo_music.library import generate

DEFAULT_DIR = "data/demo-music"


def _settings() -> tuple[Path | None, bool]:
    """(DEMO_MUSIC_DIR, enabled) from CONF. Off when DEMO_MUSIC is false or DEMO_MUSIC_DIR is
    set empty, as the library provider reads them (catalog/library/roots.py), without importing
    the catalog: this check runs on every `make run`."""
    try:
        from config import CONF
    except ImportError:  # run from outside the checkout: plain defaults
        return Path(DEFAULT_DIR), True
    folder = CONF.get("DEMO_MUSIC_DIR")
    folder = DEFAULT_DIR if folder is None else str(folder).strip()
    mode = CONF.get("DEMO_MUSIC")
    off = mode is False or str(mode).strip().lower() in ("false", "0", "no", "off", "")
    return (Path(folder) if folder else None), not off and bool(folder)


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
    configured, enabled = _settings()
    if args.out is None and not enabled:
        logging.getLogger(__name__).info("demo music: DEMO_MUSIC is off, nothing to do")
        return 0
    out = args.out or configured
    paths = generate(out, force=args.force)
    logging.getLogger(__name__).info("demo music: %d tracks ready in %.1f s", len(paths),
                                     time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
