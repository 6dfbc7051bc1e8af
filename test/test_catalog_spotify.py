"""SpotifyProvider through real spotipy against the fake Spotify server (SPEC §8)."""

from __future__ import annotations

import json

import pytest
from fake_spotify import fake_spotify  # noqa: F401  (pytest fixture)
from test_catalog_contract import ProviderCase, ProviderContract

from config import CONF
from echonest import keys
from echonest.catalog.base import Album
from echonest.catalog.spotify import SpotifyProvider
from echonest.catalog.track import Track
from echonest.errors import CatalogError, InvalidRequest

GET_LUCKY = "spotify:track:69kOkLUCkxIZYexIgSG8rq"
ONE_MORE_TIME = "spotify:track:0DiWol3AO6WpXZgp0goxAV"
EPISODE = "spotify:episode:512ojhOuo1ktJprKbVcKyQ"
DAFT_PUNK = "spotify:artist:4tZwfgrHOc3mvqYlEYSvVi"
QUEEN = "spotify:artist:1dfeR4HaWDbWqFHLkxsg1d"
DISCOVERY = "spotify:album:2noRn2Aes5aoNVsU6iWThc"


@pytest.fixture
def provider(r, fake_spotify):  # noqa: F811
    return SpotifyProvider(fake_spotify.conf(), r)


# --- search and lookup -------------------------------------------------------------------------
def test_search_maps_tracks_most_popular_first(provider):
    hits = provider.search("daft punk", limit=10)
    tracks = [t for t in hits if t.uri.startswith("spotify:track:")]
    assert [t.title for t in tracks][:2] == [
        "Get Lucky (feat. Pharrell Williams and Nile Rodgers)",
        "Harder, Better, Faster, Stronger",
    ]
    lucky = tracks[0]
    assert lucky.uri == GET_LUCKY
    assert lucky.artists == ("Daft Punk", "Pharrell Williams", "Nile Rodgers")
    assert lucky.album == "Random Access Memories"
    assert lucky.duration == pytest.approx(369.626)
    assert lucky.year == 2013
    assert lucky.src == "spotify"
    assert lucky.album_uri == "spotify:album:4m2880jivSbbyEGAKfITCa"
    assert lucky.artist_uris[0] == DAFT_PUNK
    assert len(lucky.images) == 3 and lucky.big_img.startswith("https://i.scdn.co/image/")


def test_search_lists_episodes_after_tracks_with_the_show_as_artist(provider, fake_spotify):  # noqa: F811
    hits = provider.search("daft punk", limit=10)
    assert [t.uri.split(":")[1] for t in hits] == ["track"] * 5 + ["episode"]
    episode = hits[-1]
    assert episode.title == "Daft Punk - Touch"
    assert episode.artists == ("Song Exploder",)
    assert episode.year == 2013
    searches = fake_spotify.calls("/v1/search")
    assert searches[-1].args["type"] == "track,episode"
    assert searches[-1].args["market"] == "US"


def test_search_honours_limit_and_rejects_bad_queries(provider, fake_spotify):  # noqa: F811
    assert len(provider.search("daft punk", limit=2)) == 2
    assert fake_spotify.calls("/v1/search")[-1].args["limit"] == "2"
    assert provider.search("   ") == []
    with pytest.raises(InvalidRequest):
        provider.search("x" * 201)
    with pytest.raises(InvalidRequest):
        provider.search(["daft punk"])
    for bad_limit in ("5", None, True, 2.5):
        with pytest.raises(InvalidRequest):
            provider.search("daft punk", limit=bad_limit)
    with pytest.raises(InvalidRequest):
        provider.year_tracks("1970", 1979)
    assert len(fake_spotify.calls("/v1/search")) == 1


def test_search_finds_nothing_for_nonsense(provider):
    assert provider.search("zzqx nonexistent") == []


def test_lookup_track_carries_lead_artist_genres(provider, fake_spotify):  # noqa: F811
    track = provider.lookup(GET_LUCKY)
    assert isinstance(track, Track)
    assert track.title.startswith("Get Lucky")
    assert track.genres == ("electro", "filter house", "french house")
    # the genre lookup is remembered per artist: a second Daft Punk track costs one call
    before = len(fake_spotify.api_calls())
    assert provider.lookup(ONE_MORE_TIME).genres == track.genres
    assert len(fake_spotify.api_calls()) == before + 1


def test_search_tags_genres_with_one_batched_artist_call(provider, fake_spotify):  # noqa: F811
    hits = provider.search("queen", limit=10)
    assert {t.artist: t.genres for t in hits} == {
        "Queen": ("classic rock", "glam rock", "rock"), "ABBA": ("europop", "swedish pop")}
    artist_calls = fake_spotify.calls("/v1/artists")
    assert len(artist_calls) == 1
    assert set(artist_calls[0].args["ids"].split(",")) == {
        "1dfeR4HaWDbWqFHLkxsg1d", "0LcJLqbBmaGUft1e9Mm8HV"}
    # so a search hit and its lookup are the same Track, genres included
    assert provider.lookup(hits[0].uri) == hits[0]


def test_genres_are_optional_when_the_artist_call_fails(provider, fake_spotify, r):  # noqa: F811
    fake_spotify.fail_paths = ("/v1/artists",)
    track = provider.lookup(GET_LUCKY)
    assert track.title.startswith("Get Lucky") and track.genres == ()
    assert not r.exists(keys.SPOTIFY_RATE_LIMITED)


def test_lookup_episode_uses_show_and_market(provider, fake_spotify):  # noqa: F811
    episode = provider.lookup(EPISODE)
    assert episode.uri == EPISODE
    assert episode.title == "Tredje rikets knarkande granskas"
    assert episode.artists == ("Vetenskapsradion Historia",)
    assert episode.album == "Vetenskapsradion Historia"
    assert episode.duration == pytest.approx(1502.795)
    assert episode.year == 2015
    assert episode.images
    assert fake_spotify.calls("/v1/episodes/")[-1].args["market"] == "US"


def test_lookup_accepts_pasted_links(provider):
    url = "https://open.spotify.com/intl-de/track/69kOkLUCkxIZYexIgSG8rq?si=abc123"
    assert provider.lookup(url).uri == GET_LUCKY


def test_lookup_of_unknown_or_junk_is_none_and_junk_costs_no_call(provider, fake_spotify):  # noqa: F811
    assert provider.lookup("spotify:track:0000000000000000000000") is None
    assert provider.lookup("spotify:episode:0000000000000000000000") is None
    calls = len(fake_spotify.api_calls())
    for junk in ("spotify:track:short", "local:track:abc", "<script>", None, 42, "x" * 10_000,
                 "spotify:album:2noRn2Aes5aoNVsU6iWThc"):
        assert provider.lookup(junk) is None
    assert len(fake_spotify.api_calls()) == calls


@pytest.mark.parametrize("text, uri", [
    ("spotify:track:69kOkLUCkxIZYexIgSG8rq", GET_LUCKY),
    ("  spotify:track:69kOkLUCkxIZYexIgSG8rq\n", GET_LUCKY),
    ("https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq", GET_LUCKY),
    ("https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq?si=4f1a2b3c4d5e6f70", GET_LUCKY),
    ("http://open.spotify.com/intl-de/track/69kOkLUCkxIZYexIgSG8rq", GET_LUCKY),
    ("open.spotify.com/intl-pt-BR/track/69kOkLUCkxIZYexIgSG8rq?si=x&context=y", GET_LUCKY),
    ("https://open.spotify.com/episode/512ojhOuo1ktJprKbVcKyQ?si=q", EPISODE),
    ("spotify:episode:512ojhOuo1ktJprKbVcKyQ", EPISODE),
    ("spotify:album:2noRn2Aes5aoNVsU6iWThc", None),
    ("https://open.spotify.com/artist/4tZwfgrHOc3mvqYlEYSvVi", None),
    ("https://evil.example/open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq", None),
    ("https://open.spotify.com.evil.example/track/69kOkLUCkxIZYexIgSG8rq", None),
    ("spotify:track:69kOkLUCkxIZYexIgSG8rq<script>", None),
    ("spotify:track:69kOkLUCkxIZYexIgSG8r", None),
    ("spotify:track:", None),
    ("local:track:get-lucky", None),
    ("daft punk", None),
    ("", None),
    (None, None),
    (["spotify:track:69kOkLUCkxIZYexIgSG8rq"], None),
])
def test_normalize_uri(text, uri):
    assert SpotifyProvider(CONF.copy(SPOTIFY_CLIENT_ID="x")).normalize_uri(text) == uri


# --- Bender's lookups ----------------------------------------------------------------------------
def test_artist_top_tracks(provider, fake_spotify):  # noqa: F811
    tracks = provider.artist_top_tracks(QUEEN)
    assert [t.title.split(" - ")[0] for t in tracks] == [
        "Bohemian Rhapsody", "Don't Stop Me Now", "Another One Bites The Dust"]
    assert all(t.artists == ("Queen",) and t.year for t in tracks)
    top = fake_spotify.calls("/v1/artists/1dfeR4HaWDbWqFHLkxsg1d/top-tracks")
    assert top[-1].args["country"] == "US"


def test_artist_albums(provider):
    albums = provider.artist_albums(DAFT_PUNK)
    assert albums == [
        Album(uri="spotify:album:4m2880jivSbbyEGAKfITCa", title="Random Access Memories",
              artists=("Daft Punk",), year=2013, images=albums[0].images),
        Album(uri=DISCOVERY, title="Discovery", artists=("Daft Punk",), year=2001,
              images=albums[1].images),
    ]
    assert len(albums[1].images) == 3


def test_album_tracks_in_order_with_album_art_and_year(provider, fake_spotify):  # noqa: F811
    tracks = provider.album_tracks(DISCOVERY)
    assert [t.title for t in tracks] == ["One More Time", "Harder, Better, Faster, Stronger"]
    assert all(t.album == "Discovery" and t.year == 2001 and t.album_uri == DISCOVERY
               for t in tracks)
    # the fake lists Discovery's art smallest first; we still put the largest first
    assert "b273" in tracks[0].big_img and "4851" in tracks[0].img
    # the album object carries its tracks: no second page fetch for a normal album
    assert [c.path for c in fake_spotify.calls("/v1/albums")] == [
        "/v1/albums/2noRn2Aes5aoNVsU6iWThc"]


def test_search_artist_genre_and_year(provider, fake_spotify):  # noqa: F811
    assert {t.artist for t in provider.search_artist("Queen")} == {"Queen"}
    assert fake_spotify.calls("/v1/search")[-1].args["q"] == 'artist:"Queen"'
    french = provider.genre_tracks("french house", limit=50)
    assert french and all("Daft Punk" in t.artists for t in french)
    assert fake_spotify.calls("/v1/search")[-1].args["q"] == 'genre:"french house"'
    seventies = provider.year_tracks(1975, 1979, limit=50)
    assert {t.title.split(" - ")[0] for t in seventies} == {
        "Bohemian Rhapsody", "Don't Stop Me Now", "Hotel California", "Dancing Queen"}
    assert fake_spotify.calls("/v1/search")[-1].args["q"] == "year:1975-1979"
    assert [t.year for t in provider.year_tracks(2013, 2013, limit=1)] == [2013]


def test_bender_lookups_of_unknown_or_foreign_uris_are_empty(provider, fake_spotify):  # noqa: F811
    assert provider.artist_top_tracks("spotify:artist:0000000000000000000000") == []
    assert provider.artist_albums("spotify:artist:0000000000000000000000") == []
    assert provider.album_tracks("spotify:album:0000000000000000000000") == []
    calls = len(fake_spotify.api_calls())
    assert provider.artist_top_tracks("local:artist:queen") == []
    assert provider.album_tracks(GET_LUCKY) == []
    assert provider.search_artist("") == []
    assert provider.genre_tracks(" ") == []
    assert len(fake_spotify.api_calls()) == calls


# --- the global 429 back-off ----------------------------------------------------------------
def test_429_sets_the_global_key_and_every_instance_backs_off(r, fake_spotify):  # noqa: F811
    conf = fake_spotify.conf()
    web = SpotifyProvider(conf, r)
    web.lookup(GET_LUCKY)
    fake_spotify.rate_limit(17)
    with pytest.raises(CatalogError, match=r"rate limiting us; try again in 1[67] s"):
        web.search("queen")
    # spotipy did not quietly retry (and sleep) on the 429
    assert len(fake_spotify.calls("/v1/search")) == 1
    assert r.exists(keys.SPOTIFY_RATE_LIMITED)
    assert keys.SPOTIFY_RATE_LIMITED == "MISC|spotify-rate-limited"
    assert 15 <= r.ttl(keys.SPOTIFY_RATE_LIMITED) <= 17
    assert not r.keys("NEST:*")

    # another "process": its own provider and spotipy client, same Redis
    worker = SpotifyProvider(conf, r)
    fake_spotify.rate_limit(None)
    before = len(fake_spotify.log)
    for call in (lambda: worker.lookup(ONE_MORE_TIME), lambda: worker.search("abba"),
                 lambda: worker.artist_top_tracks(QUEEN), lambda: worker.album_tracks(DISCOVERY),
                 lambda: worker.genre_tracks("rock"), lambda: web.lookup(GET_LUCKY)):
        with pytest.raises(CatalogError) as caught:
            call()
        assert caught.value.status == 503
        assert "try again in" in caught.value.message
    assert len(fake_spotify.log) == before

    r.delete(keys.SPOTIFY_RATE_LIMITED)  # the back-off ran out
    assert worker.lookup(ONE_MORE_TIME).title == "One More Time"


def test_a_back_off_key_without_expiry_is_bounded(r, fake_spotify, provider):  # noqa: F811
    r.set(keys.SPOTIFY_RATE_LIMITED, "1")
    with pytest.raises(CatalogError, match="try again in 30 s"):
        provider.search("queen")
    assert 0 < r.ttl(keys.SPOTIFY_RATE_LIMITED) <= 30
    assert fake_spotify.log == []


def test_429_without_retry_after_still_backs_off(r, fake_spotify, provider):  # noqa: F811
    fake_spotify.retry_after = "soon"
    with pytest.raises(CatalogError):
        provider.lookup(GET_LUCKY)
    assert r.ttl(keys.SPOTIFY_RATE_LIMITED) > 0


def test_429_on_the_token_endpoint_backs_off_too(r, fake_spotify, provider):  # noqa: F811
    fake_spotify.token_retry_after = 9
    with pytest.raises(CatalogError, match="rate limiting us; try again in 9 s"):
        provider.lookup(GET_LUCKY)
    assert 1 <= r.ttl(keys.SPOTIFY_RATE_LIMITED) <= 9
    assert fake_spotify.api_calls() == []


# --- one shared token -------------------------------------------------------------------------
def test_one_token_serves_every_instance(r, fake_spotify):  # noqa: F811
    conf = fake_spotify.conf()
    providers = [SpotifyProvider(conf, r) for _ in range(3)]
    for p in providers:
        p.lookup(GET_LUCKY)
        p.search("queen")
    assert len(fake_spotify.token_calls("client_credentials")) == 1
    cached = json.loads(r.get(keys.SPOTIFY_APP_TOKEN))
    assert keys.SPOTIFY_APP_TOKEN == "NESTS|spotify-app-token"
    assert 0 < r.ttl(keys.SPOTIFY_APP_TOKEN) <= 3600
    assert {c.auth for c in fake_spotify.api_calls()} == {f"Bearer {cached['access_token']}"}


def test_a_token_near_expiry_is_renewed(r, fake_spotify, provider):  # noqa: F811
    fake_spotify.app_expires_in = 30  # inside spotipy's 60 s safety margin: stale at once
    provider.lookup(GET_LUCKY)
    provider.search("queen")
    assert len(fake_spotify.token_calls("client_credentials")) == len(fake_spotify.api_calls())


def test_a_revoked_shared_token_is_dropped_and_replaced(r, fake_spotify, provider):  # noqa: F811
    r.set(keys.SPOTIFY_APP_TOKEN, json.dumps({"access_token": "revoked", "token_type": "Bearer",
                                              "expires_in": 3600, "expires_at": 4102444800}))
    with pytest.raises(CatalogError):
        provider.lookup(GET_LUCKY)
    assert not r.exists(keys.SPOTIFY_APP_TOKEN)
    assert provider.lookup(GET_LUCKY).uri == GET_LUCKY


@pytest.mark.parametrize("garbage", ["not json", "[]", '{"access_token": "x"}',
                                     '{"access_token": 5, "expires_at": 4102444800}'])
def test_a_garbled_cached_token_is_replaced(r, fake_spotify, provider, garbage):  # noqa: F811
    r.set(keys.SPOTIFY_APP_TOKEN, garbage)
    assert provider.lookup(GET_LUCKY).uri == GET_LUCKY
    assert len(fake_spotify.token_calls("client_credentials")) == 1


def test_construction_does_no_io(fake_spotify, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SKIP_SPOTIFY_PREFETCH", "")
    SpotifyProvider(fake_spotify.conf(), redis_client=None)
    assert fake_spotify.log == []


def test_unconfigured_spotify_fails_clearly(r, fake_spotify):  # noqa: F811
    provider = SpotifyProvider(fake_spotify.conf(SPOTIFY_CLIENT_ID=""), r)
    with pytest.raises(CatalogError, match="not configured"):
        provider.search("queen")


def test_wrong_client_secret_is_a_catalog_error(r, fake_spotify):  # noqa: F811
    provider = SpotifyProvider(fake_spotify.conf(SPOTIFY_CLIENT_SECRET="wrong"), r)
    with pytest.raises(CatalogError, match="invalid_client"):
        provider.search("queen")
    assert not r.exists(keys.SPOTIFY_RATE_LIMITED)


# --- wired through the Catalog registry -------------------------------------------------------
@pytest.fixture
def catalog(r, fake_spotify):  # noqa: F811
    from echonest.catalog import get_catalog, reset_catalogs

    reset_catalogs()
    yield get_catalog(fake_spotify.conf(), r)
    reset_catalogs()


def test_catalog_uses_spotify_for_search_and_pasted_links(catalog):
    from echonest.catalog import search_results

    assert catalog.default.name == "spotify"
    hits = search_results(catalog, "mr brightside")
    assert hits == [{"uri": "spotify:track:3n3Ppam7vgaVa1iaRUc9Lp", "track_name": "Mr. Brightside",
                     "artist": "The Killers", "album": "Hot Fuss", "duration": 223,
                     "images": hits[0]["images"], "audio_url": None}]
    pasted = "https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq?si=1"
    assert catalog.lookup(pasted).uri == GET_LUCKY
    assert [t.uri for t in catalog.search(pasted)] == [GET_LUCKY]
    with pytest.raises(InvalidRequest):
        catalog.lookup("spotify:track:0000000000000000000000")


def test_catalog_passes_the_back_off_on_as_a_503(catalog, fake_spotify):  # noqa: F811
    fake_spotify.rate_limit(5)
    with pytest.raises(CatalogError) as caught:
        catalog.search("queen")
    assert caught.value.to_dict() == {
        "error": "catalog_unavailable", "message": "Spotify is rate limiting us; try again in 5 s",
        "retry_after": 5}


def test_unreachable_spotify_is_a_catalog_error(r):
    conf = CONF.copy(SPOTIFY_CLIENT_ID="id", SPOTIFY_CLIENT_SECRET="secret",
                     SPOTIFY_AUTH_BASE="http://127.0.0.1:9", SPOTIFY_API_BASE="http://127.0.0.1:9/v1/")
    with pytest.raises(CatalogError, match="unreachable"):
        SpotifyProvider(conf, r).search("queen")


# --- the shared provider contract (test/test_catalog_contract.py) ---------------------------------
class TestSpotifyProviderContract(ProviderContract):
    @pytest.fixture
    def case(self, r, fake_spotify):  # noqa: F811
        return ProviderCase(provider=SpotifyProvider(fake_spotify.conf(), r), query="queen",
                            unknown_uri="spotify:track:0000000000000000000000",
                            artist_uri=QUEEN, artist_name="Queen", genre="rock",
                            years=(1975, 1979))
