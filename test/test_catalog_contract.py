"""One contract every catalog provider must meet, run against each provider in PROVIDER_FACTORIES.

To add a provider: write ``def my_case(request) -> ProviderCase`` (``request`` is pytest's
FixtureRequest, so ``request.getfixturevalue("fake_spotify")`` can start a fake server) and
append ``pytest.param(my_case, id="name")`` to PROVIDER_FACTORIES below — or, from your own
test module, ``from test_catalog_contract import ProviderContract`` and subclass it with a
``case`` fixture returning your ProviderCase (pytest runs the whole contract there too).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from library_support import fresh_indexes, library, library_template  # noqa: F401 - fixtures

from echonest.catalog import Album, Catalog, Provider, Track
from echonest.catalog.offline import OfflineProvider


@dataclass
class ProviderCase:
    """A provider plus facts about its catalog the contract can check answers against."""

    provider: Provider
    query: str                    # a search that finds several tracks
    unknown_uri: str              # well-formed, owned by the provider, does not exist
    # Every provider we ship serves all of Bender's lookups, so these are required facts.
    artist_uri: str
    artist_name: str
    genre: str                    # genre_tracks(genre) returns tracks tagged with it
    years: tuple[int, int]
    genre_tagged: bool = True     # False: the provider's Tracks carry no genres to check


def offline_case(request: pytest.FixtureRequest) -> ProviderCase:
    return ProviderCase(provider=OfflineProvider(), query="love",
                        unknown_uri="local:track:no-such-song-anywhere",
                        artist_uri="local:artist:queen", artist_name="Queen",
                        genre="funk", years=(1970, 1979))


def library_case(request: pytest.FixtureRequest) -> ProviderCase:
    """The music library over a generated folder of real tagged files (test/audio_fixtures.py)."""
    from echonest.catalog.library import LibraryProvider
    from echonest.catalog.library.index import artist_uri

    conf, _ = request.getfixturevalue("library")
    return ProviderCase(provider=LibraryProvider(conf, request.getfixturevalue("r")),
                        query="queen", unknown_uri="library:track:0123456789abcdef",
                        artist_uri=artist_uri("Queen"), artist_name="Queen", genre="Rock",
                        years=(1970, 1979))


PROVIDER_FACTORIES = [pytest.param(offline_case, id="offline"),
                      pytest.param(library_case, id="library")]


class ProviderContract:
    """The contract; not collected itself (no Test prefix), run through subclasses."""

    @pytest.fixture(params=PROVIDER_FACTORIES)
    def case(self, request: pytest.FixtureRequest) -> ProviderCase:
        return request.param(request)

    @staticmethod
    def _well_formed(case: ProviderCase, tracks: list) -> None:
        for track in tracks:
            assert isinstance(track, Track)
            assert track.scheme in case.provider.uri_schemes
            assert track.title and track.artists and track.duration > 0
            assert track.src == case.provider.name

    def test_search_returns_tracks_within_the_limit(self, case):
        tracks = case.provider.search(case.query, limit=5)
        assert 1 <= len(tracks) <= 5
        self._well_formed(case, tracks)
        assert len(case.provider.search(case.query, limit=1)) == 1

    def test_a_search_result_looks_up_to_the_same_track(self, case):
        found = case.provider.search(case.query, limit=3)[0]
        again = case.provider.lookup(found.uri)
        assert again == found and again.uri == found.uri

    def test_unknown_uri_looks_up_to_none(self, case):
        assert case.provider.lookup(case.unknown_uri) is None

    def test_normalize_uri_keeps_its_own_track_uris_and_refuses_junk(self, case):
        uri = case.provider.search(case.query, limit=1)[0].uri
        assert case.provider.normalize_uri(uri) == uri
        assert case.provider.normalize_uri("hello there") is None
        assert case.provider.normalize_uri("ftp://example.com/track/1") is None

    def test_artist_top_tracks_are_by_that_artist(self, case):
        tracks = case.provider.artist_top_tracks(case.artist_uri)
        assert tracks
        self._well_formed(case, tracks)
        assert all(case.artist_uri in t.artist_uris for t in tracks)

    def test_artist_albums_hold_that_artists_tracks(self, case):
        albums = case.provider.artist_albums(case.artist_uri)
        assert albums and all(isinstance(a, Album) for a in albums)
        assert all(case.artist_name in a.artists for a in albums)
        tracks = case.provider.album_tracks(albums[0].uri)
        assert tracks
        self._well_formed(case, tracks)
        assert {t.album_uri for t in tracks} == {albums[0].uri}
        assert {t.album for t in tracks} == {albums[0].title}

    def test_search_artist_finds_only_that_artist(self, case):
        tracks = case.provider.search_artist(case.artist_name)
        assert tracks
        assert all(case.artist_name in t.artists for t in tracks)

    def test_genre_tracks_are_of_that_genre(self, case):
        tracks = case.provider.genre_tracks(case.genre, limit=5)
        assert 1 <= len(tracks) <= 5
        self._well_formed(case, tracks)
        if case.genre_tagged:
            assert all(case.genre in t.genres for t in tracks)

    def test_year_tracks_fall_in_the_range(self, case):
        low, high = case.years
        tracks = case.provider.year_tracks(low, high, limit=10)
        assert 1 <= len(tracks) <= 10
        assert all(low <= t.year <= high for t in tracks)

    def test_a_catalog_of_just_this_provider_searches_and_looks_up(self, case):
        catalog = Catalog([case.provider])
        found = catalog.search(case.query, limit=2)
        assert 1 <= len(found) <= 2
        assert catalog.lookup(found[0].uri) == found[0]


class TestProviderContract(ProviderContract):
    """Runs the contract for every entry of PROVIDER_FACTORIES."""


def test_a_provider_that_overrides_only_the_musts_answers_empty_for_the_mays():
    class Minimal(Provider):
        name, uri_schemes = "minimal", ("min",)

        def search(self, query, limit=10):
            return []

        def lookup(self, uri):
            return None

    minimal = Minimal()
    assert minimal.artist_top_tracks("min:artist:1") == []
    assert minimal.artist_albums("min:artist:1") == []
    assert minimal.album_tracks("min:album:1") == []
    assert minimal.search_artist("x") == [] and minimal.genre_tracks("rock") == []
    assert minimal.year_tracks(1990, 1999) == [] and minimal.normalize_uri("min:track:1") is None
    with pytest.raises(NotImplementedError):
        Provider().search("x")


# --- the Catalog registry around providers -----------------------------------------------------
class Remote(Provider):
    """A second scheme owner for routing tests; ``broken`` makes every call blow up."""

    name, uri_schemes = "remote", ("remote",)

    def __init__(self, broken: bool = False):
        self.broken = broken
        self.track = Track(uri="remote:track:abc", title="Far Away", artists=("Someone",),
                           duration=200.0, genres=("funk",), src="remote",
                           artist_uris=("remote:artist:someone",))

    def _maybe_fail(self):
        if self.broken:
            raise ConnectionError("socket closed by peer at 10.0.0.1")

    def search(self, query, limit=10):
        self._maybe_fail()
        return [self.track]

    def lookup(self, uri):
        self._maybe_fail()
        return self.track if uri == self.track.uri else None

    def artist_top_tracks(self, artist_uri):
        self._maybe_fail()
        return [self.track]

    def genre_tracks(self, genre, limit=50):
        self._maybe_fail()
        return [self.track]

    def normalize_uri(self, text):
        prefix = "https://remote.example/track/"
        return "remote:track:" + text[len(prefix):].split("?")[0] if text.startswith(prefix) \
            else None


@pytest.fixture
def offline():
    return OfflineProvider()


def test_lookup_routes_by_scheme(offline):
    catalog = Catalog([offline, Remote()])
    assert catalog.lookup("remote:track:abc").src == "remote"
    assert catalog.lookup("local:track:queen-bohemian-rhapsody").title == "Bohemian Rhapsody"
    assert catalog.lookup("https://remote.example/track/abc?si=share").uri == "remote:track:abc"
    assert catalog.default is offline and set(catalog.schemes) == {"local", "remote"}


@pytest.mark.parametrize("bad", [None, 42, 4.2, ["local:track:x"], "", "   ", "x" * 10_000,
                                 "spotify:", "spotify:track:abc", "no scheme here",
                                 "local:track:does-not-exist", "local:album:queen-the-game",
                                 "<script>alert(1)</script>"])
def test_lookup_refuses_bad_or_unknown_uris_with_invalid_request(offline, bad):
    from echonest.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        Catalog([offline]).lookup(bad)


def test_a_failing_provider_becomes_a_catalog_error_naming_it(offline):
    from echonest.errors import CatalogError

    catalog = Catalog([Remote(broken=True), offline])
    for call in (lambda: catalog.search("anything"),
                 lambda: catalog.lookup("remote:track:abc"),
                 lambda: catalog.artist_top_tracks("remote:artist:someone"),
                 lambda: catalog.genre_tracks("funk")):
        with pytest.raises(CatalogError) as err:
            call()
        assert err.value.to_dict()["error"] == "catalog_unavailable"
        assert "remote" in err.value.message and "10.0.0.1" not in err.value.message
    # local songs still resolve while the other provider is down
    assert catalog.lookup("local:track:queen-bohemian-rhapsody").src == "offline"


def test_a_provider_returning_garbage_is_a_catalog_error_not_a_crash(offline):
    from echonest.errors import CatalogError

    class Garbage(Remote):
        def search(self, query, limit=10):
            return "not a list"

        def genre_tracks(self, genre, limit=50):
            return [None, 3, self.track]

    catalog = Catalog([Garbage()])
    with pytest.raises(CatalogError):
        catalog.search("x")
    assert catalog.genre_tracks("funk") == [catalog.default.track]


def test_bender_lookups_go_to_the_seeds_provider_or_the_default(offline):
    remote = Remote()
    catalog = Catalog([offline, remote])
    assert catalog.genre_tracks("funk", 5, seed_uri="remote:track:abc") == [remote.track]
    assert all(t.src == "offline" for t in catalog.genre_tracks("funk", 5))
    assert catalog.artist_top_tracks("remote:artist:someone") == [remote.track]
    assert catalog.artist_top_tracks("local:artist:queen")[0].artists == ("Queen",)
    assert catalog.album_tracks("local:album:queen-the-game")[0].title == "Play the Game"
    assert [a.title for a in catalog.artist_albums("local:artist:queen")][:1] == \
        ["A Night at the Opera"]
    # a seed from a catalog that is no longer configured finds nothing rather than failing
    assert catalog.artist_top_tracks("spotify:artist:gone") == []
    assert catalog.album_tracks(None) == [] and catalog.search_artist("") == []


def test_bender_lookup_limits_are_validated(offline):
    from echonest.errors import InvalidRequest

    catalog = Catalog([offline])
    assert len(catalog.year_tracks(1979, 1970, 7)) == 7  # reversed range is read as 1970..1979
    for bad in (0, -1, 10_000, True, "5"):
        with pytest.raises(InvalidRequest):
            catalog.genre_tracks("rock", bad)
    with pytest.raises(InvalidRequest):
        catalog.year_tracks("1970", 1979)


def test_get_catalog_picks_providers_from_config_and_caches(r):
    from config import CONF
    from echonest.catalog import catalog_mode, get_catalog

    offline_conf = CONF.copy(CATALOG="auto", SPOTIFY_CLIENT_ID="")
    catalog = get_catalog(offline_conf, r)
    assert catalog.default.name == "offline" and catalog_mode(offline_conf) == "offline"
    assert get_catalog(offline_conf, r) is catalog

    spotify_conf = CONF.copy(CATALOG="auto", SPOTIFY_CLIENT_ID="id", SPOTIFY_CLIENT_SECRET="s",
                             SPOTIFY_API_BASE="http://127.0.0.1:9/")
    both = get_catalog(spotify_conf, r)
    assert both.default.name == "spotify" and set(both.schemes) >= {"spotify", "local"}
    assert both.lookup("local:track:queen-bohemian-rhapsody").src == "offline"

    forced = get_catalog(CONF.copy(CATALOG="offline", SPOTIFY_CLIENT_ID="id"), r)
    assert [p.name for p in forced.providers] == ["offline"]
    with pytest.raises(ValueError, match="CATALOG"):
        get_catalog(CONF.copy(CATALOG="napster"), r)


def test_importing_the_catalog_reads_no_data_until_first_use(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    script = (
        "from echonest.catalog import get_catalog\n"
        "from echonest.catalog.offline import loader\n"
        "catalog = get_catalog()\n"
        "assert not loader._cache, 'data loaded at import'\n"
        "assert catalog.search('queen bohemian')[0].title == 'Bohemian Rhapsody'\n"
        "assert loader._cache\n"
    )
    env = {"PATH": "/usr/bin:/bin", "CATALOG": "offline", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
