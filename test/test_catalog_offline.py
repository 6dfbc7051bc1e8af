"""The bundled offline catalog: enough real music for every Bender strategy, forgiving search, art."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from urllib.parse import unquote

import pytest

from echonest.catalog.offline import OfflineProvider
from echonest.catalog.offline.loader import build

MAIN_GENRES = ("rock", "pop", "hip-hop", "r&b", "soul", "funk", "disco", "electronic", "jazz",
               "country", "reggae", "indie", "metal", "latin", "classical", "folk", "punk")


@pytest.fixture(scope="module")
def offline():
    return OfflineProvider()


@pytest.fixture(scope="module")
def data(offline):
    return offline.data


def parse_svg(data_uri: str) -> ET.Element:
    return ET.fromstring(unquote(data_uri.split(",", 1)[1]))  # noqa: S314 - our own generated SVG


def titles(tracks):
    return [t.title for t in tracks]


# --- the data ----------------------------------------------------------------------------------
def test_catalog_is_big_and_varied_enough_for_bender(data):
    lead_artists = {album.artists[0] for album in data.albums.values()}
    albums_per_artist = Counter(album.artists[0] for album in data.albums.values())
    assert len(data.tracks) >= 320
    assert len(lead_artists) >= 45
    assert sum(1 for n in albums_per_artist.values() if n >= 2) >= 30
    assert all(len(tracks) >= 2 for tracks in data.album_tracks.values())
    genres = {g for t in data.tracks for g in t.genres}
    assert set(MAIN_GENRES) <= genres
    for genre in MAIN_GENRES:
        assert len({t.artists[0] for t in data.tracks if genre in t.genres}) >= 2, genre


def test_uris_are_unique_stable_slugs(data):
    uris = [t.uri for t in data.tracks]
    assert len(uris) == len(set(uris))
    assert all(re.fullmatch(r"local:track:[a-z0-9]+(-[a-z0-9]+)*", u) for u in uris)
    assert all(re.fullmatch(r"local:album:[a-z0-9-]+", a) for a in data.albums)
    assert data.by_uri["local:track:queen-bohemian-rhapsody"].album == "A Night at the Opera"
    # the same title on two albums keeps two uris
    watermelon = [t for t in data.tracks if t.title == "Watermelon Man"]
    bridge = [t for t in data.tracks if t.title == "Bridge over Troubled Water"]
    assert len({t.uri for t in bridge}) == 2 and watermelon


def test_facts_are_plausible(data):
    for track in data.tracks:
        assert 30 <= track.duration <= 1200, track
        assert 1900 <= track.year <= 2030, track
        assert track.src == "offline" and track.album and track.artists
        assert track.album_uri in data.albums and len(track.artist_uris) == len(track.artists)
    rhapsody = data.by_uri["local:track:queen-bohemian-rhapsody"]
    assert (rhapsody.duration, rhapsody.year, rhapsody.genres) == (355.0, 1975, ("rock",))
    assert data.by_uri["local:track:daft-punk-get-lucky"].artists == (
        "Daft Punk", "Pharrell Williams", "Nile Rodgers")


def test_every_album_has_small_deterministic_svg_art(data):
    arts = set()
    for album in data.albums.values():
        art = album.images[0]
        assert art.startswith("data:image/svg+xml")
        assert len(art) < 2048
        svg = parse_svg(art)
        assert svg.tag.endswith("svg")
        arts.add(art)
    assert len(arts) == len(data.albums)
    for track in data.tracks:
        assert track.images == data.albums[track.album_uri].images
        assert track.big_img and track.img
    rebuilt = build()
    assert rebuilt.albums["local:album:queen-the-game"] == data.albums["local:album:queen-the-game"]


def test_album_titles_with_markup_characters_stay_valid_svg(tmp_path):
    path = tmp_path / "catalog.txt"
    path.write_text("@ Ütter & Sons | <Loud> \"Hits\" & 'More' | 2001 | rock\nOne | 3:00\n"
                    "Two | 4:00 | Guest Star\n", encoding="utf-8")
    data = build(path)
    (album,) = data.albums.values()
    assert album.uri == "local:album:utter-and-sons-loud-hits-and-more"
    assert parse_svg(album.images[0]).tag.endswith("svg")
    assert data.tracks[1].artists == ("Ütter & Sons", "Guest Star")


@pytest.mark.parametrize("text,line", [
    ("One | 3:00\n", 1),
    ("@ A | B | 1999 | rock\nOne | 3:75\n", 2),
    ("@ A | B | nineteen | rock\nOne | 3:00\n", 1),
    ("@ A | B | 1999 | rock\nOne\n", 2),
    ("@ A | B | 1999 | rock\n@ A | C | 1999 | rock\nOne | 3:00\n", 2),
])
def test_a_malformed_data_file_fails_loudly_with_its_line(tmp_path, text, line):
    path = tmp_path / "catalog.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=f"catalog.txt:{line}"):
        build(path)


# --- search ------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["beyonce", "BEYONCÉ", "Beyonce halo", "beyoncé"])
def test_search_ignores_case_and_accents(offline, query):
    found = offline.search(query)
    assert found and all("Beyoncé" in t.artists for t in found)


@pytest.mark.parametrize("query,first", [
    ("queen bohemian", "Bohemian Rhapsody"),
    ("bohemian rhapsody queen", "Bohemian Rhapsody"),
    ("bohem", "Bohemian Rhapsody"),
    ("Bohemian Rhapsody", "Bohemian Rhapsody"),
    ("back in black", "Back in Black"),
    ("dont stop", "Don't Stop"),
    ("daft punk get lucky", "Get Lucky"),
    ("sigur ros hoppipolla", "Hoppípolla"),
    ("bjork joga", "Jóga"),
    ("gymnopedie no 1", "Gymnopédie No. 1"),
    ("motorhead ace", "Ace of Spades"),
    ("pyt", "P.Y.T. (Pretty Young Thing)"),
    ("  shakira   TU ", "Tú"),
])
def test_search_ranks_the_meant_song_first(offline, query, first):
    assert titles(offline.search(query))[0] == first


def test_an_artist_name_finds_that_artist_before_titles_that_mention_it(offline):
    found = offline.search("queen", limit=10)
    assert all(t.artists == ("Queen",) for t in found)
    assert "God Save the Queen" in titles(offline.search("god save queen"))


def test_punctuated_and_run_together_names_match(offline):
    for query in ("acdc", "ac/dc", "AC DC"):
        assert offline.search(query)[0].artists == ("AC/DC",), query
    assert offline.search("simon and garfunkel")[0].artists == ("Simon & Garfunkel",)
    assert offline.search("simon & garfunkel")[0].artists == ("Simon & Garfunkel",)


def test_search_respects_limit_and_finds_nothing_for_nonsense(offline):
    assert len(offline.search("love", limit=3)) == 3
    assert len(offline.search("a", limit=50)) == 50
    assert offline.search("qwxzzy") == []
    assert offline.search("!!! ...") == []
    assert offline.search("queen zzzzzz qqqqq") == []  # most of the query matches nothing


def test_a_typo_in_one_word_of_three_still_finds_the_song(offline):
    assert "Bohemian Rhapsody" in titles(offline.search("queen bohemian rapsody"))


@pytest.mark.parametrize("query,artist", [("bohemain rhapsody", "Queen"), ("beyonse", "Beyoncé"),
                                          ("metalica", "Metallica"), ("smels like teen sprit",
                                                                      "Nirvana")])
def test_one_typo_per_word_is_forgiven(offline, query, artist):
    assert offline.search(query)[0].artists[0] == artist


@pytest.mark.parametrize("a,b,near", [("bohemain", "bohemian", True), ("ab", "ba", True),
                                      ("quen", "queen", True), ("queen", "queens", True),
                                      ("abc", "cab", False), ("abcd", "badc", False),
                                      ("same", "same", False), ("abc", "abcde", False)])
def test_one_edit_apart(a, b, near):
    from echonest.catalog.offline.index import one_edit_apart

    assert one_edit_apart(a, b) is near and one_edit_apart(b, a) is near



# --- Bender lookups ----------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["hip-hop", "Hip Hop", "hiphop", "rap", "HIP-HOP"])
def test_genre_names_are_forgiving(offline, spelling):
    found = offline.genre_tracks(spelling, limit=20)
    assert len(found) == 20 and all("hip-hop" in t.genres for t in found)


def test_genre_tracks_spread_over_many_artists_and_cover_the_genre(offline, data):
    found = offline.genre_tracks("funk", limit=20)
    assert len({t.artists[0] for t in found}) >= 8
    everything = offline.genre_tracks("funk", limit=200)
    assert {t.uri for t in everything} == {t.uri for t in data.tracks if "funk" in t.genres}
    assert all("soul" in t.genres or "r&b" in t.genres for t in offline.genre_tracks("R&B"))
    assert offline.genre_tracks("indie rock", limit=5)
    assert offline.genre_tracks("polka") == []


def test_year_tracks_span_the_decade(offline):
    found = offline.year_tracks(1980, 1989, limit=30)
    assert len(found) == 30 and all(1980 <= t.year <= 1989 for t in found)
    assert len({t.album for t in found}) >= 15
    assert offline.year_tracks(1800, 1850) == []


def test_artist_lookups(offline):
    albums = offline.artist_albums("local:artist:queen")
    assert [a.title for a in albums] == ["A Night at the Opera", "News of the World", "The Game"]
    assert titles(offline.album_tracks(albums[2].uri))[:2] == ["Play the Game",
                                                                "Another One Bites the Dust"]
    top = offline.artist_top_tracks("local:artist:queen")
    assert len(top) == 10 and len({t.album for t in top}) == 3
    featured = offline.artist_top_tracks("local:artist:pharrell-williams")
    assert {t.title for t in featured} == {"Get Lucky", "Lose Yourself to Dance"}
    assert offline.artist_top_tracks("local:artist:nobody") == []
    assert offline.album_tracks("local:album:nothing") == []


@pytest.mark.parametrize("name", ["The Beatles", "the beatles", "Beatles", "beat"])
def test_search_artist_accepts_loose_names(offline, name):
    found = offline.search_artist(name)
    assert found and {t.artists[0] for t in found} == {"The Beatles"}


def test_search_artist_by_exact_name_excludes_similar_names(offline):
    assert {t.artists[0] for t in offline.search_artist("Prince")} == {"Prince"}
    assert offline.search_artist("nobody at all") == []
