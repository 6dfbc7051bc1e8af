"""OfflineProvider: the bundled catalog of real songs' metadata under the local: scheme."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from echonest.catalog.base import Album, Provider
from echonest.catalog.offline import loader
from echonest.catalog.offline.text import fold, genre_key
from echonest.catalog.track import Track

_LOCAL_TRACK = re.compile(r"^local:track:([a-z0-9]+(?:-[a-z0-9]+)*)$")
TOP_TRACKS = 10


def _spread(groups: Iterable[list[Track]], limit: int) -> list[Track]:
    """Round-robin across groups (albums) so a capped list still covers many artists."""
    queues = [list(g) for g in groups if g]
    picked: list[Track] = []
    depth = 0
    while len(picked) < limit and any(depth < len(q) for q in queues):
        picked.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return picked[:limit]


def _by_album(tracks: Iterable[Track]) -> list[list[Track]]:
    groups: dict[str, list[Track]] = {}
    for track in tracks:
        groups.setdefault(track.album_uri, []).append(track)
    return list(groups.values())


class OfflineProvider(Provider):
    """Search, lookup and every Bender lookup over the bundled data; no network, ever."""

    name = "offline"
    uri_schemes = ("local",)

    def __init__(self, path: Path | None = None):
        self._path = path or loader.DATA_FILE

    @property
    def data(self) -> loader.OfflineData:
        return loader.load(self._path)  # parsed on first use, shared per process

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
        """Tracks by the artists named exactly like ``name``, else by artists it starts."""
        wanted = fold(name)
        if not wanted:
            return []
        names = {uri: fold(n) for uri, n in self.data.artist_names.items()}
        uris = [u for u, n in names.items() if n == wanted]
        uris = uris or [u for u, n in names.items()
                        if n.startswith(wanted) or n.removeprefix("the ").startswith(wanted)]
        return [t for u in uris for t in self.data.artist_tracks[u]]

    def genre_tracks(self, genre: str, limit: int = 50) -> list[Track]:
        index = self.data.genre_tracks
        tracks = index.get(genre_key(genre))
        if tracks is None:  # "indie rock", "latin pop": any known word of it
            keys = [genre_key(word) for word in fold(genre).split()]
            seen: dict[str, Track] = {}
            for key in keys:
                seen.update((t.uri, t) for t in index.get(key, ()))
            tracks = list(seen.values())
        return _spread(_by_album(tracks), limit)

    def year_tracks(self, year_from: int, year_to: int, limit: int = 50) -> list[Track]:
        tracks = [t for t in self.data.tracks if t.year and year_from <= t.year <= year_to]
        return _spread(_by_album(tracks), limit)

    def normalize_uri(self, text: str) -> str | None:
        match = _LOCAL_TRACK.match(text.strip().lower())
        return f"local:track:{match.group(1)}" if match else None
