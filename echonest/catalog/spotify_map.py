"""Spotify Web API JSON → Track/Album, and Spotify URL/URI parsing (the only place that knows both)."""

from __future__ import annotations

import re
from typing import Any

from echonest.catalog.base import Album
from echonest.catalog.track import Track

SRC = "spotify"
MAX_TEXT = 512

# Spotify ids are 22 base-62 characters; anything else is junk, not "maybe an id".
_ID = r"[0-9A-Za-z]{22}"
_URI = re.compile(rf"^spotify:(?P<kind>track|episode|album|artist|show):(?P<id>{_ID})$")
# open.spotify.com links, with the undocumented /intl-xx/ segment and any ?si=… tracking query.
_URL = re.compile(
    rf"^(?:https?://)?open\.spotify\.com/(?:intl-[A-Za-z]{{2}}(?:-[A-Za-z]{{2}})?/)?"
    rf"(?P<kind>track|episode|album|artist|show)/(?P<id>{_ID})/?(?:[?#]\S*)?$"
)
PLAYABLE = ("track", "episode")


def parse_uri(text: Any, kinds: tuple[str, ...] = PLAYABLE) -> tuple[str, str] | None:
    """A Spotify URI or open.spotify.com URL → (kind, id) when kind is in ``kinds``, else None."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return None
    text = text.strip()
    match = _URI.match(text) or _URL.match(text)
    if not match or match.group("kind") not in kinds:
        return None
    return match.group("kind"), match.group("id")


def canonical_uri(text: Any) -> str | None:
    """The canonical ``spotify:track:ID`` / ``spotify:episode:ID`` for a pasted link, or None."""
    parsed = parse_uri(text)
    return f"spotify:{parsed[0]}:{parsed[1]}" if parsed else None


def _text(value: Any, default: str = "") -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else default


def images_of(obj: Any) -> tuple[str, ...]:
    """Image URLs largest first (Spotify usually sends them widest first, but does not promise)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("images"), list):
        return ()
    sized = []
    for image in obj["images"]:
        if isinstance(image, dict) and isinstance(image.get("url"), str) and image["url"]:
            size = image.get("width") or image.get("height") or 0
            sized.append((size if isinstance(size, int) else 0, image["url"]))
    sized.sort(key=lambda pair: -pair[0])
    return tuple(url for _, url in sized)


def year_of(release_date: Any) -> int | None:
    """"1977", "1977-10" or "1977-10-14" → 1977."""
    if isinstance(release_date, str) and re.match(r"^\d{4}", release_date):
        year = int(release_date[:4])
        return year if year > 0 else None
    return None


def _seconds(duration_ms: Any) -> float:
    if isinstance(duration_ms, (int, float)) and not isinstance(duration_ms, bool):
        return max(0.0, duration_ms / 1000.0)
    return 0.0


def _artists(items: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names, uris = [], []
    for artist in items if isinstance(items, list) else ():
        if isinstance(artist, dict) and _text(artist.get("name")):
            names.append(_text(artist.get("name")))
            if isinstance(artist.get("uri"), str):
                uris.append(artist["uri"])
    return tuple(names), tuple(uris)


def track_from_json(obj: Any, album: Any = None,
                    genres: tuple[str, ...] = ()) -> Track | None:
    """A full or simplified track object (``album`` given for the latter) → Track, or None."""
    if not isinstance(obj, dict) or obj.get("type", "track") != "track":
        return None
    # Market relinking answers with another copy of the song; keep the uri the user asked for,
    # or the same song would look "not queued" and could be queued twice.
    linked = obj.get("linked_from") if isinstance(obj.get("linked_from"), dict) else {}
    uri = canonical_uri(linked.get("uri")) or canonical_uri(obj.get("uri"))
    title = _text(obj.get("name"))
    if not uri or not title:
        return None
    album = obj.get("album") if isinstance(obj.get("album"), dict) else album
    album = album if isinstance(album, dict) else {}
    names, uris = _artists(obj.get("artists"))
    return Track(
        uri=uri,
        title=title,
        artists=names,
        album=_text(album.get("name")),
        duration=_seconds(obj.get("duration_ms")),
        year=year_of(album.get("release_date")),
        genres=genres,
        images=images_of(album),
        src=SRC,
        artist_uris=uris,
        album_uri=album.get("uri") if isinstance(album.get("uri"), str) else "",
    )


def episode_from_json(obj: Any, show: Any = None) -> Track | None:
    """An episode object → Track; the show name stands in for the artist, the show for the album."""
    if not isinstance(obj, dict) or obj.get("type", "episode") != "episode":
        return None
    uri = canonical_uri(obj.get("uri"))
    title = _text(obj.get("name"))
    if not uri or not title:
        return None
    show = obj.get("show") if isinstance(obj.get("show"), dict) else show
    show = show if isinstance(show, dict) else {}
    show_name = _text(show.get("name"))
    return Track(
        uri=uri,
        title=title,
        artists=(show_name,) if show_name else (),
        album=show_name,
        duration=_seconds(obj.get("duration_ms")),
        year=year_of(obj.get("release_date")),
        images=images_of(obj) or images_of(show),
        src=SRC,
        album_uri=show.get("uri") if isinstance(show.get("uri"), str) else "",
    )


def item_from_json(obj: Any) -> Track | None:
    """Whatever a search or lookup returned (track or episode) → Track, or None."""
    if isinstance(obj, dict) and obj.get("type") == "episode":
        return episode_from_json(obj)
    return track_from_json(obj)


def album_from_json(obj: Any) -> Album | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("uri"), str):
        return None
    title = _text(obj.get("name"))
    if not title or not obj["uri"].startswith("spotify:album:"):
        return None
    names, _ = _artists(obj.get("artists"))
    return Album(uri=obj["uri"], title=title, artists=names,
                 year=year_of(obj.get("release_date")), images=images_of(obj))


def paged_items(page: Any) -> list[Any]:
    """The ``items`` of a Spotify paging object, tolerating null entries and odd shapes."""
    if isinstance(page, dict) and isinstance(page.get("items"), list):
        return [item for item in page["items"] if isinstance(item, dict)]
    return []
