"""Bender's pick: each strategy fits its seed, the weights, the seed order, the never-pick rules
and the shared catalog cache — on a real Valkey and the real offline catalog."""

# ruff: noqa: F811  -- the shared fixtures are imported by name; tests take them as arguments
import random
from collections import Counter
from datetime import timedelta

import pytest
from bender_support import (  # noqa: F401  (fixtures)
    ADELE,
    BEATLES,
    CRAZY,
    DYLAN,
    MADONNA,
    NOW,
    QUEEN_OPERA,
    RAMONES,
    STONES,
    ZEPPELIN,
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

from echonest import bender, history
from echonest.bender_strategies import STRATEGIES, strategy_order, strategy_weights
from echonest.catalog.offline.provider import OfflineProvider
from echonest.catalog.registry import Catalog


# --- each strategy fits its seed ---------------------------------------------------------------
@pytest.mark.parametrize("rng_seed", range(5))
def test_genre_strategy_picks_the_seeds_genre(db, catalog, provider, conf, rng_seed):
    only(conf, "genre")
    seed = seed_with(db, provider, CRAZY)
    pick = bender.next_pick(db, catalog, {}, NOW, random.Random(rng_seed))
    assert pick is not None and pick.uri != seed.uri
    assert set(pick.genres) & set(seed.genres)


@pytest.mark.parametrize("rng_seed", range(5))
def test_artist_search_picks_the_seeds_artist(db, catalog, provider, conf, rng_seed):
    only(conf, "artist_search")
    seed = seed_with(db, provider, QUEEN_OPERA)
    pick = bender.next_pick(db, catalog, {}, NOW, random.Random(rng_seed))
    assert "Queen" in pick.artists and pick.uri != seed.uri


@pytest.mark.parametrize("rng_seed", range(5))
def test_artist_albums_picks_another_album_of_the_artist(db, catalog, provider, conf,
                                                         rng_seed):
    only(conf, "artist_albums")
    seed = seed_with(db, provider, QUEEN_OPERA)
    pick = bender.next_pick(db, catalog, {}, NOW, random.Random(rng_seed))
    assert "Queen" in pick.artists and pick.album_uri != seed.album_uri


@pytest.mark.parametrize("rng_seed", range(5))
def test_album_strategy_picks_the_seeds_album(db, catalog, provider, conf, rng_seed):
    only(conf, "album")
    seed = seed_with(db, provider, DYLAN)
    pick = bender.next_pick(db, catalog, {}, NOW, random.Random(rng_seed))
    assert pick.album_uri == seed.album_uri and pick.uri != seed.uri


@pytest.mark.parametrize("rng_seed", range(5))
def test_throwback_picks_a_song_played_on_this_weekday(r, db, catalog, provider, conf,
                                                       rng_seed):
    only(conf, "throwback")
    seed_with(db, provider)
    week = timedelta(weeks=1)
    same_day = {BEATLES, MADONNA}
    for i, uri in enumerate(sorted(same_day)):
        history.record_play(r, "main", {"uri": uri, "user": "bo"}, NOW - (i + 1) * week)
    for days, uri in enumerate((ADELE, DYLAN, RAMONES), start=1):
        history.record_play(r, "main", {"uri": uri, "user": "bo"},
                            NOW - week - timedelta(days=days))
    pick = bender.next_pick(db, catalog, {}, NOW, random.Random(rng_seed))
    assert pick.uri in same_day


def test_a_strategy_that_finds_nothing_falls_through_to_the_others(db, catalog, provider,
                                                                   conf):
    conf(BENDER_STRATEGY_WEIGHTS={"throwback": 1000, "album": 1})  # no history at all
    seed = seed_with(db, provider, ZEPPELIN)
    for rng_seed in range(10):
        name, pick = bender.pick_with_strategy(db, catalog, {}, NOW, random.Random(rng_seed))
        assert name == "album" and pick.album_uri == seed.album_uri


def test_junk_in_history_never_breaks_a_pick(r, db, catalog, provider, conf):
    conf(BENDER_STRATEGY_WEIGHTS={"throwback": 1000, "album": 1})
    seed = seed_with(db, provider, ZEPPELIN)
    for i, uri in enumerate(("local:track:no such song", "local:track:gone", "spotify:x")):
        history.record_play(r, "main", {"uri": uri, "user": "bo"},
                            NOW - (i + 1) * timedelta(weeks=1))
    name, pick = bender.pick_with_strategy(db, catalog, {}, NOW, random.Random(0))
    assert name == "album" and pick.album_uri == seed.album_uri


# --- weights -----------------------------------------------------------------------------------
def test_configured_weights_drive_the_first_choice():
    weights = strategy_weights()
    assert weights == {"genre": 35, "throwback": 30, "artist_search": 25, "artist_albums": 5,
                       "album": 5}
    rng = random.Random(1234)
    draws = 6000
    first = Counter(strategy_order(rng, weights)[0] for _ in range(draws))
    for name, weight in weights.items():
        assert abs(first[name] / draws - weight / 100) < 0.03, (name, first[name])
    assert sorted(strategy_order(rng, weights)) == sorted(STRATEGIES)


def test_picks_follow_the_weights_when_every_strategy_can_answer(r, db, catalog, provider,
                                                                 conf):
    conf(BENDER_STRATEGY_WEIGHTS={"genre": 35, "throwback": 30, "artist_search": 25,
                                  "artist_albums": 5, "album": 5})
    seed_with(db, provider, QUEEN_OPERA)
    for i, uri in enumerate((BEATLES, MADONNA, ADELE, DYLAN, RAMONES, STONES)):
        history.record_play(r, "main", {"uri": uri, "user": "bo"}, NOW - timedelta(weeks=i + 1))
    rng = random.Random(99)
    draws = 400
    names = Counter(bender.pick_with_strategy(db, catalog, {}, NOW, rng)[0]
                    for _ in range(draws))
    assert 0.25 < names["genre"] / draws < 0.45
    assert 0.20 < names["throwback"] / draws < 0.40
    assert 0.15 < names["artist_search"] / draws < 0.35
    assert names["artist_albums"] / draws < 0.12 and names["album"] / draws < 0.12


def test_bad_weights_are_ignored(conf):
    conf(BENDER_STRATEGY_WEIGHTS={"genre": "lots", "album": -3, "nope": 5, "throwback": 2})
    assert strategy_weights() == {"throwback": 2.0}


# --- seed order ----------------------------------------------------------------------------------
def test_seed_order_human_then_bender_then_playing_then_nest_seed(db, catalog, provider, conf):
    only(conf, "artist_search")
    meta = {"seed_uri": QUEEN_OPERA, "genre_hint": "jazz"}

    def picked_artists():
        return bender.next_pick(db, catalog, meta, NOW, random.Random(3)).artists

    assert "Queen" in picked_artists()                            # the nest's seed_uri
    db.add_song(track(provider, ZEPPELIN), "bender", auto=True, now=NOW)
    db.advance(NOW)
    assert "Led Zeppelin" in picked_artists()                     # now playing
    db.add_song(track(provider, STONES), "bender", auto=True, now=NOW)
    assert "The Rolling Stones" in picked_artists()               # last Bender pick
    db.add_song(track(provider, RAMONES), "bo@x.io", now=NOW)
    assert "Ramones" in picked_artists()                          # a person's pick
    db.add_song(track(provider, DYLAN), "cy@x.io", now=NOW + timedelta(minutes=1))
    assert "Bob Dylan" in picked_artists()                        # the latest person's pick


def test_last_human_pick_comes_from_history_when_the_queue_has_none(r, db, catalog, provider,
                                                                    conf):
    only(conf, "artist_search")
    history.record_play(r, "main", {"uri": RAMONES, "user": "ann"}, NOW)
    history.record_play(r, "main", {"uri": DYLAN, "user": "bender", "auto": True},
                        NOW + timedelta(minutes=4))
    assert "Ramones" in bender.next_pick(db, catalog, {}, NOW, random.Random(1)).artists


def test_genre_hint_then_default_genre_seed_an_empty_nest(db, catalog, conf):
    only(conf, "genre")
    pick = bender.next_pick(db, catalog, {"genre_hint": "jazz"}, NOW, random.Random(0))
    assert "jazz" in pick.genres
    conf(BENDER_DEFAULT_GENRE="funk")
    assert "funk" in bender.next_pick(db, catalog, {}, NOW, random.Random(0)).genres


def test_an_era_hint_seeds_songs_of_that_decade(db, catalog, conf):
    only(conf, "genre")
    for rng_seed in range(5):
        pick = bender.next_pick(db, catalog, {"genre_hint": "80s"}, NOW, random.Random(rng_seed))
        assert 1980 <= pick.year <= 1989


def test_a_genre_the_catalog_lacks_falls_back_to_the_default_genre(db, catalog, conf):
    only(conf, "genre")
    conf(BENDER_DEFAULT_GENRE="funk")
    pick = bender.next_pick(db, catalog, {"genre_hint": "ambient"}, NOW, random.Random(0))
    assert "funk" in pick.genres


def test_unknown_seed_uri_is_skipped(db, catalog, conf):
    only(conf, "genre")
    meta = {"seed_uri": "local:track:nope", "genre_hint": "rock"}
    assert "rock" in bender.next_pick(db, catalog, meta, NOW, random.Random(0)).genres


# --- never pick --------------------------------------------------------------------------------
def test_filtered_queued_and_playing_songs_are_never_picked(db, catalog, provider, conf):
    only(conf, "album")
    songs = album_of(provider, QUEEN_OPERA)
    assert len(songs) == 5
    db.add_song(track(provider, songs[0]), "ann@x.io", now=NOW)
    db.advance(NOW)                                                   # playing
    seed_with(db, provider, songs[1])                                  # queued by a person
    db.add_song(track(provider, songs[2]), "bender", auto=True, now=NOW)  # queued by Bender
    db.filter_uri(songs[3])
    picks = {bender.next_pick(db, catalog, {}, NOW, random.Random(s)).uri for s in range(20)}
    assert picks == {songs[4]}
    db.filter_uri(songs[4])
    assert bender.next_pick(db, catalog, {}, NOW, random.Random(0)) is None


def test_songs_played_in_the_last_hours_are_not_repeated(r, db, catalog, provider, conf):
    only(conf, "album")
    songs = album_of(provider, QUEEN_OPERA)
    seed_with(db, provider, songs[0])
    for uri in songs[1:4]:
        history.record_play(r, "main", {"uri": uri, "user": "bo"}, NOW - timedelta(hours=2))
    picks = {bender.next_pick(db, catalog, {}, NOW, random.Random(s)).uri for s in range(10)}
    assert picks == {songs[4]}
    tomorrow = NOW + timedelta(days=1)
    picks = {bender.next_pick(db, catalog, {}, tomorrow, random.Random(s)).uri for s in range(30)}
    assert picks == set(songs[1:])


class CountingProvider(OfflineProvider):
    def __init__(self):
        super().__init__()
        self.calls = Counter()

    def album_tracks(self, album_uri):
        self.calls[album_uri] += 1
        return super().album_tracks(album_uri)


def test_catalog_answers_are_cached_for_every_nest_with_a_ttl(r, db, temp_db, conf):
    only(conf, "album")
    provider = CountingProvider()
    catalog = Catalog([provider])
    seed = provider.lookup(ZEPPELIN)
    db.add_song(seed, "ann@x.io", now=NOW)
    temp_db.add_song(seed, "ann@x.io", now=NOW)
    for rng_seed in range(3):
        assert bender.next_pick(db, catalog, {}, NOW, random.Random(rng_seed))
        assert bender.next_pick(temp_db, catalog, {}, NOW, random.Random(rng_seed))
    assert provider.calls == {seed.album_uri: 1}
    cache_keys = r.keys("NESTS|bender-cache:*")
    assert cache_keys and 0 < r.ttl(cache_keys[0]) <= 3600
