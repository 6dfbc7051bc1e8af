"""Catalog.search input rules, pasted links, and the search API's result shape."""

from __future__ import annotations

import pytest

from config import CONF
from echonest.catalog import Catalog, Provider, Track, search_results
from echonest.catalog.offline import OfflineProvider
from echonest.errors import CatalogError, InvalidRequest

RHAPSODY = "local:track:queen-bohemian-rhapsody"


@pytest.fixture
def catalog():
    return Catalog([OfflineProvider()], conf=CONF.copy(SEARCH_MAX_QUERY_LENGTH=200))


class Pasted(Provider):
    """Owns remote: and recognises its share links, like a streaming service would."""

    name, uri_schemes = "remote", ("remote",)
    track = Track(uri="remote:track:xyz", title="Shared Song", artists=("Sharer",),
                  duration=123.4, images=("https://img/big.jpg", "https://img/small.jpg"),
                  src="remote")

    def search(self, query, limit=10):
        return []

    def lookup(self, uri):
        return self.track if uri == self.track.uri else None

    def normalize_uri(self, text):
        if text.startswith("https://remote.example/track/"):
            return "remote:track:" + text.rsplit("/", 1)[1].split("?")[0]
        return None


@pytest.mark.parametrize("bad", [None, 7, 3.5, b"queen", ["queen"], {"q": "queen"}, "",
                                 "   \t\n", "x" * 201, "queen " * 2000])
def test_bad_queries_are_invalid_requests(catalog, bad):
    with pytest.raises(InvalidRequest):
        catalog.search(bad)
    with pytest.raises(InvalidRequest):
        search_results(catalog, bad)


@pytest.mark.parametrize("junk", ["spotify:", "spotify:track:", "spotify:junk",
                                  "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
                                  "local:", "http://example.com/x"])
def test_links_nobody_here_can_open_are_invalid_not_silently_empty(catalog, junk):
    with pytest.raises(InvalidRequest, match="link"):
        catalog.search(junk)


def test_query_length_limit_comes_from_config(catalog):
    assert catalog.search("q" * 200) == []  # at the limit: accepted, just finds nothing
    short = Catalog([OfflineProvider()], conf=CONF.copy(SEARCH_MAX_QUERY_LENGTH=5))
    assert short.search("queen")
    with pytest.raises(InvalidRequest, match="too long"):
        short.search("queens")


def test_limit_is_validated(catalog):
    assert len(catalog.search("love", limit=50)) == 50
    for bad in (0, 51, -3, True, "10", None):
        with pytest.raises(InvalidRequest):
            catalog.search("love", limit=bad)


def test_markup_in_a_query_is_just_text(catalog):
    assert catalog.search("<script>alert('x')</script>") == []
    assert catalog.search("queen <b>bohemian</b>")[0].uri == RHAPSODY


def test_a_pasted_local_uri_finds_exactly_that_track(catalog):
    assert [t.uri for t in catalog.search(RHAPSODY)] == [RHAPSODY]
    assert [t.uri for t in catalog.search("  LOCAL:TRACK:Queen-Bohemian-Rhapsody ")] == [RHAPSODY]
    assert catalog.search("local:track:no-such-song") == []
    assert catalog.search("local:album:queen-the-game") == []  # not a track


def test_a_pasted_share_link_resolves_through_its_provider():
    catalog = Catalog([OfflineProvider(), Pasted()])
    found = catalog.search("https://remote.example/track/xyz?si=abc")
    assert found == [Pasted.track]
    assert catalog.search("remote:track:xyz") == [Pasted.track]
    assert catalog.search("https://remote.example/track/nope") == []


def test_search_results_have_the_api_shape(catalog):
    results = search_results(catalog, "queen")
    assert 1 <= len(results) <= 10
    first = results[0]
    assert set(first) == {"uri", "track_name", "artist", "album", "duration", "images",
                          "audio_url"}
    assert first["audio_url"] is None  # metadata-only songs have no audio here
    assert first["artist"] == "Queen" and first["uri"].startswith("local:track:")
    assert isinstance(first["duration"], int) and first["duration"] > 30
    assert first["images"] and first["images"][0].startswith("data:image/svg+xml")


def test_search_results_are_capped_at_ten_and_join_artists(catalog):
    assert len(search_results(catalog, "love")) == 10
    lucky = search_results(catalog, "get lucky")[0]
    assert lucky == {"uri": "local:track:daft-punk-get-lucky", "track_name": "Get Lucky",
                     "artist": "Daft Punk, Pharrell Williams, Nile Rodgers",
                     "album": "Random Access Memories", "duration": 369,
                     "images": lucky["images"], "audio_url": None}


def test_search_results_of_a_pasted_link_and_of_a_failing_provider():
    good = Catalog([OfflineProvider(), Pasted()])
    (shared,) = search_results(good, "https://remote.example/track/xyz")
    assert shared["duration"] == 123 and shared["images"] == ["https://img/big.jpg",
                                                             "https://img/small.jpg"]

    class Down(Pasted):
        def search(self, query, limit=10):
            raise TimeoutError("read timed out")

    with pytest.raises(CatalogError):
        search_results(Catalog([Down()]), "anything")
