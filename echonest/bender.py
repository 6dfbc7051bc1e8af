"""Bender, the auto-DJ: tops a nest's queue up, keeps the preview row, and answers its buttons.

``fill_nest`` is the hook the player calls once per nest per pass (after advancing). When nothing
fits, or the catalog fails, Bender backs off for ``BENDER_BACKOFF_SECONDS`` instead of retrying
every tick; after ``MAX_BENDER_MINUTES`` of Bender-only play it rests until a person's song plays.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime
from typing import Any

from config import CONF
from echonest import atomic, keys
from echonest.bender_pick import (
    MAX_URI,
    as_epoch,
    is_auto,
    next_pick,
    pick_with_strategy,
    playing_item,
    redis_client,
    resolve_seed,
)
from echonest.catalog.track import Track
from echonest.errors import CatalogError, Conflict, EchoNestError, InvalidRequest, NestGone

__all__ = ["fill_nest", "filter_preview", "next_pick", "pick_with_strategy", "queue_preview",
           "resolve_seed"]

log = logging.getLogger(__name__)

BENDER_USER = "bender"
MAIN_NEST = "main"


# --- filling -----------------------------------------------------------------------------------
def target_depth(nest_id: str) -> int:
    if nest_id == MAIN_NEST:
        return int(CONF.MIN_QUEUE_DEPTH or 0)
    return int(CONF.NEST_MIN_QUEUE_DEPTH or 0)


def bender_enabled(nest_meta: dict[str, Any] | None) -> bool:
    meta = nest_meta if isinstance(nest_meta, dict) else {}
    return bool(CONF.USE_BENDER) and meta.get("bender_enabled", True) not in (False, "false", 0)


def backoff_until(db: Any) -> float | None:
    """Epoch seconds until which Bender leaves this nest alone, or None."""
    raw = redis_client(db).get(db._key(keys.BENDER_BACKOFF))
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def back_off(db: Any, now: datetime, reason: str) -> None:
    seconds = max(int(CONF.BENDER_BACKOFF_SECONDS or 0), 1)
    until = as_epoch(now, 0.0) + seconds
    log.info("bender backs off nest %s for %ss: %s", db.nest_id, seconds, reason)
    # The TTL is the garbage collector; the stored deadline is what `now` is compared with.
    atomic.apply(redis_client(db), db.nest_id,
                 [["SET", db._key(keys.BENDER_BACKOFF), repr(until), "EX", seconds]])


def _streak_start(db: Any, playing: dict[str, Any] | None, now: datetime) -> float | None:
    """Start of the current run of Bender songs (kept in BENDER_STREAK); None in a human run."""
    client = redis_client(db)
    key = db._key(keys.BENDER_STREAK)
    raw = client.get(key)
    start = as_epoch(raw, 0.0) if raw is not None else None
    if playing is None:
        return start  # between songs the run neither grows nor ends
    if not is_auto(playing):
        if raw is not None:
            atomic.apply(client, db.nest_id, [["DEL", key]])
        return None
    if start is None:
        start = as_epoch(playing.get("starttime"), as_epoch(now, 0.0))
        atomic.apply(client, db.nest_id,
                     [["SET", key, datetime.fromtimestamp(start, UTC).isoformat()]])
    return start


def bender_resting(db: Any, playing: dict[str, Any] | None, now: datetime) -> bool:
    """True once Bender-only play has lasted MAX_BENDER_MINUTES (until a person's song plays)."""
    start = _streak_start(db, playing, now)
    limit = float(CONF.MAX_BENDER_MINUTES or 0) * 60
    return start is not None and limit > 0 and as_epoch(now, 0.0) - start >= limit


def preview_uri(db: Any) -> str | None:
    """The uri Bender currently previews in this nest, or None (one GET: this runs every tick)."""
    raw = redis_client(db).get(db._key(keys.BENDER_PREVIEW))
    try:
        preview = json.loads(raw) if raw else None
    except ValueError:
        return None
    uri = preview.get("uri") if isinstance(preview, dict) else None
    return uri if isinstance(uri, str) and uri else None


def _clear_preview(db: Any) -> None:
    try:
        if preview_uri(db) is not None:
            db.set_preview(None)
    except NestGone:
        pass


def _preview_still_fits(db: Any, uri: str | None, playing: dict[str, Any] | None) -> bool:
    if uri is None or uri in db.queued_uris() or db.is_filtered(uri):
        return False
    return not (playing and playing["uri"] == uri)


def _refresh_preview(db: Any, catalog: Any, nest_meta: dict[str, Any] | None, now: datetime,
                     rng: random.Random | None) -> Track | None:
    pick = next_pick(db, catalog, nest_meta, now, rng)
    if pick is not None or preview_uri(db) is not None:
        db.set_preview(pick)  # an unchanged preview is a no-op in the DB (no event)
    return pick


def _take_preview(catalog: Any, uri: str | None) -> Track | None:
    if uri is None:
        return None
    try:
        return catalog.lookup(uri)
    except InvalidRequest:
        return None


def _fill(db: Any, catalog: Any, nest_meta: dict[str, Any] | None, now: datetime,
          rng: random.Random, added: list[Track]) -> None:
    playing = playing_item(db, now)
    if bender_resting(db, playing, now):
        _clear_preview(db)
        return
    depth = target_depth(db.nest_id)
    current = preview_uri(db)
    fits = _preview_still_fits(db, current, playing)
    # The preview is a promise: it is the next song Bender queues.
    upcoming = current if fits else None
    while len(added) < depth and db.queue_size() < depth:
        track = _take_preview(catalog, upcoming) or next_pick(db, catalog, nest_meta, now, rng)
        upcoming = None
        if track is None:
            back_off(db, now, "no song fits")
            return
        try:
            db.add_song(track, user=BENDER_USER, auto=True, now=now)
        except EchoNestError as exc:
            if exc.status != 409:
                raise
            break  # someone queued it (or filled the queue) meanwhile; the next pass retries
        added.append(track)
    if (added or not fits) and _refresh_preview(db, catalog, nest_meta, now, rng) is None:
        back_off(db, now, "no preview fits")


def fill_nest(db: Any, catalog: Any, nest_meta: dict[str, Any] | None, now: datetime,
              listeners: int, rng: random.Random | None = None) -> list[Track]:
    """Top the nest's queue up with Bender picks and keep the preview fresh; returns the adds.

    Does nothing without listeners, with Bender off (globally or for the nest), while backing
    off, or after MAX_BENDER_MINUTES of Bender-only play. Catalog trouble is logged and backed
    off from, never raised: one nest's failure must not stop the player's pass.
    """
    if not bender_enabled(nest_meta):
        _clear_preview(db)  # a nest that turned Bender off must not keep showing his next pick
        return []
    if isinstance(listeners, bool) or not isinstance(listeners, int) or listeners <= 0:
        return []
    until = backoff_until(db)
    if until is not None and as_epoch(now, 0.0) < until:
        return []
    added: list[Track] = []
    try:
        _fill(db, catalog, nest_meta, now, rng or random.Random(), added)
    except NestGone:
        pass  # deleted mid-pass: nothing left to fill
    except (CatalogError, EchoNestError) as exc:
        log.warning("bender could not fill nest %s: %s", db.nest_id, exc)
        try:
            back_off(db, now, f"{exc.code}: {exc.message}")
        except NestGone:
            pass
    return added


# --- the preview row's buttons -----------------------------------------------------------------
def _check_preview(db: Any, uri: Any) -> str:
    if not isinstance(uri, str) or not uri.strip() or len(uri) > MAX_URI:
        raise InvalidRequest("uri must be the previewed song's uri")
    if preview_uri(db) != uri.strip():
        raise Conflict("That song is no longer Bender's preview.", code="preview_changed")
    return uri.strip()


def _next_preview(db: Any, catalog: Any, nest_meta: dict[str, Any] | None,
                  now: datetime | None, rng: random.Random | None) -> None:
    now = now or datetime.now(UTC)
    try:
        _refresh_preview(db, catalog, nest_meta, now, rng)
    except (CatalogError, NestGone) as exc:
        log.warning("bender could not pick a new preview in nest %s: %s", db.nest_id, exc)


def queue_preview(db: Any, catalog: Any, user: str, uri: str, *,
                  nest_meta: dict[str, Any] | None = None, now: datetime | None = None,
                  rng: random.Random | None = None) -> dict[str, Any]:
    """The "Queue" button: the previewed song becomes the clicker's own pick; new preview."""
    uri = _check_preview(db, uri)
    item = db.add_song(catalog.lookup(uri), user=user)
    _next_preview(db, catalog, nest_meta, now, rng)
    return item


def filter_preview(db: Any, catalog: Any, user: str, uri: str, *,
                   nest_meta: dict[str, Any] | None = None, now: datetime | None = None,
                   rng: random.Random | None = None) -> None:
    """The "Filter" button: Bender will not pick the previewed song for a week; new preview."""
    uri = _check_preview(db, uri)
    db.filter_uri(uri)
    log.info("%s filtered %s in nest %s", user, uri, db.nest_id)
    _next_preview(db, catalog, nest_meta, now, rng)
