"""Which file (or cover image) to send for a track id, checked against the configured roots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from echonest.catalog.library.index import shared_index
from echonest.catalog.library.roots import configured_roots, inside, is_track_id, mime_type
from echonest.catalog.library.tags import Unplayable, embedded_art
from echonest.errors import NotFound

_IMAGE_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
                (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


@dataclass(frozen=True)
class AudioFile:
    path: Path
    mimetype: str
    record: dict


def image_type(data: bytes) -> str | None:
    """The image type from the bytes themselves: a tag's own mime field is not trusted."""
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _record(client: Any, track_id: Any) -> dict:
    if not is_track_id(track_id):
        raise NotFound("No such track in the music library.")
    index = shared_index(client)
    record = index.record(track_id) or index.refresh(force=True).records.get(track_id)
    if record is None:
        raise NotFound("No such track in the music library.")
    return record


def _contained(conf: Any, record: dict, rel: str) -> Path:
    root = Path(str(record.get("root") or ""))
    real = inside(root, rel, configured_roots(conf).all)
    if real is None:
        raise NotFound("No such track in the music library.")
    return real


def audio_file(client: Any, conf: Any, track_id: Any) -> AudioFile:
    """The file to stream for ``track_id``; NotFound for unknown ids and anything out of bounds."""
    record = _record(client, track_id)
    path = _contained(conf, record, str(record.get("path") or ""))
    return AudioFile(path=path, mimetype=mime_type(path), record=record)


def cover_file(client: Any, conf: Any, track_id: Any) -> tuple[Path, str] | tuple[bytes, str]:
    """The track's cover: (folder image path, mime) or (embedded image bytes, mime)."""
    audio = audio_file(client, conf, track_id)
    art = str(audio.record.get("art") or "")
    if art.startswith("file:"):
        path = _contained(conf, audio.record, art[len("file:"):])
        with path.open("rb") as fh:
            kind = image_type(fh.read(16))
        if kind:
            return path, kind
    elif art == "embedded":
        try:
            found = embedded_art(audio.path)
        except Unplayable:
            found = None
        kind = image_type(found[0]) if found else None
        if found and kind:
            return found[0], kind
    raise NotFound("This track has no cover art.")
