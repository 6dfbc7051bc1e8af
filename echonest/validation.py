"""The checks every piece of outside input passes: text and JSON bodies/frames.

``require_text``: a string, trimmed, bounded, and *visibly* non-empty — text made only of
zero-width, format or bidi characters looks blank (or reorders what others see), and bidi
overrides/isolates (U+202A–U+202E, U+2066–U+2069) let one person's words pose as another's.

``parse_json``: JSON text whose nesting is bounded *before* the parser sees it, so 40 KB of
``{"a":`` is a 400, never a RecursionError.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from echonest.errors import InvalidRequest

MAX_JSON_DEPTH = 32
# Embedding/override (LRE RLE PDF LRO RLO) and isolate (LRI RLI FSI PDI) controls.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that render as nothing (or as blank space) though Unicode does not call them
# whitespace: Hangul fillers, braille blank, the Khmer vowel inherents, the Mongolian separator.
BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\u180e")
_INVISIBLE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me", "Zs", "Zl", "Zp")

# A JSON string (its escapes included) or one bracket; strings are skipped whole so a bracket
# inside one does not count. Possessive/atomic so a hostile body cannot make it backtrack.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')


def visible_chars(value: str) -> str:
    """``value`` without the characters that draw nothing (format, zero-width, marks, blanks)."""
    return "".join(ch for ch in value if not ch.isspace() and ch not in BLANK_LOOKING
                   and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)


def require_text(value: Any, what: str, max_length: int) -> str:
    """``value`` stripped, or InvalidRequest naming ``what`` (e.g. "'text'", "search query")."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be text.")
    value = value.strip()
    if not value:
        raise InvalidRequest(f"{what} must not be empty.")
    if len(value) > max_length:
        raise InvalidRequest(f"{what} is too long (at most {max_length} characters).")
    if any(ch in BIDI_CONTROLS for ch in value):
        raise InvalidRequest(f"{what} must not contain text-direction override characters.")
    if not visible_chars(value):
        raise InvalidRequest(f"{what} must contain something visible.")
    return value


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays/objects nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(text):
        mark = match.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def parse_json(raw: str | bytes, what: str = "The request body",
               max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decoded JSON, or InvalidRequest for text that is not JSON or nests deeper than allowed."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"{what} is not UTF-8 text.") from None
    # Nesting cannot exceed the number of opening brackets: count them (C speed) and scan
    # tokens only when there are enough to matter — every normal action frame skips the scan.
    if raw.count("{") + raw.count("[") > max_depth and json_depth(raw) > max_depth:
        raise InvalidRequest(f"{what} nests deeper than {max_depth} levels.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest(f"{what} is not valid JSON.") from None
