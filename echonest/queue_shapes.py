"""Queue input checks (hostile by default) and the item/time shapes DB returns (SPEC §10)."""

from __future__ import annotations

import json
import math
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any

from echonest.catalog.track import Track
from echonest.errors import InvalidRequest, NotFound

MAX_USER_LEN = 320          # an email address can be at most this long
MAX_URI_LEN = 256
MAX_TEXT_LEN = 1000         # title / artist / album as a provider gives them
MAX_URL_LEN = 2048
MAX_DURATION = 86400.0      # a day; longer is a provider bug, not a song
_ITEM_ID = re.compile(r"[1-9][0-9]{0,17}")
_NEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_URI = re.compile(r"[^\s\x00-\x1f\x7f]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def epoch(now: Any = None) -> float:
    """Seconds since the epoch from None (the clock), a datetime (naive = UTC) or a number."""
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.timestamp()
    if isinstance(now, int | float) and not isinstance(now, bool) and math.isfinite(now):
        return float(now)
    raise InvalidRequest("now must be a datetime or epoch seconds")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def check_nest_id(nest_id: Any) -> str:
    if not isinstance(nest_id, str) or not _NEST_ID.fullmatch(nest_id):
        raise InvalidRequest("nest id must be 1-64 letters, digits, '-' or '_'")
    return nest_id


def check_user(user: Any) -> str:
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_LEN:
        raise InvalidRequest(f"user must be a non-empty string of at most {MAX_USER_LEN} chars")
    if _CONTROL.search(user):
        raise InvalidRequest("user must not contain control characters")
    return user


def check_item_id(item_id: Any) -> str:
    """Ids are positive integers; accept them as int or digit string, refuse anything else."""
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str):
        raise InvalidRequest("id must be a string or integer")
    if not _ITEM_ID.fullmatch(item_id):
        raise NotFound("no such song in this nest")
    return item_id


def check_uri(uri: Any) -> str:
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LEN or not _URI.fullmatch(uri):
        raise InvalidRequest(f"uri must be 1-{MAX_URI_LEN} characters without spaces")
    return uri


def _text(value: Any, name: str, limit: int = MAX_TEXT_LEN) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(f"track {name} must be a string of at most {limit} chars")
    return _CONTROL.sub("", value)


def track_fields(track: Any) -> dict[str, str]:
    """The stored hash fields (minus id/user/auto/vote/added_at) of a validated Track."""
    if not isinstance(track, Track):
        raise InvalidRequest("track must be a catalog Track")
    uri = check_uri(track.uri)
    duration = track.duration
    if (isinstance(duration, bool) or not isinstance(duration, int | float)
            or not math.isfinite(duration) or not 0 < duration <= MAX_DURATION):
        raise InvalidRequest("track duration must be between 0 and 86400 seconds")
    if not isinstance(track.artists, tuple) or not isinstance(track.images, tuple):
        raise InvalidRequest("track artists and images must be tuples")
    artists = [_text(a, "artist") for a in track.artists]
    images = [_text(i, "image", MAX_URL_LEN) for i in track.images]
    return {
        "trackid": uri,
        "uri": uri,
        "src": _text(track.src, "src", 32),
        "title": _text(track.title, "title"),
        "artist": _text(", ".join(artists), "artist"),
        "album": _text(track.album, "album"),
        "duration": repr(float(duration)),
        "img": images[-1] if images else "",
        "big_img": images[0] if images else "",
    }


def clean_comment(text: Any, max_len: int) -> str:
    if not isinstance(text, str) or len(text) > max_len * 4:
        raise InvalidRequest(f"comment must be text of 1-{max_len} characters")
    # Line breaks become spaces; every other control character is dropped outright.
    text = re.sub(r"[\t\n\r]", " ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc").strip()
    if not 1 <= len(text) <= max_len:
        raise InvalidRequest(f"comment must be text of 1-{max_len} characters")
    return text


def pairs(flat: list | None) -> dict[str, str]:
    flat = flat or []
    return dict(zip(flat[0::2], flat[1::2], strict=True))


def _comment(raw: str) -> dict | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {"user": value.get("user", ""), "body": value.get("body", ""),
            "time": value.get("time", "")}


def _votes(flat: list | None) -> dict[str, int]:
    votes = {}
    for user, raw in pairs(flat).items():
        try:
            value = int(raw)
        except ValueError:
            continue
        if value in (1, -1):
            votes[user] = value
    return votes


def item_from_entry(entry: list | None) -> dict | None:
    """A script's ``{hash, jams, comments[, votes]}`` entry → the API item dict (None if gone).

    ``votes`` ({user: 1 | -1}) lets every client find its own vote in the one shared body.
    """
    if not entry or not entry[0]:
        return None
    fields = pairs(entry[0])
    comments = [c for c in (_comment(raw) for raw in entry[2] or []) if c is not None]
    return {
        "id": fields.get("id", ""),
        "uri": fields.get("uri", ""),
        "trackid": fields.get("trackid", fields.get("uri", "")),
        "src": fields.get("src", ""),
        "title": fields.get("title", ""),
        "artist": fields.get("artist", ""),
        "album": fields.get("album", ""),
        "duration": float(fields.get("duration") or 0),
        "img": fields.get("img", ""),
        "big_img": fields.get("big_img", ""),
        "user": fields.get("user", ""),
        "vote": int(fields.get("vote") or 0),
        "votes": _votes(entry[3] if len(entry) > 3 else None),
        "jam": sorted(entry[1] or []),
        "comments": comments,
        "auto": fields.get("auto") == "1",
        "added_at": fields.get("added_at", ""),
    }


def preview_from_raw(raw: str) -> dict | None:
    """The stored Bender preview (JSON) as a row, or None (none, or not a JSON object)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def preview_item(track: Track, bender_user: str) -> dict:
    """Bender's next pick shaped like a queue item (deterministic, so re-sets are no-ops)."""
    fields = track_fields(track)
    return {"id": "preview", **fields, "duration": float(fields["duration"]),
            "user": bender_user, "vote": 0, "votes": {}, "jam": [], "comments": [], "auto": True,
            "added_at": None}
