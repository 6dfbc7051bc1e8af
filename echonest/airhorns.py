"""The airhorn sounds the server knows. Audio files live at /static/audio/{name}.wav."""

from __future__ import annotations

AIRHORN_NAMES = (
    "classic",
    "foghorn",
    "triple",
    "laser",
    "siren",
    "tada",
    "rimshot",
    "sad-trombone",
    "bwamp",
    "kazoo",
)
