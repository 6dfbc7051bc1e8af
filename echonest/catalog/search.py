"""search_results(): the search API's answer shape, built from Catalog.search."""

from __future__ import annotations

from typing import Any

from echonest.catalog.library import audio_url
from echonest.catalog.track import Track

MAX_RESULTS = 10


def track_result(track: Track, audio: str | None = None) -> dict[str, Any]:
    """One search hit as the API shows it (SPEC §8); duration in whole seconds.

    ``audio_url`` is the route that streams the song here, or None: no audio on this install.
    """
    return {
        "uri": track.uri,
        "track_name": track.title,
        "artist": track.artist,
        "album": track.album,
        "duration": int(round(track.duration or 0)),
        "images": list(track.images),
        "audio_url": audio,
    }


def search_results(catalog: Any, q: Any) -> list[dict[str, Any]]:
    """At most ten hits for ``q``; bad queries raise InvalidRequest, outages CatalogError."""
    library = getattr(catalog, "audible", None)
    client = getattr(library, "client", None)

    def audio(uri: str) -> str | None:
        return audio_url(uri, client) if client is not None else None

    found = catalog.search(q, limit=MAX_RESULTS)[:MAX_RESULTS]
    return [track_result(t, audio(t.uri)) for t in found]
