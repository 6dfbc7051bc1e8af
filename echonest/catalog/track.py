"""Track: the one value every provider maps vendor JSON into, and the only thing DB.add takes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Track:
    uri: str                      # "spotify:track:…", "spotify:episode:…", "local:track:…"
    title: str
    artists: tuple[str, ...]
    album: str = ""
    duration: float = 0.0         # seconds
    year: int | None = None
    genres: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # cover art URLs, largest first
    src: str = ""                 # provider name: "spotify", "offline"
    artist_uris: tuple[str, ...] = field(default=(), compare=False)
    album_uri: str = field(default="", compare=False)

    @property
    def artist(self) -> str:
        return ", ".join(self.artists)

    @property
    def big_img(self) -> str:
        return self.images[0] if self.images else ""

    @property
    def img(self) -> str:
        return self.images[-1] if self.images else ""

    @property
    def scheme(self) -> str:
        return self.uri.split(":", 1)[0]
