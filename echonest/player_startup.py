"""A player worker's start-up chores: the main nest's entry, the bucket index, the play history,
and the music library scanner thread. Each is logged and skipped on failure: none may keep the
worker from playing.
"""

from __future__ import annotations

import logging
import threading

import redis

from config import CONF
from echonest import keys

log = logging.getLogger("master_player")


def start_up(client: redis.Redis) -> None:
    """Before the first pass: the main nest exists, every registered nest is listed in its
    player bucket, the play history is loaded."""
    from nests import NestManager

    try:
        NestManager(client).ensure_main()
    except Exception:
        log.exception("could not ensure the main nest's registry entry")
    try:
        from echonest.player_shares import index_all

        index_all(client, client.hkeys(keys.NESTS_REGISTRY))
    except Exception:
        log.exception("could not list the nests in their player buckets")
    try:
        from echonest.history import load_history
    except ImportError:
        return
    try:
        load_history(client)
    except Exception:
        log.exception("could not load play history")


def start_library_scanner(client: redis.Redis, stop: threading.Event) -> None:
    """Rescan the music folders in the background: a big first scan never delays the player.

    Runs even with no folder configured, so songs of a folder since removed from MUSIC_DIR
    leave the shared index (their audio_url turns null) instead of lingering.
    """
    try:
        from echonest.catalog.library.scan import start_scan_loop

        start_scan_loop(client, CONF, stop)
    except Exception:
        log.exception("could not start the music library scanner")
