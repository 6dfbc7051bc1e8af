"""OfflineProvider: the bundled catalog of real songs' metadata under the local: scheme."""

from __future__ import annotations

import re
from pathlib import Path

from echonest.catalog.offline import loader
from echonest.catalog.tables import TableProvider

_LOCAL_TRACK = re.compile(r"^local:track:([a-z0-9]+(?:-[a-z0-9]+)*)$")


class OfflineProvider(TableProvider):
    """Search, lookup and every Bender lookup over the bundled data; no network, ever."""

    name = "offline"
    uri_schemes = ("local",)

    def __init__(self, path: Path | None = None):
        self._path = path or loader.DATA_FILE

    @property
    def data(self) -> loader.OfflineData:
        return loader.load(self._path)  # parsed on first use, shared per process

    def normalize_uri(self, text: str) -> str | None:
        match = _LOCAL_TRACK.match(text.strip().lower())
        return f"local:track:{match.group(1)}" if match else None
