"""Provider: the small contract every catalog backend implements (SPEC §8)."""

from __future__ import annotations

from dataclasses import dataclass

from echonest.catalog.track import Track


@dataclass(frozen=True)
class Album:
    uri: str                      # "spotify:album:…", "local:album:…"
    title: str
    artists: tuple[str, ...] = ()
    year: int | None = None
    images: tuple[str, ...] = ()  # cover art URLs, largest first


class Provider:
    """One catalog backend owning one or more URI schemes.

    Subclasses MUST override ``search`` and ``lookup``; every other method MAY be overridden
    and defaults to a safe empty answer, so Bender simply finds nothing with that strategy.
    Providers map vendor data to ``Track``/``Album`` here and nowhere else. They may raise
    ``errors.CatalogError`` (or anything else): the ``Catalog`` registry guards every call.
    """

    name: str = ""                      # "offline", "spotify"
    uri_schemes: tuple[str, ...] = ()   # ("local",) / ("spotify",)

    def search(self, query: str, limit: int = 10) -> list[Track]:
        """MUST: tracks matching free text, best first, at most ``limit``."""
        raise NotImplementedError

    def lookup(self, uri: str) -> Track | None:
        """MUST: the track with this canonical uri, or None when it does not exist."""
        raise NotImplementedError

    def artist_top_tracks(self, artist_uri: str) -> list[Track]:
        """MAY: the artist's best-known tracks."""
        return []

    def artist_albums(self, artist_uri: str) -> list[Album]:
        """MAY: the artist's albums."""
        return []

    def album_tracks(self, album_uri: str) -> list[Track]:
        """MAY: the album's tracks in order."""
        return []

    def search_artist(self, name: str) -> list[Track]:
        """MAY: tracks by artists whose name matches ``name``."""
        return []

    def genre_tracks(self, genre: str, limit: int = 50) -> list[Track]:
        """MAY: tracks of a genre (e.g. "funk", "hip-hop")."""
        return []

    def year_tracks(self, year_from: int, year_to: int, limit: int = 50) -> list[Track]:
        """MAY: tracks released in ``year_from..year_to`` inclusive (throwbacks)."""
        return []

    def normalize_uri(self, text: str) -> str | None:
        """MAY: a pasted URL/URI of this provider → canonical uri, None if not ours."""
        return None
