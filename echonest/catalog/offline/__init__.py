"""Offline catalog provider: bundled real-world song metadata, local: URIs, generated art."""

from echonest.catalog.offline.provider import OfflineProvider

__all__ = ["OfflineProvider"]
