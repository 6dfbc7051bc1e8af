"""Bender filling nests: depth, listeners, rest after MAX_BENDER_MINUTES, backoff, catalog
failures, the preview row's Queue/Filter buttons, and a real player pass."""

# ruff: noqa: F811  -- the shared fixtures are imported by name; tests take them as arguments
import random
from datetime import timedelta

import pytest
from bender_support import (  # noqa: F401  (fixtures)
    DYLAN,
    NOW,
    QUEEN_OPERA,
    TEMP,
    album_of,
    catalog,
    conf,
    db,
    only,
    provider,
    seed_with,
    temp_db,
    track,
)

from db import DB
from echonest import bender, history, keys
from echonest.catalog.offline.provider import OfflineProvider
from echonest.catalog.registry import Catalog
from echonest.errors import EchoNestError, InvalidRequest


# --- filling -----------------------------------------------------------------------------------
def test_fill_tops_main_up_to_three_and_previews_the_next(db, catalog, conf):
    added = bender.fill_nest(db, catalog, {}, NOW, listeners=2, rng=random.Random(5))
    assert len(added) == 3
    items = db.queue_items()
    assert [i["uri"] for i in items] == [t.uri for t in added]
    assert all(i["auto"] and i["user"] == "bender" for i in items)
    preview = db.queue_body()["preview"]
    assert preview and preview["uri"] not in {t.uri for t in added}
    version = db.version()
    assert bender.fill_nest(db, catalog, {}, NOW, listeners=2, rng=random.Random(6)) == []
    assert db.version() == version  # a full queue and a fitting preview: no change, no event


def test_fill_queues_the_previewed_song_next(db, catalog, conf):
    bender.fill_nest(db, catalog, {}, NOW, listeners=1, rng=random.Random(5))
    promised = db.queue_body()["preview"]["uri"]
    db.advance(NOW)
    added = bender.fill_nest(db, catalog, {}, NOW, listeners=1, rng=random.Random(6))
    assert [t.uri for t in added] == [promised]


def test_fill_tops_a_temporary_nest_up_to_one(temp_db, catalog, conf):
    added = bender.fill_nest(temp_db, catalog, {"id": TEMP}, NOW, 1, random.Random(1))
    assert len(added) == 1 and temp_db.queue_size() == 1


@pytest.mark.parametrize("listeners, meta, use_bender", [
    (0, {}, True), (-1, {}, True), ("3", {}, True),
    (3, {"bender_enabled": False}, True), (3, {}, False),
])
def test_no_fill_without_listeners_or_with_bender_off(db, catalog, conf, listeners, meta,
                                                      use_bender):
    conf(USE_BENDER=use_bender)
    assert bender.fill_nest(db, catalog, meta, NOW, listeners, random.Random(1)) == []
    assert db.queue_size() == 0 and db.queue_body()["preview"] is None


def test_bender_rests_after_max_minutes_of_bender_only_play(db, catalog, provider, conf):
    conf(MAX_BENDER_MINUTES=10)
    bender.fill_nest(db, catalog, {}, NOW, 1, random.Random(1))
    db.advance(NOW)                                       # a Bender song starts the run
    db.clear("admin", is_admin=True)
    assert len(bender.fill_nest(db, catalog, {}, NOW + timedelta(minutes=9), 1,
                                random.Random(2))) == 3
    db.clear("admin", is_admin=True)
    later = NOW + timedelta(minutes=10)
    assert bender.fill_nest(db, catalog, {}, later, 1, random.Random(3)) == []
    assert db.queue_size() == 0 and db.queue_body()["preview"] is None
    db.add_song(track(provider, DYLAN), "ann@x.io", now=later)
    db.skip("ann@x.io")
    db.advance(later)                                     # a person's song ends the run
    assert len(bender.fill_nest(db, catalog, {}, later, 1, random.Random(4))) == 3


def test_backs_off_when_nothing_fits_and_retries_only_after_expiry(db, catalog, provider, conf):
    only(conf, "album")
    songs = album_of(provider, QUEEN_OPERA)
    seed_with(db, provider, songs[0])
    for uri in songs[1:]:
        db.filter_uri(uri)
    assert bender.fill_nest(db, catalog, {}, NOW, 1, random.Random(1)) == []
    assert bender.backoff_until(db) == (NOW + timedelta(seconds=30)).timestamp()
    ttl = db.redis.ttl(db._key(keys.BENDER_BACKOFF))
    assert 0 < ttl <= 30
    for uri in songs[1:]:                                  # songs fit again…
        db.redis.delete(db._key(keys.bender_filter(uri)))
    assert bender.fill_nest(db, catalog, {}, NOW + timedelta(seconds=29), 1,
                            random.Random(2)) == []        # …but no retry before expiry
    assert db.queue_size() == 1
    added = bender.fill_nest(db, catalog, {}, NOW + timedelta(seconds=30), 1, random.Random(3))
    assert len(added) == 2


class BrokenProvider(OfflineProvider):
    def genre_tracks(self, genre, limit=50):
        raise ConnectionError("catalog down")


def test_catalog_failure_is_logged_and_backed_off_not_raised(db, conf):
    only(conf, "genre")
    catalog = Catalog([BrokenProvider()])
    assert bender.fill_nest(db, catalog, {"genre_hint": "funk"}, NOW, 1, random.Random(1)) == []
    assert bender.backoff_until(db) == (NOW + timedelta(seconds=30)).timestamp()


# --- the preview row ---------------------------------------------------------------------------
def test_queue_preview_makes_the_song_the_clickers_and_refreshes_the_preview(db, catalog,
                                                                            conf):
    bender.fill_nest(db, catalog, {}, NOW, 1, random.Random(1))
    uri = db.queue_body()["preview"]["uri"]
    item = bender.queue_preview(db, catalog, "bo@x.io", uri, now=NOW, rng=random.Random(2))
    assert item["uri"] == uri and item["user"] == "bo@x.io" and item["auto"] is False
    queue = db.queue_items()
    assert queue[0]["uri"] == uri and queue[0]["user"] == "bo@x.io"  # human songs go first
    new_preview = db.queue_body()["preview"]
    assert new_preview and new_preview["uri"] not in {i["uri"] for i in queue}
    with pytest.raises(EchoNestError) as stale:
        bender.queue_preview(db, catalog, "cy@x.io", uri, now=NOW)
    assert stale.value.status == 409 and stale.value.code == "preview_changed"


@pytest.mark.parametrize("bad", [None, 7, "", "x" * 600, [QUEEN_OPERA]])
def test_preview_buttons_refuse_hostile_uris(db, catalog, conf, bad):
    bender.fill_nest(db, catalog, {}, NOW, 1, random.Random(1))
    before = db.queue_body()
    for action in (bender.queue_preview, bender.filter_preview):
        with pytest.raises(InvalidRequest):
            action(db, catalog, "bo@x.io", bad, now=NOW)
    assert db.queue_body()["queue"] == before["queue"]


def test_filter_preview_filters_for_a_week_and_refreshes(db, catalog, conf):
    bender.fill_nest(db, catalog, {}, NOW, 1, random.Random(1))
    uri = db.queue_body()["preview"]["uri"]
    bender.filter_preview(db, catalog, "bo@x.io", uri, now=NOW, rng=random.Random(2))
    assert db.is_filtered(uri)
    ttl = db.redis.ttl(db._key(keys.bender_filter(uri)))
    assert 604800 - 5 < ttl <= 604800
    assert db.queue_body()["preview"]["uri"] != uri
    db.clear("admin", is_admin=True)
    picks = {t.uri for s in range(10)
             for t in [bender.next_pick(db, catalog, {}, NOW, random.Random(s))]}
    assert uri not in picks


def test_turning_bender_off_removes_the_preview(db, catalog, conf):
    bender.fill_nest(db, catalog, {}, NOW, 1, random.Random(1))
    assert db.queue_body()["preview"] is not None
    bender.fill_nest(db, catalog, {"bender_enabled": False}, NOW, 1, random.Random(1))
    assert db.queue_body()["preview"] is None and db.queue_size() == 3


def test_a_player_pass_with_listeners_keeps_the_main_queue_full(r, catalog, conf):
    import master_player
    import nests

    nests.NestManager(r).join_nest("main", "ann@x.io")
    db = DB("main", redis_client=r)
    master_player.master_player_tick_all(now=NOW, redis_client=r, catalog=catalog)
    assert db.queue_size() == 3 and db.queue_body()["preview"] is not None
    master_player.master_player_tick_all(now=NOW, redis_client=r, catalog=catalog)
    playing = db.now_playing(NOW)
    assert playing["auto"] and db.queue_size() == 3
    end = NOW + timedelta(seconds=playing["duration"] + 1)
    master_player.master_player_tick_all(now=end, redis_client=r, catalog=catalog)
    assert history.last_bender_pick(r, "main")["uri"] == playing["uri"]
    assert db.queue_size() == 3 and db.now_playing(end)["uri"] != playing["uri"]
