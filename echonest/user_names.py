"""Display names: recorded at sign-in in one global hash, looked up (one HMGET) for payloads."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from typing import Any

import redis

from echonest import keys
from echonest.errors import InvalidRequest
from echonest.validation import visible_chars

NAME_MAX_LENGTH = 40
AVATAR_MAX_LENGTH = 500
BENDER_ID = "bender"        # db.BENDER_USER: the adder id of Bender's songs and preview
TOKEN_ID = "token:api"  # noqa: S105 - web.auth.TOKEN_USER_ID, a user id; never signs in
_FIXED = {BENDER_ID: "Bender", TOKEN_ID: "API"}
# Bidi overrides and zero-width characters reorder or hide text, so one name could pose as
# another; they are dropped like control characters.
_DROP = ("Cc", "Cf", "Cs", "Co", "Cn")


def clean_display_name(raw: Any, fallback: str = "") -> str:
    """Visible characters only, whitespace collapsed, at most 40 characters; else ``fallback``."""
    if not isinstance(raw, str):
        return fallback
    raw = raw[:NAME_MAX_LENGTH * 8]
    visible = "".join(" " if ch.isspace() else ch for ch in raw
                      if ch.isspace() or unicodedata.category(ch) not in _DROP)
    name = " ".join(visible.split())[:NAME_MAX_LENGTH].strip()
    # Hangul fillers and the like are "letters" that draw nothing: a name must show one.
    return name if any(ch.isalnum() for ch in visible_chars(name)) else fallback


# Names only the house may wear: the auto-DJ and the operator token.
RESERVED_NAMES = ("bender", "api")
# Letters and digits that pass for Latin ones: Cyrillic/Greek look-alikes and leetspeak.
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ɡ": "g",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ı": "i",
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s",
    "!": "i", "|": "l", "l": "i",
})


def skeleton(name: str) -> str:
    """``name`` folded for look-alike comparison: compatibility forms, case, accents, spacing
    and punctuation gone, look-alike letters mapped to the Latin ones they imitate."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = folded.translate(_LOOKALIKES)
    return "".join(ch for ch in folded if ch.isalnum())


def is_reserved_name(name: str) -> bool:
    """True for "Bender", "B E N D E R", "Веnder" (Cyrillic), "B3nder!", "Bender DJ" and kin."""
    folded = skeleton(name)
    for reserved in RESERVED_NAMES:
        base = skeleton(reserved)
        if folded == base or (folded.startswith(base) and len(folded) - len(base) <= 3
                              and len(base) > 3):
            return True
    return False


def check_guest_name(name: str) -> str:
    """A guest's chosen (already cleaned) name, refused when blank-looking or the house's."""
    if not any(ch.isalnum() for ch in visible_chars(name)):
        raise InvalidRequest("Pick a name with a visible letter or digit.")
    if is_reserved_name(name):
        raise InvalidRequest("That name belongs to the house; pick another.")
    return name


def clean_avatar_url(raw: Any) -> str:
    """An https:// image URL without spaces or quotes, or "" (never anything a page could run)."""
    if (not isinstance(raw, str) or not raw.startswith("https://")
            or len(raw) > AVATAR_MAX_LENGTH
            or any(ch.isspace() or ch in "\"'<>\\" or ord(ch) < 32 for ch in raw)):
        return ""
    return raw


def fallback_name(user_id: str) -> str:
    """What to call someone who never signed in here since names were recorded."""
    if user_id in _FIXED:
        return _FIXED[user_id]
    if user_id.startswith("guest:"):
        return "Guest"
    local = user_id.split("@", 1)[0] if "@" in user_id else user_id
    return clean_display_name(local.replace(".", " ").replace("_", " "), "Someone")


def remember(client: redis.Redis, user_id: str, name: Any, avatar_url: Any = "") -> dict:
    """Record (or refresh) one person's display name; returns what was stored."""
    if not isinstance(user_id, str) or not user_id or user_id in _FIXED:
        return {}
    entry = {"name": clean_display_name(name, fallback_name(user_id)),
             "avatar_url": clean_avatar_url(avatar_url)}
    client.hset(keys.USER_NAMES, user_id,
                json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
    return entry


def _entry(user_id: str, raw: Any) -> dict:
    if user_id in _FIXED:
        return {"name": _FIXED[user_id], "avatar_url": ""}
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return {"name": fallback_name(user_id), "avatar_url": ""}
    # Re-clean on the way out too: the hash may hold entries from older code or other writers.
    return {"name": clean_display_name(value.get("name"), fallback_name(user_id)),
            "avatar_url": clean_avatar_url(value.get("avatar_url"))}


def lookup(client: redis.Redis, user_ids: Iterable[str]) -> dict[str, dict]:
    """{id: {name, avatar_url}} for every given id (unknown ids get a fallback), one HMGET."""
    return {u: _entry(u, raw) for u, raw in stored(client, user_ids).items()}


def stored(client: redis.Redis, user_ids: Iterable[str]) -> dict[str, Any]:
    """{id: the stored entry as is (None if none)} in id order, one HMGET: lets a caller that
    kept the entries it cleaned before reuse them while the stored text is unchanged."""
    ids = sorted({u for u in user_ids if isinstance(u, str) and u})
    wanted = [u for u in ids if u not in _FIXED]
    raws = client.hmget(keys.USER_NAMES, wanted) if wanted else []
    found = dict(zip(wanted, raws, strict=True))
    return {u: found.get(u) for u in ids}


def entry(user_id: str, raw: Any) -> dict:
    """The {name, avatar_url} a stored entry (``stored``) shows as."""
    return _entry(user_id, raw)


def ids_in(items: Iterable[dict | None]) -> set[str]:
    """Everyone an item mentions: its adder, its jammers and its commenters."""
    ids: set[str] = set()
    for item in items:
        if not item:
            continue
        mentioned = [item.get("user"), *(item.get("jam") or ())]
        mentioned += [c.get("user") for c in item.get("comments") or () if isinstance(c, dict)]
        ids.update(u for u in mentioned if isinstance(u, str) and u)
    return ids
