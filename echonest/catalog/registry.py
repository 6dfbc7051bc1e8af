"""Catalog: routes calls to providers by URI scheme and guards the rest of the app from them."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from echonest.catalog.base import Album, Provider
from echonest.catalog.track import Track
from echonest.errors import CatalogError, EchoNestError, InvalidRequest
from echonest.validation import require_text

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_URI_LENGTH = 512
MAX_LIMIT = 50            # search results per call
MAX_BENDER_LIMIT = 200    # Bender lookups may ask for a wide pool to pick from
DEFAULT_SEARCH_MAX = 200
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]{0,31}):\S+$")
_LINKISH = re.compile(r"^(?:https?://\S+|([a-z][a-z0-9+.-]{0,31}):\S*)$", re.IGNORECASE)
# Pasted links of these schemes are never meant as words, even when no provider is configured.
LINK_SCHEMES = ("spotify", "local", "library")


def _query_max(conf: Any) -> int:
    value = getattr(conf, "SEARCH_MAX_QUERY_LENGTH", None) if conf is not None else None
    if value is None:
        from config import CONF

        value = CONF.SEARCH_MAX_QUERY_LENGTH
    return int(value or DEFAULT_SEARCH_MAX)


def _check_limit(limit: Any, maximum: int = MAX_LIMIT) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidRequest(f"limit must be a whole number from 1 to {maximum}")
    return limit


class Catalog:
    """All configured providers behind one guarded surface.

    ``lookup``/``search`` raise ``InvalidRequest`` for bad input and ``CatalogError`` when a
    provider fails; a provider exception never escapes as anything else. Bender lookups answer
    ``[]`` for a uri no provider owns (a seed from a catalog that is no longer configured).
    """

    def __init__(self, providers: Iterable[Provider], default: Provider | None = None,
                 conf: Any = None, audible: Provider | None = None):
        self.providers: tuple[Provider, ...] = tuple(providers)
        if not self.providers:
            raise ValueError("a Catalog needs at least one provider")
        self._default: Provider = default or self.providers[0]
        if self._default not in self.providers:
            self.providers = (self._default, *self.providers)
        # The music library: while it has tracks it leads search and Bender (songs that can
        # be heard come first); empty, the catalog behaves as if it were not there.
        self.audible = audible
        if audible is not None and audible not in self.providers:
            self.providers = (audible, *self.providers)
        self._audible_failed_at = float("-inf")
        self._by_scheme: dict[str, Provider] = {}
        for provider in self.providers:
            for scheme in provider.uri_schemes:
                self._by_scheme.setdefault(scheme, provider)
        self._conf = conf

    # --- routing -------------------------------------------------------------------------
    @property
    def default(self) -> Provider:
        """The library while it has tracks, else the configured default (offline/spotify)."""
        return self.audible if self._audible_active() else self._default

    def _audible_active(self) -> bool:
        if self.audible is None or self.audible is self._default:
            return False
        try:
            return bool(self.audible.has_tracks())
        except Exception:
            if time.monotonic() - self._audible_failed_at > 60:  # once a minute, not per call
                self._audible_failed_at = time.monotonic()
                log.warning("music library unavailable; searching without it", exc_info=True)
            return False

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(self._by_scheme)

    def provider_for(self, uri: str) -> Provider | None:
        """The provider owning ``uri``'s scheme, or None."""
        if not isinstance(uri, str):
            return None
        match = _SCHEME.match(uri.strip())
        return self._by_scheme.get(match.group(1)) if match else None

    def _guard(self, provider: Provider, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except EchoNestError:
            raise
        except Exception as exc:  # any provider bug or outage must not take the caller down
            log.warning("catalog provider %s failed in %s", provider.name, what, exc_info=True)
            raise CatalogError(
                f"The {provider.name or 'music'} catalog is unavailable right now "
                f"({what} failed: {type(exc).__name__}); please try again shortly."
            ) from exc

    def _tracks(self, provider: Provider, what: str, call: Callable[[], Any],
                limit: int | None = None) -> list[Track]:
        result = self._guard(provider, what, call)
        if result is None:
            return []
        if not isinstance(result, (list, tuple)):
            raise CatalogError(f"The {provider.name} catalog gave a malformed answer to {what}.")
        tracks = [t for t in result if isinstance(t, Track)]
        return tracks[:limit] if limit is not None else tracks

    def claim_uri(self, text: Any) -> tuple[Provider, str] | None:
        """A pasted URI/URL → (owning provider, canonical uri), or None if nobody claims it."""
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_URI_LENGTH:
            return None
        text = text.strip()
        for provider in self.providers:
            uri = self._guard(provider, "normalize_uri", lambda p=provider: p.normalize_uri(text))
            if isinstance(uri, str) and uri:
                return provider, uri
        return None

    # --- the public surface ----------------------------------------------------------------
    def lookup(self, uri: Any) -> Track:
        """The track for a uri (or a pasted URL a provider recognises)."""
        text = require_text(uri, "track uri", MAX_URI_LENGTH)
        claimed = self.claim_uri(text)
        if claimed:
            provider, canonical = claimed
        else:
            match = _SCHEME.match(text)
            if not match:
                raise InvalidRequest("track uri is malformed (expected scheme:type:id)")
            provider = self._by_scheme.get(match.group(1))
            if provider is None:
                raise InvalidRequest(f"no catalog handles '{match.group(1)}:' uris here")
            canonical = text
        track = self._guard(provider, "lookup", lambda: provider.lookup(canonical))
        if not isinstance(track, Track):
            raise InvalidRequest("track not found")
        return track

    def search(self, q: Any, limit: int = 10) -> list[Track]:
        """Free-text search on the default provider; a pasted track uri/URL finds that track."""
        query = require_text(q, "search query", _query_max(self._conf))
        limit = _check_limit(limit)
        claimed = self.claim_uri(query)
        if not claimed and (scheme := _SCHEME.match(query)) and scheme.group(1) in self._by_scheme:
            claimed = self._by_scheme[scheme.group(1)], query
        if claimed:
            provider, canonical = claimed
            track = self._guard(provider, "lookup", lambda: provider.lookup(canonical))
            return [track] if isinstance(track, Track) else []
        link = _LINKISH.match(query)
        if link and (link.group(1) is None
                     or link.group(1).lower() in (*LINK_SCHEMES, *self._by_scheme)):
            raise InvalidRequest("That looks like a link, but not to a track this server can open.")
        provider = self.default
        if provider is not self.audible:
            return self._tracks(provider, "search", lambda: provider.search(query, limit), limit)
        return self._audible_first(query, limit)

    def _audible_first(self, query: str, limit: int) -> list[Track]:
        """Library hits first, then the other default's; one of them failing is not fatal."""
        found: list[Track] = []
        failure: CatalogError | None = None
        for provider in (self.audible, self._default):
            try:
                found += self._tracks(provider, "search",
                                      lambda p=provider: p.search(query, limit), limit)
            except CatalogError as exc:
                failure = failure or exc
            if len(found) >= limit:
                break
        if failure is not None and not found:
            raise failure
        unique = {t.uri: t for t in reversed(found)}
        return [t for t in found if unique.pop(t.uri, None) is not None][:limit]

    # --- Bender lookups --------------------------------------------------------------------
    def _owner(self, uri: Any) -> Provider | None:
        if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH:
            return None
        return self.provider_for(uri)

    def _seeded(self, seed_uri: str | None) -> Provider:
        if self._audible_active():
            return self.audible  # songs everyone can hear, whatever the seed's catalog
        return (self._owner(seed_uri) if seed_uri else None) or self.default

    def seeded_name(self, seed_uri: str | None) -> str:
        """The name of the provider Bender's genre/year lookups for this seed go to."""
        return self._seeded(seed_uri).name or "default"

    def audible_schemes(self) -> tuple[str, ...]:
        """The uri schemes of songs EchoNest itself can play, while the library has any."""
        return tuple(self.audible.uri_schemes) if self._audible_active() else ()

    def audible_tracks(self, limit: int = 50) -> list[Track]:
        """A spread of the music library (Bender's last resort); [] while it is empty."""
        if not self._audible_active():
            return []
        provider = self.audible
        limit = _check_limit(limit, MAX_BENDER_LIMIT)
        return self._tracks(provider, "any_tracks", lambda: provider.any_tracks(limit), limit)

    def _or_any_audible(self, provider: Provider, found: list[Track], limit: int) -> list[Track]:
        """A small library with nothing of this genre/era still beats silence."""
        if found or provider is not self.audible or not hasattr(provider, "any_tracks"):
            return found
        return self._tracks(provider, "any_tracks", lambda: provider.any_tracks(limit), limit)

    def artist_top_tracks(self, artist_uri: str) -> list[Track]:
        provider = self._owner(artist_uri)
        if provider is None:
            return []
        return self._tracks(provider, "artist_top_tracks",
                            lambda: provider.artist_top_tracks(artist_uri.strip()))

    def artist_albums(self, artist_uri: str) -> list[Album]:
        provider = self._owner(artist_uri)
        if provider is None:
            return []
        result = self._guard(provider, "artist_albums",
                             lambda: provider.artist_albums(artist_uri.strip()))
        if not isinstance(result, (list, tuple)):
            return []
        return [a for a in result if isinstance(a, Album)]

    def album_tracks(self, album_uri: str) -> list[Track]:
        provider = self._owner(album_uri)
        if provider is None:
            return []
        return self._tracks(provider, "album_tracks",
                            lambda: provider.album_tracks(album_uri.strip()))

    def search_artist(self, name: str, *, seed_uri: str | None = None) -> list[Track]:
        """Tracks by artists matching ``name`` from the seed's provider (else the default)."""
        if not isinstance(name, str) or not name.strip():
            return []
        provider = self._seeded(seed_uri)
        query = name.strip()[:DEFAULT_SEARCH_MAX]
        return self._tracks(provider, "search_artist", lambda: provider.search_artist(query))

    def genre_tracks(self, genre: str, limit: int = 50, *,
                     seed_uri: str | None = None) -> list[Track]:
        if not isinstance(genre, str) or not genre.strip():
            return []
        limit = _check_limit(limit, MAX_BENDER_LIMIT)
        provider = self._seeded(seed_uri)
        query = genre.strip()[:DEFAULT_SEARCH_MAX]
        found = self._tracks(provider, "genre_tracks",
                             lambda: provider.genre_tracks(query, limit), limit)
        return self._or_any_audible(provider, found, limit)

    def year_tracks(self, year_from: int, year_to: int, limit: int = 50, *,
                    seed_uri: str | None = None) -> list[Track]:
        for year in (year_from, year_to):
            if isinstance(year, bool) or not isinstance(year, int):
                raise InvalidRequest("years must be whole numbers")
        limit = _check_limit(limit)
        if year_from > year_to:
            year_from, year_to = year_to, year_from
        provider = self._seeded(seed_uri)
        found = self._tracks(provider, "year_tracks",
                             lambda: provider.year_tracks(year_from, year_to, limit), limit)
        return self._or_any_audible(provider, found, limit)
