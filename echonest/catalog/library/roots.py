"""Where the library lives: configured roots, stable track ids, and the containment check.

A track id is the first 16 hex digits of sha256(resolved root + NUL + path inside the root, as
POSIX). It survives rescans and restarts, and moving a file or the whole folder gives it a new
id (docs/decisions.md: "Library track ids").
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

TRACK_ID = re.compile(r"^[0-9a-f]{16}$")
EXTENSIONS = frozenset({".mp3", ".m4a", ".aac", ".mp4", ".ogg", ".oga", ".opus", ".flac",
                        ".wav"})
MIME_TYPES = {
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac",
    ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac",
    ".wav": "audio/wav",
}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
               ".webp": "image/webp", ".gif": "image/gif"}
DEMO_MODES = ("auto", "true", "false")


@dataclass(frozen=True)
class Roots:
    """The folders a scan walks: the operator's music, and the demo folder (when it may be used)."""

    music: tuple[Path, ...]
    demo: Path | None          # None when DEMO_MUSIC is false
    demo_mode: str             # "auto" (only when music has no track), "true", "false"

    @property
    def all(self) -> tuple[Path, ...]:
        return self.music + ((self.demo,) if self.demo and self.demo not in self.music else ())


def _project_root() -> Path:
    from config import ROOT

    return ROOT


def _absolute(text: str) -> Path:
    path = Path(os.path.expanduser(text.strip()))
    if not path.is_absolute():
        path = _project_root() / path
    return path.resolve()


def _paths(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v).strip()]
    return [part for part in str(value).split(os.pathsep) if part.strip()]


def demo_mode(conf: Any) -> str:
    raw = conf.get("DEMO_MUSIC", "auto") if hasattr(conf, "get") else "auto"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = str(raw if raw is not None else "auto").strip().lower()
    if text in ("1", "yes", "on"):
        return "true"
    if text in ("0", "no", "off", ""):
        return "false"
    return text if text in DEMO_MODES else "auto"


def configured_roots(conf: Any) -> Roots:
    """MUSIC_DIR (a path, several joined by os.pathsep, or a yaml list) and DEMO_MUSIC_DIR."""
    music = tuple(dict.fromkeys(_absolute(p) for p in _paths(conf.get("MUSIC_DIR"))))
    mode = demo_mode(conf)
    demo_dir = str(conf.get("DEMO_MUSIC_DIR") or "").strip()
    demo = _absolute(demo_dir) if demo_dir and mode != "false" else None
    return Roots(music=music, demo=demo, demo_mode=mode if demo else "false")


def track_id(root: Path, rel: PurePosixPath | str) -> str:
    digest = hashlib.sha256(f"{root}\0{PurePosixPath(rel).as_posix()}".encode())
    return digest.hexdigest()[:16]


def is_track_id(value: Any) -> bool:
    return isinstance(value, str) and bool(TRACK_ID.match(value))


def inside(root: Path, rel: str, allowed_roots: tuple[Path, ...]) -> Path | None:
    """The real file for ``rel`` under ``root``, or None when it would leave the root.

    Checked at serve time as well as at scan time: the index is data in Redis, and a symlink
    may have been repointed since the scan.
    """
    if root not in allowed_roots or not isinstance(rel, str) or not rel or "\0" in rel:
        return None
    relative = PurePosixPath(rel)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    try:
        real = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or not real.is_file():
        return None
    return real


def mime_type(path: str | Path) -> str:
    return MIME_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
