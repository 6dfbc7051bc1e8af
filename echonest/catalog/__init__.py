"""Catalog package: get_catalog() builds the configured providers behind one Catalog."""

from __future__ import annotations

import logging
import threading
from typing import Any

from echonest.catalog.base import Album, Provider
from echonest.catalog.registry import Catalog
from echonest.catalog.search import search_results
from echonest.catalog.track import Track

__all__ = ["Album", "Catalog", "Provider", "Track", "catalog_mode", "get_catalog", "reset_catalogs",
           "search_results"]

log = logging.getLogger(__name__)

MODES = ("offline", "spotify", "auto")
_SPOTIFY_KEYS = ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_API_BASE",
                 "SPOTIFY_AUTH_BASE", "SPOTIFY_MARKET")
_LIBRARY_KEYS = ("MUSIC_DIR", "DEMO_MUSIC", "DEMO_MUSIC_DIR", "LIBRARY_RESCAN_SECONDS")

# Value keeps the redis client alive so its id() in the key cannot be reused by another one.
_cache: dict[tuple, tuple[Catalog, Any]] = {}
_lock = threading.Lock()


def catalog_mode(conf: Any) -> str:
    """"offline" or "spotify": what CONF.CATALOG resolves to ("auto" = spotify iff configured)."""
    mode = str(conf.CATALOG or "auto").strip().lower()
    if mode not in MODES:
        raise ValueError(f"CATALOG must be one of {', '.join(MODES)}, not {conf.CATALOG!r}")
    if mode == "auto":
        return "spotify" if conf.SPOTIFY_CLIENT_ID else "offline"
    return mode


def _library(conf: Any, redis_client: Any) -> Provider | None:
    """The music library provider when any music folder is configured (it may still be empty)."""
    from echonest.catalog.library import LibraryProvider
    from echonest.catalog.library.roots import configured_roots

    if not configured_roots(conf).all:
        return None
    if redis_client is None:
        from echonest.store import default_client

        try:
            redis_client = default_client()
        except Exception:  # the index lives in Redis: no Redis here, no library
            log.warning("music library disabled: no Redis configured", exc_info=True)
            return None
    return LibraryProvider(conf, redis_client)


def _build(conf: Any, redis_client: Any) -> Catalog:
    from echonest.catalog.offline import OfflineProvider

    offline = OfflineProvider()
    library = _library(conf, redis_client)
    if catalog_mode(conf) == "offline":
        return Catalog([offline], conf=conf, audible=library)
    try:
        from echonest.catalog.spotify import SpotifyProvider

        spotify = SpotifyProvider(conf, redis_client)
    except Exception:
        if str(conf.CATALOG or "auto").strip().lower() == "spotify":
            raise
        # "auto" must still give a working install when the Spotify side cannot start.
        log.warning("Spotify catalog unavailable; using the offline catalog", exc_info=True)
        return Catalog([offline], conf=conf, audible=library)
    # The offline provider stays registered so local: songs already queued keep playing.
    return Catalog([spotify, offline], default=spotify, conf=conf, audible=library)


def get_catalog(conf: Any = None, redis_client: Any = None) -> Catalog:
    """The process-wide Catalog for this configuration (built on first call, then cached)."""
    if conf is None:
        from config import CONF as conf
    key = (catalog_mode(conf), conf.SEARCH_MAX_QUERY_LENGTH,
           *(conf.get(k) for k in _SPOTIFY_KEYS),
           *(str(conf.get(k)) for k in _LIBRARY_KEYS), id(redis_client))
    with _lock:
        entry = _cache.get(key)
        if entry is None:
            entry = _cache[key] = (_build(conf, redis_client), redis_client)
        return entry[0]


def reset_catalogs() -> None:
    """Forget cached catalogs (tests that change CONF.CATALOG)."""
    with _lock:
        _cache.clear()
