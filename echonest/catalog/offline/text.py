"""Text folding for the offline catalog: case-, accent- and punctuation-insensitive forms."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into ASCII (Sigur Rós, Motörhead-style names, Nordic titles).
_SPECIAL = str.maketrans({
    "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o",
    "ß": "ss", "œ": "oe", "Œ": "oe", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ı": "i",
})
# Joined rather than split so "Don't" ~ "dont" and "P.Y.T." ~ "pyt".
_JOINERS = re.compile(r"['’‘`´.]")
_NON_WORD = re.compile(r"[^a-z0-9]+")

GENRE_ALIASES = {
    "rap": "hiphop", "hip": "hiphop", "randb": "rnb", "rb": "rnb", "rhythmandblues": "rnb",
    "edm": "electronic", "electronica": "electronic", "dance": "electronic",
    "house": "electronic", "techno": "electronic", "chill": "triphop",
    "alternative": "indie", "alt": "indie", "indierock": "indie", "postpunk": "punk",
    "punkrock": "punk", "heavymetal": "metal", "hardrock": "rock", "classicrock": "rock",
    "rocknroll": "rock", "acoustic": "folk", "oldies": "soul", "motown": "soul",
    "party": "disco", "latino": "latin", "salsa": "latin", "orchestral": "classical",
}


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces: "Beyoncé & Jay-Z" → "beyonce and jay z"."""
    text = unicodedata.normalize("NFKD", str(text).translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_SPECIAL)
    text = text.casefold().replace("&", " and ")
    text = _JOINERS.sub("", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def slugify(text: str) -> str:
    """Stable URI slug: "A Night at the Opera" → "a-night-at-the-opera"."""
    return fold(text).replace(" ", "-")


def genre_key(genre: str) -> str:
    """Comparable genre name: "Hip Hop", "hip-hop", "HipHop" → "hiphop"; "R&B", "rnb" → "rnb"."""
    key = fold(str(genre).replace("&", "n")).replace(" ", "")
    return GENRE_ALIASES.get(key, key)
