"""Tags of one audio file (mutagen), with fallbacks from its path, and its embedded cover art.

Only formats a browser plays are accepted: MP3, AAC (ADTS or MP4 "mp4a"), Ogg Vorbis/Opus/FLAC,
FLAC and PCM WAV. Anything else (ALAC, Speex, a text file called .mp3) is ``Unplayable``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import mutagen
from mutagen.aac import AAC
from mutagen.flac import FLAC, Picture
from mutagen.id3 import ID3
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4Tags
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

FORMATS = [MP3, MP4, AAC, OggVorbis, OggOpus, OggFLAC, FLAC, WAVE]
UNKNOWN_ARTIST = "Unknown Artist"
MAX_TEXT = 300

_ID3 = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "albumartist": "TPE2",
        "genre": "TCON", "date": "TDRC", "track": "TRCK"}
_MP4 = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "albumartist": "aART",
        "genre": "\xa9gen", "date": "\xa9day", "track": "trkn"}
_VORBIS = {"title": "title", "artist": "artist", "album": "album", "albumartist": "albumartist",
           "genre": "genre", "date": "date", "track": "tracknumber"}
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")
_LEADING_NUMBER = re.compile(r"^(\d{1,3})\s*[-._]\s*(.+)$|^(0\d)\s+(.+)$")


class Unplayable(Exception):
    """Not audio, corrupt, unreadable, or a codec browsers cannot play."""


@dataclass(frozen=True)
class TagInfo:
    title: str
    artists: tuple[str, ...]
    album: str = ""
    album_artist: str = ""
    genres: tuple[str, ...] = ()
    year: int | None = None
    track_no: int | None = None
    duration: float = 0.0
    embedded_art: bool = False


def _clean(text: Any) -> str:
    return " ".join(str(text).replace("\0", " ").split())[:MAX_TEXT]


def _values(tags: Any, key: str) -> list[str]:
    if tags is None:
        return []
    try:
        value = tags.get(key)
    except (KeyError, ValueError, TypeError):
        return []
    if value is None:
        return []
    if hasattr(value, "genres"):      # ID3 TCON: "(17)" → "Rock"
        value = value.genres
    elif hasattr(value, "text"):      # other ID3 text frames
        value = value.text
    if not isinstance(value, (list, tuple)):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, tuple):   # MP4 trkn: (number, total)
            item = item[0] if item else ""
        text = _clean(item)
        if text:
            out.append(text)
    return out


def _names_for(tags: Any) -> dict[str, str]:
    if isinstance(tags, ID3):
        return _ID3
    if isinstance(tags, MP4Tags):
        return _MP4
    return _VORBIS


def _number(texts: list[str]) -> int | None:
    match = re.match(r"\s*(\d{1,4})", texts[0]) if texts else None
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def _year(texts: list[str]) -> int | None:
    for text in texts:
        match = _YEAR.search(text)
        if match:
            return int(match.group(1))
    return None


def _check_playable(audio: Any) -> None:
    if isinstance(audio, MP4):
        codec = str(getattr(audio.info, "codec", "") or "")
        if not codec.startswith("mp4a"):
            raise Unplayable(f"MP4 audio codec {codec or 'unknown'!r} is not playable in browsers")
    if isinstance(audio, WAVE):
        # mutagen does not expose the format tag; 8-32 bit PCM is what browsers decode
        if getattr(audio.info, "bits_per_sample", 16) not in (8, 16, 24, 32):
            raise Unplayable("WAV encoding is not playable in browsers")


def open_audio(path: Path) -> Any:
    """The mutagen object for ``path``; raises Unplayable for anything we will not serve."""
    try:
        audio = mutagen.File(path, options=FORMATS)
    except Exception as exc:  # mutagen raises many types for corrupt input
        raise Unplayable(f"{type(exc).__name__}: {exc}") from exc
    if audio is None:
        raise Unplayable("not a recognised audio file")
    _check_playable(audio)
    length = float(getattr(audio.info, "length", 0) or 0)
    if not length > 0:
        raise Unplayable("no audio stream (zero length)")
    return audio


def _has_art(audio: Any) -> bool:
    tags = audio.tags
    if isinstance(audio, FLAC) and audio.pictures:
        return True
    if isinstance(tags, ID3):
        return bool(tags.getall("APIC"))
    if isinstance(tags, MP4Tags):
        return bool(tags.get("covr"))
    return bool(_values(tags, "metadata_block_picture"))


def path_guess(rel: PurePosixPath | str) -> dict[str, Any]:
    """Title/artist/album/track number from "Artist/Album/01 - Artist - Title.mp3"."""
    rel = PurePosixPath(rel)
    stem = _clean(rel.stem.replace("_", " "))
    guess: dict[str, Any] = {"title": stem, "artist": "", "album": "", "track": None}
    match = _LEADING_NUMBER.match(stem)
    if match:
        number, rest = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
        guess["track"], stem = int(number) or None, rest.strip()
        guess["title"] = stem
    if " - " in stem:
        artist, title = (part.strip() for part in stem.split(" - ", 1))
        if artist and title:
            guess["artist"], guess["title"] = artist, title
    folders = [_clean(p.replace("_", " ")) for p in rel.parent.parts]
    if len(folders) >= 2:
        guess["album"] = folders[-1]
        guess["artist"] = guess["artist"] or folders[-2]
    elif len(folders) == 1:
        album = folders[0]
        if " - " in album:
            artist, album = (part.strip() for part in album.split(" - ", 1))
            guess["artist"] = guess["artist"] or artist
        guess["album"] = album
    return guess


def read_tags(path: Path, rel: PurePosixPath | str) -> TagInfo:
    """Everything the index stores about one file; raises Unplayable."""
    audio = open_audio(path)
    tags = audio.tags
    names = _names_for(tags)
    guess = path_guess(rel)
    artists = tuple(dict.fromkeys(_values(tags, names["artist"])))
    album_artist = next(iter(_values(tags, names["albumartist"])), "")
    if not artists:
        artists = (album_artist or guess["artist"] or UNKNOWN_ARTIST,)
    genres = tuple(dict.fromkeys(
        g.strip() for raw in _values(tags, names["genre"]) for g in re.split(r"[;/]", raw)
        if g.strip()))
    return TagInfo(
        title=next(iter(_values(tags, names["title"])), "") or guess["title"] or "Untitled",
        artists=artists,
        album=next(iter(_values(tags, names["album"])), "") or guess["album"],
        album_artist=album_artist,
        genres=genres,
        year=_year(_values(tags, names["date"])) or _year(_values(tags, "TYER")),
        track_no=_number(_values(tags, names["track"])) or guess["track"],
        duration=round(float(audio.info.length), 3),
        embedded_art=_has_art(audio),
    )


def embedded_art(path: Path) -> tuple[bytes, str] | None:
    """(image bytes, mime type) of the file's front cover, or None."""
    audio = open_audio(path)
    tags = audio.tags
    if isinstance(audio, FLAC) and audio.pictures:
        pic = sorted(audio.pictures, key=lambda p: p.type != 3)[0]
        return pic.data, pic.mime or "image/jpeg"
    if isinstance(tags, ID3):
        frames = sorted(tags.getall("APIC"), key=lambda f: f.type != 3)
        return (frames[0].data, frames[0].mime or "image/jpeg") if frames else None
    if isinstance(tags, MP4Tags):
        covers = tags.get("covr") or []
        if covers:
            cover = covers[0]
            png = getattr(cover, "imageformat", None) == MP4Cover.FORMAT_PNG
            return bytes(cover), "image/png" if png else "image/jpeg"
        return None
    for raw in (tags or {}).get("metadata_block_picture") or []:
        try:
            pic = Picture(base64.b64decode(raw))
        except Exception:  # noqa: S112 - a garbled picture block is just no picture
            continue
        return pic.data, pic.mime or "image/jpeg"
    return None
