"""Bender: strategies fit their seed, weights, seed order, never-pick rules, fill, rest, backoff,
and the preview row's Queue/Filter buttons — on a real Valkey and a real catalog."""

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from config import CONF
from db import DB
from echonest import bender, history, keys
from echonest.bender_strategies import STRATEGIES, strategy_order, strategy_weights
from echonest.catalog.offline.provider import OfflineProvider
from echonest.catalog.registry import Catalog
from echonest.errors import EchoNestError, InvalidRequest

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
TEMP = "ABCDE"


QUEEN_OPERA = "local:track:queen-bohemian-rhapsody"       # rock; A Night at the Opera (5 songs)
ZEPPELIN = "local:track:led-zeppelin-whole-lotta-love"
STONES = "local:track:the-rolling-stones-gimme-shelter"
RAMONES = "local:track:ramones-blitzkrieg-bop"
DYLAN = "local:track:bob-dylan-blowin-in-the-wind"
BEATLES = "local:track:the-beatles-taxman"
MADONNA = "local:track:madonna-material-girl"
ADELE = "local:track:adele-rolling-in-the-deep"
CRAZY = "local:track:beyonce-crazy-in-love"


@pytest.fixture(scope="module")
def provider():
    """The real bundled offline catalog (parsed once for this module)."""
    return OfflineProvider()


@pytest.fixture
def catalog(provider):
    return Catalog([provider])


@pytest.fixture
def conf(monkeypatch):
    def set_conf(**values):
        for name, value in values.items():
            monkeypatch.setitem(CONF._values, name, value)
    set_conf(USE_BENDER=True, MIN_QUEUE_DEPTH=3, NEST_MIN_QUEUE_DEPTH=1, MAX_BENDER_MINUTES=180,
             BENDER_BACKOFF_SECONDS=30, BENDER_CACHE_TTL_SECONDS=3600)
    return set_conf


@pytest.fixture
def db(r):
    return DB("main", redis_client=r)


@pytest.fixture
def temp_db(r):
    r.hset(keys.NESTS_REGISTRY, TEMP, json.dumps({"id": TEMP, "created_by": "ann@x.io"}))
    return DB(TEMP, redis_client=r)


def only(conf, strategy):
    conf(BENDER_STRATEGY_WEIGHTS={strategy: 1})


def track(provider, uri):
    found = provider.lookup(uri)
    assert found is not None, f"{uri} is not in the offline catalog"
    return found


def album_of(provider, uri):
    return [t.uri for t in provider.album_tracks(track(provider, uri).album_uri)]


def seed_with(db, provider, uri=QUEEN_OPERA, user="ann@x.io"):
    """A person queues a song: Bender's seed."""
    seed = track(provider, uri)
    db.add_song(seed, user, now=NOW)
    return seed


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
