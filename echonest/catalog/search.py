"""search_results(): the search API's answer shape, built from Catalog.search."""

from __future__ import annotations

from typing import Any

from echonest.catalog.track import Track

MAX_RESULTS = 10


def track_result(track: Track) -> dict[str, Any]:
    """One search hit as the API shows it (SPEC §8); duration in whole seconds."""
    return {
        "uri": track.uri,
        "track_name": track.title,
        "artist": track.artist,
        "album": track.album,
        "duration": int(round(track.duration or 0)),
        "images": list(track.images),
    }


def search_results(catalog: Any, q: Any) -> list[dict[str, Any]]:
    """At most ten hits for ``q``; bad queries raise InvalidRequest, outages CatalogError."""
    return [track_result(t) for t in catalog.search(q, limit=MAX_RESULTS)][:MAX_RESULTS]
