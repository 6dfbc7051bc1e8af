"""SpotifyProvider: search, lookups and Bender's lookups on the Spotify Web API (SPEC §8)."""

from __future__ import annotations

import threading
import warnings
from dataclasses import replace
from typing import Any

import spotipy
from spotipy.exceptions import SpotifyException

from echonest import keys
from echonest.catalog import spotify_map as sm
from echonest.catalog.base import Album, Provider
from echonest.catalog.spotify_client import BackoffMemo, app_client, guarded
from echonest.catalog.track import Track
from echonest.errors import CatalogError, InvalidRequest

MAX_LIMIT = 50            # Spotify's largest page
GENRE_CACHE_SIZE = 2000


def _not_found(exc: SpotifyException) -> list | None:
    # 400 "invalid id" / 404 "non existing id": the thing is not there, which is an answer.
    return [] if exc.http_status in (400, 404) else None


def _top_tracks(sp: spotipy.Spotify, artist_id: str, market: str) -> Any:
    # Spotify marks top-tracks deprecated for new apps; it still answers ours, so stay quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return sp.artist_top_tracks(artist_id, country=market)


def _genre_names(value: Any) -> tuple[str, ...]:
    return tuple(g for g in value if isinstance(g, str) and g)[:10] if isinstance(value, list) \
        else ()


def _quoted(text: str) -> str:
    return '"' + text.replace('"', " ").strip()[:100] + '"'


def _limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidRequest("limit must be a whole number")
    return min(max(limit, 1), MAX_LIMIT)


class SpotifyProvider(Provider):
    """Spotify as a catalog: client credentials, one token shared through Redis by everyone.

    Construction does no I/O (SKIP_SPOTIFY_PREFETCH is therefore always honoured); the spotipy
    client and the Redis connection are made on first use.
    """

    name = "spotify"
    uri_schemes = ("spotify",)

    def __init__(self, conf: Any = None, redis_client: Any = None):
        if conf is None:
            from config import CONF as conf
        self.conf = conf
        self.market = str(conf.SPOTIFY_MARKET or "US")
        self.max_query = int(conf.SEARCH_MAX_QUERY_LENGTH or 200)
        self._redis = redis_client
        self._client: spotipy.Spotify | None = None
        self._lock = threading.Lock()
        self._genres: dict[str, tuple[str, ...]] = {}
        self._backoff = BackoffMemo()

    # --- plumbing --------------------------------------------------------------------------
    @property
    def redis(self) -> Any:
        if self._redis is None:
            from echonest.store import default_client

            self._redis = default_client()
        return self._redis

    @property
    def client(self) -> spotipy.Spotify:
        with self._lock:
            if self._client is None:
                self._client = app_client(self.conf, self.redis)
            return self._client

    def _call(self, what: str, call, on_error=None) -> Any:
        def handle(exc: SpotifyException) -> Any:
            if exc.http_status == 401:
                # The shared token was revoked or garbled: drop it so the next call gets a new one.
                self.redis.delete(keys.SPOTIFY_APP_TOKEN)
                self.client.auth_manager.cache_handler.forget()
                return None
            return on_error(exc) if on_error else None

        return guarded(self.redis, what, lambda: call(self.client), handle, memo=self._backoff)

    def _search(self, query: str, kind: str, limit: int) -> dict[str, Any]:
        limit = _limit(limit)
        result = self._call("search", lambda sp: sp.search(q=query, limit=limit, type=kind,
                                                            market=self.market))
        return result if isinstance(result, dict) else {}

    def _tracks(self, page: Any, limit: int = MAX_LIMIT) -> list[Track]:
        found = [t for t in map(sm.track_from_json, sm.paged_items(page)) if t]
        return self._with_genres(found[:limit])

    # --- MUST ------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 10) -> list[Track]:
        """Tracks first; episodes fill what is left, so a podcast's name still finds it."""
        if not isinstance(query, str):
            raise InvalidRequest("search query must be text")
        query = query.strip()
        if not query:
            return []
        if len(query) > self.max_query:
            raise InvalidRequest(f"search query is too long (at most {self.max_query} characters)")
        limit = _limit(limit)
        result = self._search(query, "track,episode", limit)
        tracks = self._tracks(result.get("tracks"), limit)
        episodes = sm.paged_items(result.get("episodes"))[:limit - len(tracks)]
        return tracks + self._with_shows(episodes)

    def lookup(self, uri: str) -> Track | None:
        parsed = sm.parse_uri(uri)
        if parsed is None:
            return None
        kind, spotify_id = parsed
        if kind == "episode":
            found = self._call("lookup", lambda sp: sp.episode(spotify_id, market=self.market),
                               _not_found)
            return sm.episode_from_json(found) if found else None
        found = self._call("lookup", lambda sp: sp.track(spotify_id, market=self.market),
                           _not_found)
        if not found:
            return None
        track = sm.track_from_json(found)
        return self._with_genres([track])[0] if track else None

    # --- MAY -------------------------------------------------------------------------------
    def normalize_uri(self, text: str) -> str | None:
        return sm.canonical_uri(text)

    def artist_top_tracks(self, artist_uri: str) -> list[Track]:
        artist_id = self._id(artist_uri, "artist")
        if not artist_id:
            return []
        result = self._call("artist top tracks", lambda sp: _top_tracks(sp, artist_id,
                                                                         self.market),
                            _not_found)
        items = result.get("tracks") if isinstance(result, dict) else None
        return self._with_genres([t for t in map(sm.track_from_json, items or []) if t])

    def artist_albums(self, artist_uri: str) -> list[Album]:
        artist_id = self._id(artist_uri, "artist")
        if not artist_id:
            return []
        page = self._call("artist albums",
                          lambda sp: sp.artist_albums(artist_id, include_groups="album,single",
                                                      country=self.market, limit=MAX_LIMIT),
                          _not_found)
        return [a for a in map(sm.album_from_json, sm.paged_items(page)) if a]

    def album_tracks(self, album_uri: str) -> list[Track]:
        """One call: the album object carries its tracks and the art/year they lack."""
        album_id = self._id(album_uri, "album")
        if not album_id:
            return []
        album = self._call("album", lambda sp: sp.album(album_id, market=self.market),
                           _not_found)
        if not isinstance(album, dict):
            return []
        items = sm.paged_items(album.get("tracks"))
        return self._with_genres(
            [t for t in (sm.track_from_json(item, album=album) for item in items) if t])

    def search_artist(self, name: str) -> list[Track]:
        if not isinstance(name, str) or not name.strip():
            return []
        return self._tracks(self._search(f"artist:{_quoted(name)}", "track",
                                         MAX_LIMIT).get("tracks"))

    def genre_tracks(self, genre: str, limit: int = 50) -> list[Track]:
        if not isinstance(genre, str) or not genre.strip():
            return []
        return self._tracks(self._search(f"genre:{_quoted(genre)}", "track",
                                         limit).get("tracks"))

    def year_tracks(self, year_from: int, year_to: int, limit: int = 50) -> list[Track]:
        if not all(isinstance(y, int) and not isinstance(y, bool) for y in (year_from, year_to)):
            raise InvalidRequest("years must be whole numbers")
        years = sorted((year_from, year_to))
        if years[0] < 1 or years[1] > 9999:
            return []
        span = f"{years[0]}" if years[0] == years[1] else f"{years[0]}-{years[1]}"
        return self._tracks(self._search(f"year:{span}", "track", limit).get("tracks"))

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _id(uri: Any, kind: str) -> str | None:
        parsed = sm.parse_uri(uri, kinds=(kind,))
        return parsed[1] if parsed else None

    def _with_shows(self, episodes: list[dict[str, Any]]) -> list[Track]:
        """Search answers simplified episodes without their show, which we show as the artist.

        One batched lookup fetches the shows; if it fails the episodes still list, unnamed.
        """
        if not episodes:
            return []
        ids = [e["id"] for e in episodes if isinstance(e.get("id"), str)]
        try:
            full = self._call("episodes", lambda sp: sp.episodes(ids, market=self.market))
        except CatalogError:
            full = None
        shows = {e.get("id"): e.get("show") for e in (full or {}).get("episodes") or []
                 if isinstance(e, dict)}
        found = (sm.episode_from_json(e, show=shows.get(e.get("id"))) for e in episodes)
        return [t for t in found if t]

    def _with_genres(self, tracks: list[Track]) -> list[Track]:
        """Tag tracks with their lead artist's genres (Spotify puts genres on artists only).

        One batched artist lookup for the artists this process has not seen yet, so search,
        lookup and Bender all tag a track the same way. If it fails the tracks go untagged.
        """
        leads = [self._id(t.artist_uris[0], "artist") if t.artist_uris else None for t in tracks]
        missing = list(dict.fromkeys(a for a in leads if a and a not in self._genres))[:MAX_LIMIT]
        if missing:
            try:
                found = self._call("artists", lambda sp: sp.artists(missing), _not_found)
            except CatalogError:
                found = None
            if len(self._genres) >= GENRE_CACHE_SIZE:
                self._genres.clear()
            artists = found.get("artists") if isinstance(found, dict) else None
            if isinstance(artists, list):
                for artist_id in missing:  # unknown ids come back null: remember "no genres"
                    self._genres[artist_id] = ()
                for artist in artists:
                    if isinstance(artist, dict) and artist.get("id") in missing:
                        self._genres[artist["id"]] = _genre_names(artist.get("genres"))
        tagged = []
        for track, lead in zip(tracks, leads, strict=True):
            genres = self._genres.get(lead) if lead else None
            tagged.append(replace(track, genres=genres) if genres is not None else track)
        return tagged
