"""Bender over the music library: every strategy finds songs that can be heard."""

# ruff: noqa: F811  -- the shared fixtures are imported by name; tests take them as arguments
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from audio_fixtures import tagged
from bender_support import NOW, conf, db, only  # noqa: F401 (fixtures)
from library_support import (  # noqa: F401 - fixtures
    fresh_indexes,
    library,
    library_conf,
    library_template,
    own_library,
)

from echonest import bender, history
from echonest.catalog import get_catalog
from echonest.catalog.library.scan import Scanner


@pytest.fixture
def catalog(r, library):
    return get_catalog(library[0], r)


def title_of(catalog, query: str):
    return catalog.search(query)[0]


def test_bender_fills_the_queue_with_library_songs_that_have_audio(db, catalog, conf):
    added = bender.fill_nest(db, catalog, {}, NOW, listeners=2, rng=random.Random(5))
    assert len(added) == 3 and {t.src for t in added} == {"library"}
    body = db.queue_body()
    assert all(i["audio_url"] and i["audio_url"].startswith("/audio/") for i in body["queue"])
    assert body["preview"]["uri"].startswith("library:track:")
    assert body["preview"]["audio_url"].startswith("/audio/")


def test_a_nest_seeded_with_a_silent_song_still_gets_library_songs(db, catalog, conf):
    silent = catalog.lookup("local:track:queen-bohemian-rhapsody")
    db.add_song(silent, "ann@x.io", now=NOW)
    added = bender.fill_nest(db, catalog, {}, NOW, listeners=1, rng=random.Random(2))
    assert added and {t.src for t in added} == {"library"}


@pytest.mark.parametrize("strategy,seed_query,expect", [
    ("album", "bohemian rhapsody", {"Love of My Life"}),
    ("artist_albums", "bohemian rhapsody", {"Love of My Life", "We Will Rock You"}),
    ("artist_search", "bohemian rhapsody", {"Love of My Life", "We Will Rock You"}),
    ("genre", "one more time", {"Jóga"}),
])
def test_each_strategy_works_over_the_library(db, catalog, conf, strategy, seed_query, expect):
    only(conf, strategy)
    seed = title_of(catalog, seed_query)
    db.add_song(seed, "ann@x.io", now=NOW)
    for n in range(5):
        pick = bender.next_pick(db, catalog, {}, NOW, random.Random(n))
        assert pick is not None and pick.title in expect, (strategy, pick)


def test_throwback_replays_library_songs_from_history(r, db, catalog, conf):
    only(conf, "throwback")
    db.add_song(title_of(catalog, "one more time"), "ann@x.io", now=NOW)
    joga = title_of(catalog, "jóga")
    history.record_play(r, "main", {"uri": joga.uri, "user": "bo"}, NOW - timedelta(weeks=1))
    pick = bender.next_pick(db, catalog, {}, NOW, random.Random(1))
    assert pick is not None and pick.uri == joga.uri


def test_a_genre_theme_the_library_lacks_still_gets_library_songs(temp_db, catalog, conf):
    only(conf, "genre")
    meta = {"id": temp_db.nest_id, "genre_hint": "polka"}
    added = bender.fill_nest(temp_db, catalog, meta, NOW, 1, random.Random(3))
    assert added and added[0].src == "library"


@pytest.fixture
def temp_db(r):
    import json

    from db import DB
    from echonest import keys

    r.hset(keys.NESTS_REGISTRY, "LIBRR", json.dumps({"id": "LIBRR", "created_by": "a@x.io"}))
    return DB("LIBRR", redis_client=r)


def test_songs_cached_before_the_library_filled_up_are_not_reused(r, db, tmp_path, conf,
                                                                   fresh_indexes):
    only(conf, "genre")
    music = tmp_path / "music"
    music.mkdir()
    lib_conf = library_conf(music)
    Scanner(r, lib_conf).scan()
    catalog = get_catalog(lib_conf, r)
    before = bender.next_pick(db, catalog, {}, NOW, random.Random(1))
    assert before is not None and before.src == "offline"  # nothing to hear yet
    tagged(music / "Band - Pop Song.mp3", title="Pop Song", artist="Band", genre="Pop")
    Scanner(r, lib_conf).scan()
    after = bender.next_pick(db, catalog, {}, NOW, random.Random(1))
    assert after is not None and after.title == "Pop Song"


def test_a_small_library_all_heard_recently_keeps_playing(r, db, catalog, conf):
    """The demo library is a dozen songs: once all were played, Bender replays, never stops."""
    every = catalog.audible_tracks(50)
    assert len(every) == 8
    for i, track in enumerate(every):
        history.record_play(r, "main", {"uri": track.uri, "user": "bender"},
                            NOW - timedelta(minutes=5 * (i + 1)))
    db.add_song(every[0], "ann@x.io", now=NOW)
    for n in range(5):
        pick = bender.next_pick(db, catalog, {}, NOW, random.Random(n))
        assert pick is not None and pick.src == "library" and pick.uri != every[0].uri
