"""Spotify JSON → Track/Album mapping, fed the odd and hostile shapes the Web API can send."""

from __future__ import annotations

import pytest

from echonest.catalog.base import Album
from echonest.catalog.spotify_map import (
    album_from_json,
    episode_from_json,
    images_of,
    item_from_json,
    track_from_json,
    year_of,
)
from echonest.catalog.track import Track

TRACK_ID = "5ghIJDpPoe3CfHMGu71E6T"


def track_json(**changes):
    body = {
        "type": "track",
        "id": TRACK_ID,
        "uri": f"spotify:track:{TRACK_ID}",
        "name": "Smells Like Teen Spirit",
        "duration_ms": 301920,
        "artists": [{"id": "6olE6TJLqED3rqDCT0FyPh", "name": "Nirvana",
                     "uri": "spotify:artist:6olE6TJLqED3rqDCT0FyPh"}],
        "album": {"name": "Nevermind (Remastered)", "uri": "spotify:album:2UJcKiJxNryhL050F5Z1Fk",
                  "release_date": "1991-09-26",
                  "images": [{"url": "https://i.scdn.co/image/s", "height": 64, "width": 64},
                             {"url": "https://i.scdn.co/image/l", "height": 640, "width": 640},
                             {"url": "https://i.scdn.co/image/m", "height": 300, "width": 300}]},
    }
    body.update(changes)
    return body


def test_full_track():
    assert track_from_json(track_json()) == Track(
        uri=f"spotify:track:{TRACK_ID}", title="Smells Like Teen Spirit", artists=("Nirvana",),
        album="Nevermind (Remastered)", duration=301.92, year=1991,
        images=("https://i.scdn.co/image/l", "https://i.scdn.co/image/m",
                "https://i.scdn.co/image/s"),
        src="spotify")
    track = track_from_json(track_json())
    assert track.artist_uris == ("spotify:artist:6olE6TJLqED3rqDCT0FyPh",)
    assert track.album_uri == "spotify:album:2UJcKiJxNryhL050F5Z1Fk"


def test_simplified_track_takes_the_album_it_came_with():
    simplified = track_json()
    album = simplified.pop("album")
    track = track_from_json(simplified, album=album)
    assert track.album == "Nevermind (Remastered)" and track.year == 1991
    assert track_from_json(simplified).album == ""


@pytest.mark.parametrize("junk", [
    None, [], "track", 42,
    track_json(uri="spotify:local:Nirvana:Nevermind:Teen+Spirit:301"),
    track_json(uri=None), track_json(name=""), track_json(name=None),
    track_json(type="episode"),
])
def test_unusable_tracks_map_to_none(junk):
    assert track_from_json(junk) is None


def test_missing_and_wrongly_typed_fields_fall_back():
    track = track_from_json(track_json(duration_ms="long", artists=[None, {"name": 7}],
                                       album={"images": "none", "release_date": None}))
    assert (track.duration, track.artists, track.year, track.images, track.album) == (
        0.0, (), None, (), "")
    track = track_from_json(track_json(album=None, name="  " + "x" * 2000))
    assert len(track.title) == 512 and track.album == ""


def test_linked_tracks_keep_the_requested_uri():
    relinked = track_json(uri="spotify:track:1111111111111111111111",
                          linked_from={"uri": f"spotify:track:{TRACK_ID}"})
    assert track_from_json(relinked).uri == f"spotify:track:{TRACK_ID}"


@pytest.mark.parametrize("date, year", [
    ("1991-09-26", 1991), ("1991-09", 1991), ("1991", 1991), ("0000", None), ("", None),
    (None, None), (1991, None), ("soon", None),
])
def test_year_of(date, year):
    assert year_of(date) == year


def test_images_ignore_broken_entries():
    assert images_of({"images": [None, {"url": ""}, {"url": "a", "width": "big"},
                                 {"url": "b", "width": 10}]}) == ("b", "a")
    assert images_of(None) == ()


def test_episode_uses_its_show():
    episode = episode_from_json({
        "type": "episode", "uri": "spotify:episode:512ojhOuo1ktJprKbVcKyQ", "name": "Ep",
        "duration_ms": 1000, "release_date": "2015-10-01", "images": [],
        "show": {"name": "The Show", "uri": "spotify:show:38bS44xjbVVZ3No3ByF1dJ",
                 "images": [{"url": "show.jpg", "width": 640}]}})
    assert (episode.artists, episode.album, episode.images, episode.year, episode.duration) == (
        ("The Show",), "The Show", ("show.jpg",), 2015, 1.0)
    assert episode.album_uri == "spotify:show:38bS44xjbVVZ3No3ByF1dJ"
    assert item_from_json({"type": "episode", "uri": "spotify:episode:512ojhOuo1ktJprKbVcKyQ",
                           "name": "Ep"}).artists == ()
    assert item_from_json(track_json()).uri == f"spotify:track:{TRACK_ID}"


def test_album():
    assert album_from_json({"uri": "spotify:album:2UJcKiJxNryhL050F5Z1Fk", "name": "Nevermind",
                            "artists": [{"name": "Nirvana"}], "release_date": "1991-09-26",
                            "images": [{"url": "c", "width": 640}]}) == Album(
        uri="spotify:album:2UJcKiJxNryhL050F5Z1Fk", title="Nevermind", artists=("Nirvana",),
        year=1991, images=("c",))
    assert album_from_json({"uri": "spotify:track:x", "name": "No"}) is None
    assert album_from_json({"uri": "spotify:album:x"}) is None
