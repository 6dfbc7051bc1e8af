"""Writing the demo library to disk: safe paths, atomic files, the manifest, idempotence."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from echonest.demo_music.plan import PLAN, TrackPlan

GENERATOR_VERSION = "1"
MANIFEST = "manifest.json"
COVER = "cover.png"
log = logging.getLogger(__name__)

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def safe_name(text: str, fallback: str = "Untitled") -> str:
    """One path component from a title: no separators, controls, leading dots or `..`."""
    text = unicodedata.normalize("NFC", str(text))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = " ".join(_UNSAFE.sub(" ", text).split()).strip(" .")
    return text[:100].rstrip(" .") or fallback


def album_dir(plan: TrackPlan) -> Path:
    return Path(safe_name(plan.artist, "Unknown Artist")) / safe_name(plan.album, "Unknown Album")


def track_path(plan: TrackPlan) -> Path:
    """Relative path of a track inside the demo folder."""
    return album_dir(plan) / f"{plan.number:02d} {safe_name(plan.title)}.mp3"


def _inside(root: Path, relative: Path) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{relative} escapes {root}")
    return path


def _stamp(plan: tuple[TrackPlan, ...], max_seconds: float | None) -> dict:
    digest = hashlib.sha256(repr(plan).encode()).hexdigest()[:16]
    return {"generator": GENERATOR_VERSION, "plan": digest, "max_seconds": max_seconds}


def _read_manifest(out_dir: Path) -> dict | None:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _up_to_date(out_dir: Path, manifest: dict | None, stamp: dict) -> bool:
    if not manifest or manifest.get("stamp") != stamp:
        return False
    files = manifest.get("files")
    if not isinstance(files, dict):
        return False
    for relative, size in files.items():
        try:
            if _inside(out_dir, Path(relative)).stat().st_size != size:
                return False
        except (OSError, ValueError):
            return False
    return True


def _remove_previous(out_dir: Path, manifest: dict | None) -> None:
    """Delete what an older generator wrote, and only that (never the user's own files)."""
    files = (manifest or {}).get("files")
    if not isinstance(files, dict):
        return
    folders = set()
    for relative in files:
        try:
            path = _inside(out_dir, Path(relative))
        except ValueError:
            continue
        path.unlink(missing_ok=True)
        folders.update(p for p in path.parents if p.is_relative_to(out_dir.resolve()))
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if folder != out_dir.resolve():
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: something else lives there


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def build_track(plan: TrackPlan, out_dir: Path, tracks_on_album: int,
                max_seconds: float | None) -> tuple[str, int, str]:
    """Render, encode and tag one track; (relative path, size, PCM sha256). Runs in a worker."""
    from echonest.demo_music.compose import compose
    from echonest.demo_music.cover import cover_art
    from echonest.demo_music.encode import encode_mp3, tag_mp3
    from echonest.demo_music.mix import render

    notes, total = compose(plan, max_seconds)
    pcm = render(plan, notes, total, plan.seed)
    relative = track_path(plan)
    path = _inside(out_dir, relative)
    partial = path.with_name(f".{path.name}.partial")
    encode_mp3(pcm, partial)
    tag_mp3(partial, plan, tracks_on_album, cover_art(album_seed(plan)), GENERATOR_VERSION)
    os.replace(partial, path)
    return relative.as_posix(), path.stat().st_size, hashlib.sha256(pcm.tobytes()).hexdigest()


def album_seed(plan: TrackPlan) -> int:
    return int.from_bytes(hashlib.sha256(f"{plan.artist}|{plan.album}".encode()).digest()[:4],
                          "big")


def generate(out_dir: Path, *, force: bool = False, plan: tuple[TrackPlan, ...] | None = None,
             max_seconds: float | None = None, workers: int | None = None) -> list[Path]:
    """Make sure `out_dir` holds the demo library; returns the MP3 paths in plan order.

    `plan` and `max_seconds` exist so tests can build a few short tracks; installs use the
    defaults. Work is spread over up to four processes (render and LAME are CPU-bound).
    """
    out_dir = Path(out_dir)
    plan = PLAN if plan is None else tuple(plan)
    paths = [_inside(out_dir, track_path(p)) for p in plan]
    if len(set(paths)) != len(paths):
        raise ValueError("two planned tracks share a file name")
    stamp = _stamp(plan, max_seconds)
    manifest = _read_manifest(out_dir)
    if not force and _up_to_date(out_dir, manifest, stamp):
        log.info("demo music: up to date (%d tracks in %s)", len(paths), out_dir)
        return paths
    _remove_previous(out_dir, manifest)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    files: dict[str, int] = {}
    pcm_hashes: dict[str, str] = {}
    # numpy, PyAV and mutagen load only when there is work, so the up-to-date check that every
    # `make install` runs stays a few milliseconds.
    from echonest.demo_music.cover import cover_art

    for p in plan:
        folder = _inside(out_dir, album_dir(p))
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".*.partial"):  # from a run that was interrupted
            leftover.unlink(missing_ok=True)
        relative = (album_dir(p) / COVER).as_posix()
        if relative not in files:
            _write_atomic(folder / COVER, cover_art(album_seed(p)))
            files[relative] = (folder / COVER).stat().st_size
    per_album = Counter(album_dir(p) for p in plan)
    for p in plan:  # a subset still says "2/2", not "2/1"
        per_album[album_dir(p)] = max(per_album[album_dir(p)], p.number)
    jobs = [(p, out_dir, per_album[album_dir(p)], max_seconds) for p in plan]
    workers = workers or min(4, os.cpu_count() or 1, len(jobs))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(build_track, *zip(*jobs, strict=True)))
    else:
        results = [build_track(*job) for job in jobs]
    for relative, size, pcm_hash in results:
        files[relative] = size
        pcm_hashes[relative] = pcm_hash
    manifest = {"stamp": stamp, "files": files, "pcm_sha256": pcm_hashes}
    _write_atomic(out_dir / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
    log.info("demo music: generated %d tracks in %s", len(paths), out_dir)
    return paths
