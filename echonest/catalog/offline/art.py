"""Generated cover art: a small deterministic SVG per album, served as a data: URI."""

from __future__ import annotations

import hashlib
from urllib.parse import quote
from xml.sax.saxutils import escape

from echonest.catalog.offline.text import fold

_SKIP = {"the", "a", "an", "of", "and", "in", "on", "to", "la", "el", "los", "de"}
# Quotes, spaces and parentheses are escaped too so the URI also works inside CSS url(...).
_SAFE = "=/:;,.-_"
_TITLE_MAX = 26


def _initials(title: str) -> str:
    words = fold(title).split()
    if len(words) == 1 and words[0].isdigit():
        return words[0][:4]
    picked = [w for w in words if w not in _SKIP] or words
    return "".join(w[0] for w in picked[:2]).upper() or "♪"


def cover_art(album: str, artist: str = "") -> str:
    """A data:image/svg+xml URI for this album: gradient and shapes from a hash of its name."""
    digest = hashlib.sha256(f"{artist}\n{album}".encode()).digest()
    hue = digest[0] * 360 // 256
    hue2 = (hue + 40 + digest[1] % 80) % 360
    light = 30 + digest[2] % 20
    angle = digest[3] % 4
    x2, y2 = ((1, 1), (1, 0), (0, 1), (1, 0.5))[angle]
    cx, cy, rad = 60 + digest[4] % 180, 60 + digest[5] % 120, 50 + digest[6] % 90
    label = album if len(album) <= _TITLE_MAX else album[: _TITLE_MAX - 1].rstrip() + "…"
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 300 300' width='640' height='640'>"
        f"<defs><linearGradient id='g' x1='0' y1='0' x2='{x2}' y2='{y2}'>"
        f"<stop offset='0' stop-color='hsl({hue},65%,{light + 15}%)'/>"
        f"<stop offset='1' stop-color='hsl({hue2},70%,{light}%)'/></linearGradient></defs>"
        "<rect width='300' height='300' fill='url(#g)'/>"
        f"<circle cx='{cx}' cy='{cy}' r='{rad}' fill='#fff' fill-opacity='.12'/>"
        "<g fill='#fff' font-family='Helvetica,Arial,sans-serif' text-anchor='middle'>"
        f"<text x='150' y='180' font-size='92' font-weight='700'>{escape(_initials(album))}</text>"
        f"<text x='150' y='268' font-size='18' fill-opacity='.85'>{escape(label)}</text></g></svg>"
    )
    return "data:image/svg+xml;charset=utf-8," + quote(svg, safe=_SAFE)
