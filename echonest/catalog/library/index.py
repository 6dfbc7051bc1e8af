"""The library index: track records in Redis (shared by every process), parsed once per version.

``LIBRARY|tracks`` maps track id → JSON record; the scanner replaces ``LIBRARY|version`` with a
fresh token whenever it changes the hash. Each process keeps the parsed index in memory and
checks the version at most every CHECK_SECONDS, so a request costs no Redis round trip.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from echonest import keys
from echonest.catalog.base import Album
from echonest.catalog.library.greenlets import cooperate
from echonest.catalog.offline.art import cover_art as _cover_art
from echonest.catalog.offline.index import SearchIndex
from echonest.catalog.offline.text import genre_key
from echonest.catalog.tables import CatalogTables
from echonest.catalog.track import Track

log = logging.getLogger(__name__)

SRC = "library"
SCHEME = "library"
TRACK_PREFIX = "library:track:"
CHECK_SECONDS = 2.0


# One generated SVG per album, not per track: rebuilding a big index stays fast.
cover_art = functools.lru_cache(maxsize=8192)(_cover_art)


def name_id(*names: str) -> str:
    """Artist/album uri id: case-insensitive, works for any script (slugs would drop 坂本龍一)."""
    text = "\0".join(" ".join(n.casefold().split()) for n in names)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def artist_uri(name: str) -> str:
    return f"library:artist:{name_id(name)}"


def album_uri(album_artist: str, album: str) -> str:
    return f"library:album:{name_id(album_artist, album)}"


def track_uri(track_id: str) -> str:
    return f"{TRACK_PREFIX}{track_id}"


def art_url(track_id: str) -> str:
    return f"/audio/{track_id}/art"


def audio_path(track_id: str) -> str:
    return f"/audio/{track_id}"


@dataclass
class LibraryData(CatalogTables):
    """Every lookup table the provider answers from, built from one version of the records."""

    version: str = ""
    records: dict[str, dict] = field(default_factory=dict)          # id → record


def _order(record: dict) -> tuple:
    return (str(record.get("album_artist") or (record.get("artists") or [""])[0]).casefold(),
            str(record.get("album") or "").casefold(), record.get("track") or 0,
            str(record.get("title") or "").casefold(), record.get("id", ""))


def record_track(record: dict) -> Track:
    """A stored record → the Track every other part of EchoNest sees."""
    track_id = record["id"]
    artists = tuple(record.get("artists") or ()) or ("Unknown Artist",)
    album = str(record.get("album") or "")
    lead = str(record.get("album_artist") or artists[0])
    images = (art_url(track_id),) if record.get("art") else \
        (cover_art(album or str(record.get("title") or ""), lead),)
    return Track(uri=track_uri(track_id), title=str(record.get("title") or "Untitled"),
                 artists=artists, album=album, duration=float(record.get("duration") or 0),
                 year=record.get("year") if isinstance(record.get("year"), int) else None,
                 genres=tuple(record.get("genres") or ()), images=images, src=SRC,
                 artist_uris=tuple(artist_uri(a) for a in artists),
                 album_uri=album_uri(lead, album) if album else "")


def build(records: dict[str, dict], version: str = "") -> LibraryData:
    data = LibraryData(version=version, records=records)
    for n, record in enumerate(sorted(records.values(), key=_order)):
        if n % 256 == 255:
            cooperate()  # a big library is parsed while the web process keeps serving
        track = record_track(record)
        data.tracks.append(track)
        data.by_uri[track.uri] = track
        if track.album_uri:
            if track.album_uri not in data.albums:
                lead = str(record.get("album_artist") or track.artists[0])
                data.albums[track.album_uri] = Album(
                    uri=track.album_uri, title=track.album,
                    artists=tuple(dict.fromkeys((lead, *track.artists))), year=track.year,
                    images=track.images)
                data.album_tracks[track.album_uri] = []
            data.album_tracks[track.album_uri].append(track)
        album = data.albums.get(track.album_uri)
        for name, uri in zip(track.artists, track.artist_uris, strict=True):
            data.artist_names.setdefault(uri, name)
            data.artist_tracks.setdefault(uri, []).append(track)
            if album is not None and album not in data.artist_albums.setdefault(uri, []):
                data.artist_albums[uri].append(album)
        for genre in track.genres:
            data.genre_tracks.setdefault(genre_key(genre), []).append(track)
    data.index = SearchIndex(data.tracks)
    return data


def parse_records(raw: dict[str, str]) -> dict[str, dict]:
    records: dict[str, dict] = {}
    for track_id, text in raw.items():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("id") == track_id:
            records[track_id] = record
    return records


class LibraryIndex:
    """One process's view of the shared index, refreshed when ``LIBRARY|version`` changes."""

    def __init__(self, client: Any):
        self.client = client
        self._data = LibraryData()
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self.scanned_at: float | None = None   # when the last full scan finished (epoch s)
        self.scan_locked = False               # someone was scanning at the last check

    def data(self) -> LibraryData:
        if time.monotonic() - self._checked >= CHECK_SECONDS:
            self.refresh()
        return self._data

    def refresh(self, force: bool = False) -> LibraryData:
        """Check the version (one round trip) and reload the records when it moved."""
        with self._lock:
            if not force and time.monotonic() - self._checked < CHECK_SECONDS:
                return self._data
            self._checked = time.monotonic()
            version, scanned_at, locked = self.client.mget(
                keys.LIBRARY_VERSION, keys.LIBRARY_SCANNED_AT, keys.LIBRARY_SCAN_LOCK)
            try:
                self.scanned_at = float(scanned_at) if scanned_at else None
            except ValueError:
                self.scanned_at = None
            self.scan_locked = locked is not None
            version = version or ""
            if version != self._data.version:
                records = parse_records(self.client.hgetall(keys.LIBRARY_TRACKS)) if version \
                    else {}
                self._data = build(records, version)
            return self._data

    def has(self, track_id: str) -> bool:
        return track_id in self.data().records

    def record(self, track_id: str) -> dict | None:
        return self.data().records.get(track_id)


# Value keeps the client alive so its id() cannot be reused by another one.
_indexes: dict[int, tuple[LibraryIndex, Any]] = {}
_indexes_lock = threading.Lock()


def shared_index(client: Any) -> LibraryIndex:
    """The process-wide index for this Redis client."""
    with _indexes_lock:
        entry = _indexes.get(id(client))
        if entry is None:
            entry = _indexes[id(client)] = (LibraryIndex(client), client)
        return entry[0]


def reset_indexes() -> None:
    """Forget every process-local index (tests flush Redis between cases)."""
    with _indexes_lock:
        _indexes.clear()
