"""The library in the catalog: audible songs first, Bender over the library, audio_url on items."""

# ruff: noqa: F811  -- the shared fixtures are imported by name; tests take them as arguments

from __future__ import annotations

import pytest
from audio_fixtures import tagged
from library_support import (  # noqa: F401 - fixtures
    fresh_indexes,
    library,
    library_conf,
    library_template,
    own_library,
)
from web_support import ALICE, make_app, user_client

from db import DB
from echonest.catalog import get_catalog
from echonest.catalog.library import LibraryProvider, audio_url
from echonest.catalog.library.index import artist_uri
from echonest.catalog.offline import OfflineProvider
from echonest.catalog.registry import Catalog

# The provider contract runs over the library in test_catalog_contract.py (library_case).


@pytest.fixture
def catalog(r, library):
    conf, files = library
    return get_catalog(conf, r)


def test_library_tracks_carry_the_library_scheme_and_art_route(catalog):
    track = catalog.search("bohemian rhapsody")[0]
    assert track.src == "library" and track.uri.startswith("library:track:")
    assert track.images == (f"/audio/{track.uri.rsplit(':', 1)[1]}/art",)
    assert catalog.lookup(track.uri) == track
    no_art = catalog.search("feeling good")[0]
    assert no_art.images[0].startswith("data:image/svg+xml")  # generated cover instead


def test_search_puts_songs_that_can_be_heard_first(catalog):
    found = catalog.search("love", limit=10)
    assert found[0].src == "library" and found[0].title == "Love of My Life"
    assert {t.src for t in found[1:]} == {"offline"}  # then the metadata-only catalog
    assert catalog.default.name == "library"


def test_an_empty_library_changes_nothing(r, tmp_path, fresh_indexes):
    from echonest.catalog.library.scan import Scanner

    (tmp_path / "empty").mkdir()
    conf = library_conf(tmp_path / "empty")
    Scanner(r, conf).scan()
    catalog = get_catalog(conf, r)
    assert catalog.default.name == "offline"
    assert catalog.search("bohemian rhapsody")[0].src == "offline"
    assert [p.name for p in catalog.providers] == ["library", "offline"]


def test_no_music_folder_means_no_library_provider(r, fresh_indexes):
    catalog = get_catalog(library_conf(), r)
    assert catalog.audible is None and catalog.default.name == "offline"


def test_a_library_that_fails_falls_back_to_the_other_catalog(r, library):
    class Broken(LibraryProvider):
        def has_tracks(self):
            raise ConnectionError("redis went away")

    catalog = Catalog([OfflineProvider()], audible=Broken(library[0], r))
    assert catalog.default.name == "offline"
    assert catalog.search("bohemian rhapsody")[0].src == "offline"


def test_library_search_survives_the_other_catalog_failing(r, library):
    from echonest.catalog.base import Provider
    from echonest.errors import CatalogError

    class Down(Provider):
        name, uri_schemes = "spotify", ("spotify",)

        def search(self, query, limit=10):
            raise TimeoutError("spotify is down")

        def lookup(self, uri):
            raise TimeoutError("spotify is down")

    catalog = Catalog([Down()], audible=LibraryProvider(library[0], r))
    assert [t.title for t in catalog.search("bohemian")] == ["Bohemian Rhapsody"]
    with pytest.raises(CatalogError):
        catalog.search("no such words anywhere zzzz qqqq")


def test_bender_lookups_use_the_library_first(catalog):
    queen = artist_uri("Queen")
    assert {t.title for t in catalog.artist_top_tracks(queen)} == \
        {"Bohemian Rhapsody", "Love of My Life", "We Will Rock You"}
    albums = catalog.artist_albums(queen)
    assert {a.title for a in albums} == {"A Night at the Opera", "News of the World"}
    opera = next(a for a in albums if a.title == "A Night at the Opera")
    assert [t.title for t in catalog.album_tracks(opera.uri)] == \
        ["Bohemian Rhapsody", "Love of My Life"]
    assert {t.src for t in catalog.genre_tracks("electronic", 10)} == {"library"}
    assert {t.title for t in catalog.year_tracks(1990, 1999, 10)} == {"Jóga"}
    # even when seeded by a metadata-only song, Bender picks songs that can be heard
    seeded = catalog.search_artist("Queen", seed_uri="local:track:queen-bohemian-rhapsody")
    assert seeded and {t.src for t in seeded} == {"library"}
    assert catalog.search_artist("björk")[0].title == "Jóga"


def test_a_genre_or_era_the_library_lacks_still_gives_library_songs(catalog):
    for found in (catalog.genre_tracks("polka", 5), catalog.year_tracks(1950, 1959, 5)):
        assert 1 <= len(found) <= 5 and {t.src for t in found} == {"library"}


def test_library_uris_normalize(catalog):
    track = catalog.search("one more time")[0]
    assert catalog.lookup(track.uri.upper().replace("LIBRARY:TRACK:", "library:track:")) \
        == track
    assert catalog.lookup(f"  {track.uri}  ") == track


# --- audio_url everywhere ------------------------------------------------------------------------
def test_audio_url_is_the_route_for_library_tracks_only(r, catalog):
    track = catalog.search("bohemian")[0]
    assert audio_url(track.uri, r) == f"/audio/{track.uri.rsplit(':', 1)[1]}"
    assert audio_url("library:track:0123456789abcdef", r) is None
    assert audio_url("local:track:queen-bohemian-rhapsody", r) is None
    assert audio_url("spotify:track:4uLU6hMCjMI75M1A2tKUQC", r) is None
    assert audio_url(None, r) is None and audio_url("library:track:../../x", r) is None


def test_queue_items_now_playing_and_preview_carry_audio_url(r, catalog):
    db = DB("main", redis_client=r)
    heard = catalog.search("one more time")[0]
    silent = catalog.lookup("local:track:queen-bohemian-rhapsody")
    db.add_song(heard, ALICE)
    db.add_song(silent, "bob@example.com")
    db.set_preview(catalog.search("jóga")[0])
    by_uri = {i["uri"]: i["audio_url"] for i in db.queue_items()}
    assert by_uri == {heard.uri: audio_url(heard.uri, r), silent.uri: None}
    body = db.queue_body()
    assert {i["uri"]: i["audio_url"] for i in body["queue"]} == by_uri
    assert body["preview"]["audio_url"].startswith("/audio/")
    db.advance()
    playing = db.now_playing()
    assert playing["uri"] == heard.uri and playing["audio_url"] == audio_url(heard.uri, r)


def test_search_api_results_carry_audio_url(r, library):
    conf, files = library
    app = make_app(r, MUSIC_DIR=conf.MUSIC_DIR, DEMO_MUSIC="false", DEMO_MUSIC_DIR="")
    alice = user_client(app, ALICE)
    results = alice.get("/api/search?q=love").get_json()
    assert results[0]["track_name"] == "Love of My Life"
    assert results[0]["audio_url"] == "/audio/" + results[0]["uri"].rsplit(":", 1)[1]
    assert alice.get(results[0]["audio_url"]).status_code == 200
    assert all(hit["audio_url"] is None for hit in results[1:])


def test_search_api_without_a_library_says_no_audio(r, fresh_indexes):
    alice = user_client(make_app(r), ALICE)
    results = alice.get("/api/search?q=love").get_json()
    assert results and all(hit["audio_url"] is None for hit in results)


def test_a_song_added_to_the_folder_becomes_searchable(r, own_library):
    from echonest.catalog.library.scan import Scanner

    conf, root, files = own_library
    Scanner(r, conf).scan()
    catalog = get_catalog(conf, r)
    assert not [t for t in catalog.search("brand new tune") if t.src == "library"]
    tagged(root / "Newcomer" / "Brand New Tune.m4a", title="Brand New Tune", artist="Newcomer")
    Scanner(r, conf).scan()
    assert catalog.search("brand new tune")[0].src == "library"
