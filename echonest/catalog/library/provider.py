"""LibraryProvider: the party's own music files under the library: scheme, playable here."""

from __future__ import annotations

import re
import time
from typing import Any

from echonest.catalog.library import scan
from echonest.catalog.library.index import CHECK_SECONDS, LibraryData, shared_index
from echonest.catalog.tables import TableProvider, by_album, spread
from echonest.catalog.track import Track

_LIBRARY_TRACK = re.compile(r"^library:track:([0-9a-f]{16})$")


class LibraryProvider(TableProvider):
    """Search, lookup and every Bender lookup over the shared library index.

    Reading costs nothing per call (the index is cached per process); every CHECK_SECONDS a
    call also checks whether the index is stale and, if nobody is scanning, starts a scan.
    """

    name = "library"
    uri_schemes = ("library",)

    def __init__(self, conf: Any, redis_client: Any):
        self.conf = conf
        self.client = redis_client
        self.index = shared_index(redis_client)
        self._stale_checked = float("-inf")

    @property
    def data(self) -> LibraryData:
        data = self.index.data()
        if time.monotonic() - self._stale_checked >= CHECK_SECONDS:
            self._stale_checked = time.monotonic()
            scan.scan_in_background_if_stale(self.client, self.conf, self.index)
        return data

    def has_tracks(self) -> bool:
        """True when the library can play something: it then leads search and Bender."""
        return bool(self.data.tracks)

    def any_tracks(self, limit: int = 50) -> list[Track]:
        """A spread of the whole library: Bender's last resort before silence."""
        return spread(by_album(self.data.tracks), limit)

    def normalize_uri(self, text: str) -> str | None:
        match = _LIBRARY_TRACK.match(text.strip().lower())
        return f"library:track:{match.group(1)}" if match else None
