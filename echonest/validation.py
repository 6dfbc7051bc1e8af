"""The one check every piece of outside text passes: a string, trimmed, non-empty, bounded."""

from __future__ import annotations

from typing import Any

from echonest.errors import InvalidRequest


def require_text(value: Any, what: str, max_length: int) -> str:
    """``value`` stripped, or InvalidRequest naming ``what`` (e.g. "'text'", "search query")."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be text.")
    value = value.strip()
    if not value:
        raise InvalidRequest(f"{what} must not be empty.")
    if len(value) > max_length:
        raise InvalidRequest(f"{what} is too long (at most {max_length} characters).")
    return value
