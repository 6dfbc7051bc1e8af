"""Catalogs held as in-memory tables: the offline catalog and the music library share them.

``CatalogTables`` is what a loader builds (tracks by uri, album and artist groupings, genres, a
search index); ``TableProvider`` answers search, lookup and every Bender lookup from one, so the
two providers differ only in where their tables come from and which uris they own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from echonest.catalog.base import Album, Provider
from echonest.catalog.offline.index import SearchIndex
from echonest.catalog.offline.text import fold, genre_key
from echonest.catalog.track import Track

TOP_TRACKS = 10


@dataclass
class CatalogTables:
    tracks: list[Track] = field(default_factory=list)
    by_uri: dict[str, Track] = field(default_factory=dict)
    albums: dict[str, Album] = field(default_factory=dict)
    album_tracks: dict[str, list[Track]] = field(default_factory=dict)
    artist_names: dict[str, str] = field(default_factory=dict)       # artist uri → name
    artist_albums: dict[str, list[Album]] = field(default_factory=dict)
    artist_tracks: dict[str, list[Track]] = field(default_factory=dict)
    genre_tracks: dict[str, list[Track]] = field(default_factory=dict)  # genre_key → tracks
    index: SearchIndex = field(default_factory=lambda: SearchIndex([]))


def spread(groups: Iterable[list[Track]], limit: int) -> list[Track]:
    """Round-robin across groups (albums) so a capped list still covers many artists."""
    queues = [list(g) for g in groups if g]
    picked: list[Track] = []
    depth = 0
    while len(picked) < limit and any(depth < len(q) for q in queues):
        picked.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return picked[:limit]


def by_album(tracks: Iterable[Track]) -> list[list[Track]]:
    groups: dict[str, list[Track]] = {}
    for track in tracks:
        groups.setdefault(track.album_uri, []).append(track)
    return list(groups.values())


def _folded(name: str) -> str:
    # fold() keeps Latin letters; a name in another script folds to nothing, so casefold it.
    return fold(name) or name.casefold().strip()


class TableProvider(Provider):
    """Every lookup over ``self.data``; subclasses say where the tables come from."""

    @property
    def data(self) -> CatalogTables:
        raise NotImplementedError

    def search(self, query: str, limit: int = 10) -> list[Track]:
        return self.data.index.search(query, limit)

    def lookup(self, uri: str) -> Track | None:
        return self.data.by_uri.get(uri)

    def artist_top_tracks(self, artist_uri: str) -> list[Track]:
        return spread(by_album(self.data.artist_tracks.get(artist_uri, ())), TOP_TRACKS)

    def artist_albums(self, artist_uri: str) -> list[Album]:
        return list(self.data.artist_albums.get(artist_uri, ()))

    def album_tracks(self, album_uri: str) -> list[Track]:
        return list(self.data.album_tracks.get(album_uri, ()))

    def search_artist(self, name: str) -> list[Track]:
        """Tracks by the artists named exactly like ``name``, else by artists it starts."""
        wanted = _folded(name)
        if not wanted:
            return []
        data = self.data
        names = {uri: _folded(n) for uri, n in data.artist_names.items()}
        uris = [u for u, n in names.items() if n == wanted]
        uris = uris or [u for u, n in names.items()
                        if n.startswith(wanted) or n.removeprefix("the ").startswith(wanted)]
        return [t for u in uris for t in data.artist_tracks[u]]

    def genre_tracks(self, genre: str, limit: int = 50) -> list[Track]:
        index = self.data.genre_tracks
        tracks = index.get(genre_key(genre))
        if tracks is None:  # "indie rock", "latin pop": any known word of it
            seen: dict[str, Track] = {}
            for word in fold(genre).split():
                seen.update((t.uri, t) for t in index.get(genre_key(word), ()))
            tracks = list(seen.values())
        return spread(by_album(tracks), limit)

    def year_tracks(self, year_from: int, year_to: int, limit: int = 50) -> list[Track]:
        tracks = [t for t in self.data.tracks if t.year and year_from <= t.year <= year_to]
        return spread(by_album(tracks), limit)
