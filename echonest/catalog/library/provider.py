"""LibraryProvider: the party's own music files under the library: scheme, playable here."""

from __future__ import annotations

import re
import time
from typing import Any

from echonest.catalog.base import Album, Provider
from echonest.catalog.library import scan
from echonest.catalog.library.index import CHECK_SECONDS, LibraryData, shared_index
from echonest.catalog.offline.provider import TOP_TRACKS, _by_album, _spread
from echonest.catalog.offline.text import fold, genre_key
from echonest.catalog.track import Track

_LIBRARY_TRACK = re.compile(r"^library:track:([0-9a-f]{16})$")


class LibraryProvider(Provider):
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

    def search(self, query: str, limit: int = 10) -> list[Track]:
        return self.data.index.search(query, limit)

    def lookup(self, uri: str) -> Track | None:
        return self.data.by_uri.get(uri)

    def artist_top_tracks(self, artist_uri: str) -> list[Track]:
        return _spread(_by_album(self.data.artist_tracks.get(artist_uri, ())), TOP_TRACKS)

    def artist_albums(self, artist_uri: str) -> list[Album]:
        return list(self.data.artist_albums.get(artist_uri, ()))

    def album_tracks(self, album_uri: str) -> list[Track]:
        return list(self.data.album_tracks.get(album_uri, ()))

    def search_artist(self, name: str) -> list[Track]:
        wanted = fold(name) or name.casefold().strip()
        if not wanted:
            return []
        data = self.data
        names = {uri: fold(n) or n.casefold().strip() for uri, n in data.artist_names.items()}
        uris = [u for u, n in names.items() if n == wanted]
        uris = uris or [u for u, n in names.items()
                        if n.startswith(wanted) or n.removeprefix("the ").startswith(wanted)]
        return [t for u in uris for t in data.artist_tracks[u]]

    def genre_tracks(self, genre: str, limit: int = 50) -> list[Track]:
        index = self.data.genre_tracks
        tracks = index.get(genre_key(genre))
        if tracks is None:  # "indie rock": any known word of it
            seen: dict[str, Track] = {}
            for word in fold(genre).split():
                seen.update((t.uri, t) for t in index.get(genre_key(word), ()))
            tracks = list(seen.values())
        return _spread(_by_album(tracks), limit)

    def year_tracks(self, year_from: int, year_to: int, limit: int = 50) -> list[Track]:
        tracks = [t for t in self.data.tracks if t.year and year_from <= t.year <= year_to]
        return _spread(_by_album(tracks), limit)

    def any_tracks(self, limit: int = 50) -> list[Track]:
        """A spread of the whole library: Bender's last resort before silence."""
        return _spread(_by_album(self.data.tracks), limit)

    def normalize_uri(self, text: str) -> str | None:
        match = _LIBRARY_TRACK.match(text.strip().lower())
        return f"library:track:{match.group(1)}" if match else None
