"""Parse the bundled catalog file into Tracks, Albums and the lookup tables the provider uses."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from echonest.catalog.base import Album
from echonest.catalog.offline.art import cover_art
from echonest.catalog.offline.index import SearchIndex
from echonest.catalog.offline.text import genre_key, slugify
from echonest.catalog.tables import CatalogTables
from echonest.catalog.track import Track

DATA_FILE = Path(__file__).resolve().parent / "data" / "catalog.txt"
SRC = "offline"


def track_uri(slug: str) -> str:
    return f"local:track:{slug}"


def album_uri(slug: str) -> str:
    return f"local:album:{slug}"


def artist_uri(name: str) -> str:
    return f"local:artist:{slugify(name)}"


@dataclass
class OfflineData(CatalogTables):
    """Everything derived from the data file, built once per process."""


def _duration(text: str, where: str) -> float:
    minutes, _, seconds = text.partition(":")
    if not (minutes.isdigit() and seconds.isdigit() and len(seconds) == 2 and seconds < "60"):
        raise ValueError(f"{where}: duration must be m:ss, not {text!r}")
    return float(int(minutes) * 60 + int(seconds))


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(";") if name.strip())


def _parse(path: Path) -> list[tuple[dict, list[tuple[str, float, tuple[str, ...]]]]]:
    albums: list[tuple[dict, list]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line, where = raw.strip(), f"{path.name}:{number}"
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.lstrip("@").split(" | ")]
        if line.startswith("@"):
            if albums and not albums[-1][1]:
                raise ValueError(f"{where}: album {albums[-1][0]['title']!r} has no tracks")
            if len(parts) != 4 or not parts[2].isdigit():
                raise ValueError(f"{where}: album line needs 'artists | album | year | genres'")
            header = {"artists": _names(parts[0]), "title": parts[1], "year": int(parts[2]),
                      "genres": tuple(g.strip() for g in parts[3].split(",") if g.strip())}
            albums.append((header, []))
        elif not albums or len(parts) not in (2, 3) or not parts[0]:
            raise ValueError(f"{where}: track line needs 'title | m:ss [| featured]'")
        else:
            featured = _names(parts[2]) if len(parts) == 3 else ()
            albums[-1][1].append((parts[0], _duration(parts[1], where), featured))
    if albums and not albums[-1][1]:
        raise ValueError(f"{path.name}: album {albums[-1][0]['title']!r} has no tracks")
    return albums


def build(path: Path = DATA_FILE) -> OfflineData:
    data = OfflineData()
    for header, rows in _parse(path):
        lead = slugify(header["artists"][0])
        a_slug = f"{lead}-{slugify(header['title'])}"
        a_uri = album_uri(a_slug)
        if a_uri in data.albums:
            raise ValueError(f"duplicate album {header['title']!r} by {header['artists'][0]!r}")
        album = Album(uri=a_uri, title=header["title"], artists=header["artists"],
                      year=header["year"], images=(cover_art(header["title"], lead),))
        data.albums[a_uri] = album
        data.album_tracks[a_uri] = []
        for name in header["artists"]:
            data.artist_albums.setdefault(artist_uri(name), []).append(album)
        for title, duration, featured in rows:
            slug = f"{lead}-{slugify(title)}"
            if track_uri(slug) in data.by_uri:  # same title on two albums: keep both apart
                slug = f"{a_slug}-{slugify(title)}"
            if track_uri(slug) in data.by_uri:
                raise ValueError(f"duplicate track {title!r} on {header['title']!r}")
            artists = header["artists"] + tuple(f for f in featured if f not in header["artists"])
            track = Track(uri=track_uri(slug), title=title, artists=artists,
                          album=header["title"], duration=duration, year=header["year"],
                          genres=header["genres"], images=album.images, src=SRC,
                          artist_uris=tuple(artist_uri(a) for a in artists), album_uri=a_uri)
            data.tracks.append(track)
            data.by_uri[track.uri] = track
            data.album_tracks[a_uri].append(track)
            for name, a_uri_ in zip(artists, track.artist_uris, strict=True):
                data.artist_names.setdefault(a_uri_, name)
                data.artist_tracks.setdefault(a_uri_, []).append(track)
            for genre in header["genres"]:
                data.genre_tracks.setdefault(genre_key(genre), []).append(track)
    data.index = SearchIndex(data.tracks)
    return data


_cache: dict[Path, OfflineData] = {}
_lock = threading.Lock()


def load(path: Path = DATA_FILE) -> OfflineData:
    """The parsed catalog, read from disk on first use and shared by every provider instance."""
    with _lock:
        if path not in _cache:
            _cache[path] = build(path)
        return _cache[path]
