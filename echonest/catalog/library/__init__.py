"""Music library provider: the operator's audio files (MUSIC_DIR), scanned into a shared index.

``audio_url(uri)`` is the one place that says whether a song can be heard on this install.
"""

from __future__ import annotations

import logging
from typing import Any

from echonest.catalog.library.index import TRACK_PREFIX, audio_path, shared_index
from echonest.catalog.library.provider import LibraryProvider
from echonest.catalog.library.roots import is_track_id

__all__ = ["LibraryProvider", "audio_url", "shared_index"]

log = logging.getLogger(__name__)


def audio_url(uri: Any, redis_client: Any = None) -> str | None:
    """``/audio/<id>`` for a library track present in the index, else None (no audio here)."""
    if not isinstance(uri, str) or not uri.startswith(TRACK_PREFIX):
        return None
    track_id = uri[len(TRACK_PREFIX):]
    if not is_track_id(track_id):
        return None
    if redis_client is None:
        from echonest.store import default_client

        redis_client = default_client()
    try:
        present = shared_index(redis_client).has(track_id)
    except Exception:  # an index we cannot read means no audio, not a broken queue
        log.warning("library index unreadable; audio_url is null", exc_info=True)
        return None
    return audio_path(track_id) if present else None
