"""Nest names, codes and vanity codes: the themed name list and the rules user input must pass."""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

from echonest.errors import InvalidRequest, NotFound

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
MAIN_NEST_ID = "main"
MAIN_NEST_NAME = "Home Nest"
NAME_MAX_LENGTH = 40
MAX_ID_LENGTH = 64
MAX_MEMBER_ID_LENGTH = 320
VANITY_RE = re.compile(r"^[a-z][a-z0-9-]{2,23}$")
RESERVED_VANITY = frozenset(
    "admin api socket nest login logout signup static assets health status metrics terms "
    "privacy main events".split()
)
# Longest input we even look at: anything past this is hostile, not a typo.
_RAW_INPUT_LIMIT = 1000

# Themed names for nests built without one; the genre seeds Bender until someone picks a song.
THEMED_NAMES: dict[str, str] = {
    "FunkNest": "funk",
    "VibesNest": "chill",
    "JazzNest": "jazz",
    "SoulNest": "soul",
    "RockNest": "rock",
    "PopNest": "pop",
    "DiscoNest": "disco",
    "GrooveNest": "funk",
    "BluesNest": "blues",
    "IndieNest": "indie",
    "PunkNest": "punk",
    "MetalNest": "metal",
    "FolkNest": "folk",
    "CountryNest": "country",
    "ReggaeNest": "reggae",
    "HouseNest": "house",
    "TechnoNest": "techno",
    "SynthNest": "electronic",
    "ElectroNest": "electronic",
    "HipHopNest": "hip-hop",
    "RhythmNest": "r&b",
    "SalsaNest": "latin",
    "LatinNest": "latin",
    "ClassicNest": "classical",
    "TripHopNest": "trip-hop",
    "ChillNest": "chill",
    "GrungeNest": "grunge",
    "MotownNest": "soul",
    "SambaNest": "latin",
    "SwingNest": "jazz",
    "GospelNest": "soul",
    "DreamNest": "indie",
    "NeonNest": "electronic",
    "SunsetNest": "chill",
    "BeatNest": "hip-hop",
    "RetroNest": "disco",
    "PsychNest": "psychedelic",
    "FlamencoNest": "flamenco",
    "DancehallNest": "dancehall",
    "ReggaetonNest": "reggaeton",
    "PostRockNest": "post-rock",
}


def generate_code(length: int = 5) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def looks_like_code(text: str, length: int = 5) -> bool:
    return len(text) == length and all(ch in CODE_ALPHABET for ch in text)


def clean_name(raw: Any) -> str:
    """Trim, collapse whitespace, strip control characters; 1–40 chars with a letter or digit."""
    if not isinstance(raw, str):
        raise InvalidRequest("name must be a string")
    if len(raw) > _RAW_INPUT_LIMIT:
        raise InvalidRequest(f"name must be 1-{NAME_MAX_LENGTH} characters")
    # Control and format characters (zero-width joiners, bidi overrides) render invisibly or
    # reorder text, so a name could impersonate another.
    visible = "".join(
        " " if ch.isspace() else ch
        for ch in raw
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    name = " ".join(visible.split())
    if not name or not any(ch.isalnum() for ch in name):
        raise InvalidRequest("name must contain a letter or a digit")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidRequest(f"name must be 1-{NAME_MAX_LENGTH} characters")
    return name


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "nest"


def clean_vanity(raw: Any) -> str:
    """Lower-case and validate a vanity code (SPEC §3); invalid → InvalidRequest."""
    if not isinstance(raw, str) or len(raw) > _RAW_INPUT_LIMIT:
        raise InvalidRequest("vanity_code must be a string of 3-24 characters")
    vanity = raw.strip().lower()
    if not VANITY_RE.match(vanity):
        raise InvalidRequest(
            "vanity_code must be 3-24 characters of a-z, 0-9 and '-', starting with a letter")
    if vanity in RESERVED_VANITY:
        raise InvalidRequest(f"vanity_code '{vanity}' is reserved")
    return vanity


def pick_themed_name(used_names: set[str]) -> tuple[str, str]:
    """A random themed name no live nest uses; numbered once every theme is taken."""
    free = [name for name in THEMED_NAMES if name not in used_names]
    if free:
        name = secrets.choice(free)
        return name, THEMED_NAMES[name]
    base = secrets.choice(list(THEMED_NAMES))
    number = 2
    while f"{base} {number}" in used_names:
        number += 1
    return f"{base} {number}", THEMED_NAMES[base]


def check_member_id(email: Any) -> str:
    if not isinstance(email, str) or not email.strip() or len(email) > MAX_MEMBER_ID_LENGTH:
        raise InvalidRequest("a member id must be a non-empty string")
    return email.strip()


def check_nest_id(nest_id: Any) -> str:
    if not isinstance(nest_id, str) or not nest_id or len(nest_id) > MAX_ID_LENGTH:
        raise NotFound("no such nest")
    return nest_id


def check_seed_uri(seed_uri: Any) -> str:
    if (not isinstance(seed_uri, str) or not 3 <= len(seed_uri) <= 200
            or seed_uri.count(":") < 2 or any(ch.isspace() or ch in "<>\"'" for ch in seed_uri)):
        raise InvalidRequest("seed_uri must be a track URI like local:track:… or spotify:track:…")
    return seed_uri
