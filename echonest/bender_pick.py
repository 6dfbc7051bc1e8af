"""Bender's choice of one song: its seed, the weighted strategies in turn, the never-pick rules.

Seed order: the latest person's pick (queue, playing, history) → the latest Bender pick →
now playing → the nest's ``seed_uri`` → its ``genre_hint`` → ``BENDER_DEFAULT_GENRE``. Never
picked: filtered, queued or playing songs, and what the nest played in the last six hours.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from config import CONF
from echonest import history
from echonest.bender_strategies import (
    CANDIDATES,
    PickContext,
    Seed,
    strategy_order,
    strategy_weights,
)
from echonest.catalog.track import Track
from echonest.errors import InvalidRequest

RECENT_PLAYS_AVOIDED = timedelta(hours=6)   # Bender does not repeat what this nest just heard
AUDIBLE_POOL = 200            # library songs Bender's last resort picks among
THROWBACK_LOOKUPS = 5         # throwback uris resolved per attempt (each may be a catalog call)
MAX_URI = 512


def redis_client(db: Any) -> redis.Redis:
    return db.redis


def is_auto(item: dict[str, Any] | None) -> bool:
    return bool(item) and item.get("auto") in (True, 1, "1", "true", "True")


def as_epoch(value: Any, default: float) -> float:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()
    if isinstance(value, str):
        try:
            return as_epoch(datetime.fromisoformat(value), default)
        except ValueError:
            return default
    return default


def playing_item(db: Any, now: datetime) -> dict[str, Any] | None:
    item = db.now_playing(now)
    return item if isinstance(item, dict) and item.get("uri") else None


# --- seeds -------------------------------------------------------------------------------------
def _seed_uris(db: Any, client: redis.Redis, playing: dict[str, Any] | None):
    """(source, uri) in seed order: human pick, Bender pick, now playing."""
    queued = sorted(db.queue_items(), key=lambda i: str(i.get("added_at", "")), reverse=True)
    for auto, source, from_history in ((False, "human", history.last_human_pick),
                                       (True, "bender", history.last_bender_pick)):
        for item in queued:
            if is_auto(item) is auto:
                yield source, item.get("uri")
                break
        if playing and is_auto(playing) is auto:
            yield source, playing.get("uri")
        entry = from_history(client, db.nest_id)
        if entry:
            yield source, entry.get("uri")
    if playing:
        yield "now_playing", playing.get("uri")


def resolve_seed(db: Any, catalog: Any, nest_meta: dict[str, Any] | None,
                 now: datetime) -> Seed:
    """The first seed that resolves (see the module docstring for the order)."""
    meta = nest_meta if isinstance(nest_meta, dict) else {}
    client = redis_client(db)
    # Lazy: later seeds (history reads) are only looked at when earlier ones do not resolve.
    candidates = itertools.chain(_seed_uris(db, client, playing_item(db, now)),
                                 [("seed_uri", meta.get("seed_uri"))])
    hint = meta.get("genre_hint") if isinstance(meta.get("genre_hint"), str) else None
    hint = hint.strip()[:100] if hint and hint.strip() else None
    tried: set[str] = set()
    for source, uri in candidates:
        if not isinstance(uri, str) or not uri or len(uri) > MAX_URI or uri in tried:
            continue
        tried.add(uri)
        try:
            track = catalog.lookup(uri)
        except InvalidRequest:
            continue  # a song the catalog no longer knows: try the next seed
        return Seed(track=track, genre=hint, source=source)
    if hint:
        return Seed(track=None, genre=hint, source="genre_hint")
    return Seed(track=None, genre=str(CONF.BENDER_DEFAULT_GENRE or "pop"), source="default")


# --- picking -----------------------------------------------------------------------------------
def _excluded_uris(db: Any, client: redis.Redis, playing: dict[str, Any] | None,
                   now: datetime) -> set[str]:
    excluded = set(db.queued_uris())
    if playing:
        excluded.add(playing["uri"])
    excluded.update(history.played_since(client, db.nest_id, now - RECENT_PLAYS_AVOIDED))
    return excluded


def _filtered(db: Any, uri: str) -> bool:
    try:
        return db.is_filtered(uri)
    except InvalidRequest:
        return True  # a malformed uri (say, from an edited history file) is never picked


def _first_allowed(db: Any, catalog: Any, candidates: list[Any], excluded: set[str],
                   rng: random.Random) -> Track | None:
    pool = list(candidates)
    rng.shuffle(pool)
    lookups = 0
    for candidate in pool:
        uri = candidate.uri if isinstance(candidate, Track) else candidate
        if not isinstance(uri, str) or uri in excluded or _filtered(db, uri):
            continue
        if isinstance(candidate, Track):
            return candidate
        if lookups >= THROWBACK_LOOKUPS:
            return None
        lookups += 1
        try:
            return catalog.lookup(uri)
        except InvalidRequest:
            excluded.add(uri)
    return None


def _audible_schemes(catalog: Any) -> tuple[str, ...]:
    schemes = getattr(catalog, "audible_schemes", None)
    return tuple(schemes()) if callable(schemes) else ()


def _uri_scheme(candidate: Any) -> str:
    uri = candidate.uri if isinstance(candidate, Track) else candidate
    return uri.split(":", 1)[0] if isinstance(uri, str) else ""


def pick_with_strategy(db: Any, catalog: Any, nest_meta: dict[str, Any] | None, now: datetime,
                       rng: random.Random | None = None) -> tuple[str, Track] | None:
    """(strategy name, track) of Bender's next pick, or None when no strategy finds one.

    Raises CatalogError when the catalog fails (``fill_nest`` catches it and backs off).
    """
    rng = rng or random.Random()
    client = redis_client(db)
    playing = playing_item(db, now)
    seed = resolve_seed(db, catalog, nest_meta, now)
    excluded = _excluded_uris(db, client, playing, now)
    if seed.track is not None:
        excluded.add(seed.track.uri)
    ctx = PickContext(client=client, nest_id=db.nest_id, catalog=catalog, seed=seed, now=now,
                      rng=rng)
    heard = _audible_schemes(catalog)
    for name in strategy_order(rng, strategy_weights()):
        candidates = CANDIDATES[name](ctx)
        if heard:  # while the music library has songs, Bender picks only songs it can play
            candidates = [c for c in candidates if _uri_scheme(c) in heard]
        track = _first_allowed(db, catalog, candidates, excluded, rng)
        if track is not None:
            return name, track
    # A small music library (the dozen demo songs) runs out of same-genre/artist songs, and
    # of songs not heard in the last hours, fast: any song everyone can hear that is not
    # queued or playing beats silence. An empty library offers nothing here.
    audible = getattr(catalog, "audible_tracks", None)
    if callable(audible):
        busy = set(db.queued_uris()) | ({playing["uri"]} if playing else set())
        if seed.track is not None:
            busy.add(seed.track.uri)
        track = _first_allowed(db, catalog, audible(AUDIBLE_POOL), busy, rng)
        if track is not None:
            return "audible", track
    return None


def next_pick(db: Any, catalog: Any, nest_meta: dict[str, Any] | None, now: datetime,
              rng: random.Random | None = None) -> Track | None:
    """Bender's next song for this nest, or None when nothing fits."""
    found = pick_with_strategy(db, catalog, nest_meta, now, rng)
    return found[1] if found else None
