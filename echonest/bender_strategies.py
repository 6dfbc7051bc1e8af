"""Bender's strategies: each turns a seed into candidate songs; plus their weights and caches.

A strategy answers candidates only; ``bender.next_pick`` filters them (filtered, queued,
playing, recently played) and draws one with the injected ``random.Random``. Catalog answers
are nest-independent, so they are cached globally (``NESTS|bender-cache:…``) for
``BENDER_CACHE_TTL_SECONDS``: one Spotify call serves every nest, and a cache write never bumps
a nest's version or wakes its listeners.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import redis

from config import CONF
from echonest import history, keys
from echonest.catalog.base import Album
from echonest.catalog.track import Track

log = logging.getLogger(__name__)

STRATEGIES = ("genre", "throwback", "artist_search", "artist_albums", "album")
GENRE_LIMIT = 50
THROWBACK_LIMIT = 50
DECADE = re.compile(r"((?:19|20)?\d0)'?s")
MAX_CACHE_SEED = 200          # catalog text in a key is clipped; the cache is only a hint


@dataclass(frozen=True)
class Seed:
    """What Bender builds on: a resolved track (when there is one) and/or a genre."""

    track: Track | None
    genre: str | None
    source: str               # human, bender, now_playing, seed_uri, genre_hint, default


@dataclass
class PickContext:
    client: redis.Redis
    nest_id: str
    catalog: Any
    seed: Seed
    now: datetime
    rng: random.Random


def strategy_weights(conf: Any = None) -> dict[str, float]:
    """The configured weights of the known strategies; unknown names and bad values are dropped."""
    raw = (conf or CONF).BENDER_STRATEGY_WEIGHTS or {}
    weights: dict[str, float] = {}
    for name in STRATEGIES:
        value = raw.get(name, 0) if isinstance(raw, dict) else 0
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            weights[name] = float(value)
    return weights


def strategy_order(rng: random.Random, weights: dict[str, float]) -> list[str]:
    """All strategies with a weight, in a weighted random order (draws without replacement)."""
    remaining = dict(weights)
    order: list[str] = []
    while remaining:
        names = list(remaining)
        choice = rng.choices(names, weights=[remaining[n] for n in names])[0]
        order.append(choice)
        del remaining[choice]
    return order


# --- cache -------------------------------------------------------------------------------------
def _track_to_json(track: Track) -> dict[str, Any]:
    return asdict(track)


def _track_from_json(raw: Any) -> Track | None:
    if not isinstance(raw, dict):
        return None
    try:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return Track(**fields)
    except TypeError:
        return None


def _cache_seed(*parts: str) -> str:
    return ":".join(str(p).strip() for p in parts)[:MAX_CACHE_SEED]


def _cached_list(client: redis.Redis, key: str, fetch: Callable[[], list],
                 encode: Callable[[Any], Any], decode: Callable[[Any], Any]) -> list:
    """A JSON list from the global cache, fetched (and cached with the TTL) on a miss.

    A garbled entry reads as a miss; ``decode`` returns None for entries to drop.
    """
    raw = client.get(key)
    if raw is not None:
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        if isinstance(decoded, list):
            return [x for x in (decode(entry) for entry in decoded) if x is not None]
    found = list(fetch())
    ttl = max(int(CONF.BENDER_CACHE_TTL_SECONDS or 3600), 1)
    client.set(key, json.dumps([encode(x) for x in found]), ex=ttl)
    return found


def cached_tracks(client: redis.Redis, strategy: str, seed: str,
                  fetch: Callable[[], list[Track]]) -> list[Track]:
    """A catalog answer from the global cache, fetched (and cached) on a miss."""
    return _cached_list(client, keys.bender_global_cache(strategy, seed), fetch,
                        _track_to_json, _track_from_json)


def _cached_album_uris(client: redis.Redis, seed: str,
                       fetch: Callable[[], list[Album]]) -> list[str]:
    def album_uris() -> list[str]:
        return [album.uri for album in fetch() if album.uri]

    return _cached_list(client, keys.bender_global_cache("artist_albums", seed), album_uris,
                        lambda uri: uri, lambda x: x if isinstance(x, str) else None)


# --- strategies: each returns candidate Tracks or uris (throwback) -----------------------------
def _scheme(ctx: PickContext, track: Track | None) -> str:
    """Whose answer a genre/decade cache entry holds (the music library answers for any seed
    once it has songs, so its entries must not mix with an earlier catalog's)."""
    seeded = getattr(ctx.catalog, "seeded_name", None)
    if callable(seeded):
        return seeded(track.uri if track else None)
    return track.scheme if track else "default"


def _decade(genre: str) -> tuple[int, int] | None:
    """ "80s" / "1980s" → (1980, 1989): a nest themed on an era is seeded by its years."""
    match = DECADE.fullmatch(genre.strip().lower())
    if not match:
        return None
    digits = match.group(1)
    start = int(digits) if len(digits) == 4 else (1900 if int(digits) >= 30 else 2000) + int(digits)
    return start, start + 9


def _genre_tracks(ctx: PickContext, genre: str) -> list[Track]:
    track = ctx.seed.track
    seed_uri = track.uri if track else None
    decade = _decade(genre)
    if decade:
        return cached_tracks(
            ctx.client, "decade", _cache_seed(_scheme(ctx, track), *decade),
            lambda: ctx.catalog.year_tracks(decade[0], decade[1], GENRE_LIMIT, seed_uri=seed_uri))
    found = cached_tracks(
        ctx.client, "genre", _cache_seed(_scheme(ctx, track), genre.lower()),
        lambda: ctx.catalog.genre_tracks(genre, GENRE_LIMIT, seed_uri=seed_uri))
    wanted = genre.strip().lower()
    # Providers match genres loosely; keep exact matches when there are any.
    exact = [t for t in found if wanted in (g.lower() for g in t.genres)]
    return exact or found


def genre_candidates(ctx: PickContext) -> list[Track]:
    track = ctx.seed.track
    genres = [g for g in (track.genres if track else ()) if g]
    genre = ctx.rng.choice(genres) if genres else ctx.seed.genre
    found = _genre_tracks(ctx, genre) if genre else []
    default = str(CONF.BENDER_DEFAULT_GENRE or "")
    if not found and default and genre != default:
        # A theme the catalog has no songs for ("AmbientNest" offline) still gets music.
        found = _genre_tracks(ctx, default)
    return found


def throwback_candidates(ctx: PickContext) -> list[str]:
    return history.throwback_candidates(ctx.client, ctx.nest_id, ctx.now, THROWBACK_LIMIT)


def artist_search_candidates(ctx: PickContext) -> list[Track]:
    track = ctx.seed.track
    if track is None or not track.artists:
        return []
    name = track.artists[0]
    found = cached_tracks(ctx.client, "artist_search",
                          _cache_seed(_scheme(ctx, track), name.lower()),
                          lambda: ctx.catalog.search_artist(name, seed_uri=track.uri))
    if not found and track.artist_uris:
        artist_uri = track.artist_uris[0]
        found = cached_tracks(ctx.client, "artist_top", _cache_seed(artist_uri),
                              lambda: ctx.catalog.artist_top_tracks(artist_uri))
    # A name search also finds namesakes ("Queen" → "Queen Latifah"): prefer the seed's artists.
    same = [t for t in found if set(t.artists) & set(track.artists)]
    return same or found


def artist_albums_candidates(ctx: PickContext) -> list[Track]:
    track = ctx.seed.track
    if track is None or not track.artist_uris:
        return []
    artist_uri = track.artist_uris[0]
    album_uris = _cached_album_uris(ctx.client, _cache_seed(artist_uri),
                                    lambda: ctx.catalog.artist_albums(artist_uri))
    if not album_uris:
        return []
    # Another album of the artist when there is one: the album strategy covers the seed's own.
    others = [u for u in album_uris if u != track.album_uri] or album_uris
    album_uri = ctx.rng.choice(others)
    return cached_tracks(ctx.client, "album", _cache_seed(album_uri),
                         lambda: ctx.catalog.album_tracks(album_uri))


def album_candidates(ctx: PickContext) -> list[Track]:
    track = ctx.seed.track
    if track is None or not track.album_uri:
        return []
    return cached_tracks(ctx.client, "album", _cache_seed(track.album_uri),
                         lambda: ctx.catalog.album_tracks(track.album_uri))


CANDIDATES: dict[str, Callable[[PickContext], list[Any]]] = {
    "genre": genre_candidates,
    "throwback": throwback_candidates,
    "artist_search": artist_search_candidates,
    "artist_albums": artist_albums_candidates,
    "album": album_candidates,
}
