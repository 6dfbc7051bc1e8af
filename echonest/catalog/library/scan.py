"""The incremental scanner: walks the roots, reads new or changed files, updates the shared index.

One scanner at a time across all processes (``LIBRARY|scan-lock``: SET NX PX, owner token,
compare-and-delete). A file whose size and mtime match its record is not read again; a file
that cannot be played is logged once and remembered by size+mtime in ``LIBRARY|unreadable``.
The player worker rescans every LIBRARY_RESCAN_SECONDS; a web process starts a scan of its own
when the index is stale and nobody holds the lock (a deploy without a player worker).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from echonest import keys
from echonest.catalog.library import index as library_index
from echonest.catalog.library.greenlets import cooperate
from echonest.catalog.library.roots import (
    EXTENSIONS,
    IMAGE_TYPES,
    Roots,
    configured_roots,
    mime_type,
    track_id,
)
from echonest.catalog.library.tags import TagInfo, Unplayable, read_tags

log = logging.getLogger(__name__)

LOCK_MS = 60_000
EXTEND_SECONDS = 10.0
BATCH = 500
BUMP_SECONDS = 10.0         # how often a long scan makes its progress visible
YIELD_EVERY = 64            # directory entries between cooperative yields (gevent web process)
ART_NAMES = ("cover", "folder", "front", "album", "albumart")

# KEYS: lock, tracks, version, scanned-at, unreadable.
# ARGV: token, lock ms, new version ('' = do not bump yet), scanned-at ('' = not finished),
#       n_set, n_del, n_bad, n_ok, changed ('1': tracks changed since the last bump),
#       then n_set (id, json) pairs, n_del ids, n_bad (id, sig) pairs, n_ok ids.
_WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
local n_set, n_del, n_bad, n_ok = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]),
  tonumber(ARGV[8])
local i = 10
for _ = 1, n_set do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]); i = i + 2 end
for _ = 1, n_del do redis.call('HDEL', KEYS[2], ARGV[i]); i = i + 1 end
for _ = 1, n_bad do redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1]); i = i + 2 end
for _ = 1, n_ok do redis.call('HDEL', KEYS[5], ARGV[i]); i = i + 1 end
if ARGV[3] ~= '' and (ARGV[9] == '1' or redis.call('EXISTS', KEYS[3]) == 0) then
  redis.call('SET', KEYS[3], ARGV[3])
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[4], ARGV[4]) end
return 1
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


_missing_logged: set[Path] = set()


class LostLock(Exception):
    """Another scanner took over (our lock expired): stop without writing more."""


@dataclass(frozen=True)
class FoundFile:
    root: Path
    rel: PurePosixPath
    size: int
    mtime_ns: int
    folder_art: str          # path of the folder's cover image inside the root, or ""

    @property
    def id(self) -> str:
        return track_id(self.root, self.rel)

    @property
    def signature(self) -> str:
        return f"{self.size}:{self.mtime_ns}"


@dataclass
class ScanReport:
    files: int = 0          # audio-looking files found
    read: int = 0           # files whose tags were read this time
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unreadable: int = 0     # skipped (new ones logged, known ones silently)
    tracks: int = 0         # playable tracks in the index afterwards
    seconds: float = 0.0


def _folder_art(dir_path: Path, names: list[str], rel_dir: PurePosixPath) -> str:
    best: tuple[int, str] | None = None
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext.lower() in IMAGE_TYPES and stem.lower() in ART_NAMES:
            rank = ART_NAMES.index(stem.lower())
            if best is None or (rank, name) < best:
                best = (rank, name)
    return (rel_dir / best[1]).as_posix() if best else ""


def walk(root: Path, seen: set[tuple[int, int]] | None = None) -> Iterator[FoundFile]:
    """Every audio-named file under ``root``; symlinks followed only while they stay inside it.

    Hidden entries (".git", "._song.mp3" resource forks) are skipped. A directory or file reached
    twice (a symlink loop, a link or hard link to a song, two links to one folder, or roots that
    overlap when ``seen`` is shared across them) is walked or yielded once: the same song must not
    show up twice in search under two ids.
    """
    seen_dirs: set[tuple[int, int]] = set() if seen is None else seen
    stack: list[tuple[Path, PurePosixPath]] = [(root, PurePosixPath())]
    count = 0
    while stack:
        dir_path, rel_dir = stack.pop()
        try:
            info = dir_path.stat()
            if (info.st_dev, info.st_ino) in seen_dirs:
                continue
            seen_dirs.add((info.st_dev, info.st_ino))
            with os.scandir(dir_path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            log.warning("library: cannot read folder %s (%s)", dir_path, exc.strerror or exc)
            continue
        art = _folder_art(dir_path, [e.name for e in entries], rel_dir)
        subdirs = []
        for entry in entries:
            count += 1
            if count % YIELD_EVERY == 0:
                cooperate()
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    target = path.resolve(strict=True)
                    if not target.is_relative_to(root):
                        continue  # a link out of the music folder is never followed
                if entry.is_dir():
                    subdirs.append((path, rel_dir / entry.name))
                elif entry.is_file() and path.suffix.lower() in EXTENSIONS:
                    st = entry.stat()
                    if (st.st_dev, st.st_ino) in seen_dirs:
                        continue
                    seen_dirs.add((st.st_dev, st.st_ino))
                    yield FoundFile(root, rel_dir / entry.name, st.st_size, st.st_mtime_ns, art)
            except (OSError, RuntimeError):
                continue  # broken link, a loop, or the file vanished mid-walk
        stack.extend(reversed(subdirs))


def make_record(found: FoundFile, info: TagInfo) -> dict[str, Any]:
    art = "embedded" if info.embedded_art else (f"file:{found.folder_art}"
                                                if found.folder_art else "")
    return {"id": found.id, "root": str(found.root), "path": found.rel.as_posix(),
            "size": found.size, "mtime_ns": found.mtime_ns, "mime": mime_type(found.rel),
            "title": info.title, "artists": list(info.artists), "album": info.album,
            "album_artist": info.album_artist, "genres": list(info.genres), "year": info.year,
            "track": info.track_no, "duration": info.duration, "art": art}


class Scanner:
    """One scan pass at a time; ``reader`` is injectable so tests can count the files read."""

    def __init__(self, client: Any, conf: Any, *,
                 reader: Callable[[Path, PurePosixPath], TagInfo] = read_tags,
                 lock_ms: int = LOCK_MS):
        self.client = client
        self.conf = conf
        self.reader = reader
        self.lock_ms = lock_ms
        self._write = client.register_script(_WRITE)
        self._token = ""
        self._extended = 0.0
        self._bumped = time.monotonic()
        self._changed = False

    # --- lock -----------------------------------------------------------------------------
    def _acquire(self) -> bool:
        self._token = secrets.token_hex(16)
        self._extended = time.monotonic()
        return bool(self.client.set(keys.LIBRARY_SCAN_LOCK, self._token, nx=True,
                                    px=self.lock_ms))

    def _keep_lock(self) -> None:
        if time.monotonic() - self._extended < EXTEND_SECONDS:
            return
        self._extended = time.monotonic()
        if not self.client.eval(_EXTEND, 1, keys.LIBRARY_SCAN_LOCK, self._token, self.lock_ms):
            raise LostLock()

    def _release(self) -> None:
        self.client.eval(_RELEASE, 1, keys.LIBRARY_SCAN_LOCK, self._token)

    def _flush(self, sets: dict[str, dict], dels: list[str], bad: dict[str, str],
               ok: list[str], finished_at: float | None) -> None:
        # Every new version makes each web process re-parse the index; during a long first
        # scan publish progress every BUMP_SECONDS, not every batch.
        self._changed = self._changed or bool(sets or dels)
        bump = finished_at is not None or time.monotonic() - self._bumped >= BUMP_SECONDS
        args: list[Any] = [self._token, self.lock_ms, secrets.token_hex(8) if bump else "",
                           repr(finished_at) if finished_at is not None else "",
                           len(sets), len(dels), len(bad), len(ok),
                           "1" if self._changed else "0"]
        for track_id_, record in sets.items():
            args += [track_id_, json.dumps(record, ensure_ascii=False)]
        args += dels
        for key, sig in bad.items():
            args += [key, sig]
        args += ok
        keys_ = [keys.LIBRARY_SCAN_LOCK, keys.LIBRARY_TRACKS, keys.LIBRARY_VERSION,
                 keys.LIBRARY_SCANNED_AT, keys.LIBRARY_UNREADABLE]
        if self._write(keys=keys_, args=args) == -1:
            raise LostLock()
        if bump:
            self._bumped, self._changed = time.monotonic(), False
        self._extended = time.monotonic()
        sets.clear()
        bad.clear()

    # --- the pass -------------------------------------------------------------------------
    def scan(self, now: float | None = None) -> ScanReport | None:
        """One full pass; None when another scanner holds the lock (or took it from us)."""
        if not self._acquire():
            return None
        try:
            return self._scan(configured_roots(self.conf), now)
        except LostLock:
            log.warning("library: scan lock lost; another scanner carries on")
            return None
        finally:
            self._release()

    def _scan(self, roots: Roots, now: float | None) -> ScanReport:
        started = time.monotonic()
        report = ScanReport()
        old = library_index.parse_records(self.client.hgetall(keys.LIBRARY_TRACKS))
        known_bad = self.client.hgetall(keys.LIBRARY_UNREADABLE)
        kept: set[str] = set()
        seen_bad: set[str] = set()
        sets: dict[str, dict] = {}
        bad: dict[str, str] = {}
        seen: set[tuple[int, int]] = set()  # folders and files met so far, across every root

        def scan_root(root: Path) -> None:
            if not root.is_dir():
                if root not in _missing_logged:  # once per process, not per rescan
                    _missing_logged.add(root)
                    log.info("library: %s is not a folder (yet); nothing to scan there", root)
                return
            for found in walk(root, seen):
                report.files += 1
                self._keep_lock()
                self._visit(found, old, known_bad, kept, seen_bad, sets, bad, report)
                if len(sets) + len(bad) >= BATCH:
                    self._flush(sets, [], bad, [], None)

        for root in roots.music:
            scan_root(root)
        music_tracks = len(kept)
        if roots.demo and roots.demo not in roots.music and (
                roots.demo_mode == "true" or (roots.demo_mode == "auto" and not music_tracks)):
            scan_root(roots.demo)
        gone = [i for i in old if i not in kept]
        cured = [k for k in known_bad if k not in seen_bad]
        report.removed = len(gone)
        report.tracks = len(kept)
        self._flush(sets, gone, bad, cured, time.time() if now is None else now)
        report.seconds = time.monotonic() - started
        library_index.shared_index(self.client).refresh(force=True)
        if report.added or report.updated or report.removed:
            log.info("library: %d tracks (%d added, %d updated, %d removed) in %.1fs",
                     report.tracks, report.added, report.updated, report.removed,
                     report.seconds)
        return report

    def _visit(self, found: FoundFile, old: dict[str, dict], known_bad: dict[str, str],
               kept: set[str], seen_bad: set[str], sets: dict[str, dict], bad: dict[str, str],
               report: ScanReport) -> None:
        fid = found.id
        record = old.get(fid)
        if record and record.get("size") == found.size and \
                record.get("mtime_ns") == found.mtime_ns:
            report.unchanged += 1
            kept.add(fid)
            art = record.get("art") or ""
            folder = f"file:{found.folder_art}" if found.folder_art else ""
            if art != "embedded" and art != folder:  # a cover image was added or removed
                sets[fid] = {**record, "art": folder}
                report.updated += 1
            return
        if known_bad.get(fid) == found.signature:
            seen_bad.add(fid)
            report.unreadable += 1
            return
        report.read += 1
        try:
            info = self.reader(found.root / found.rel, found.rel)
        except Unplayable as exc:
            self._bad(found, str(exc), seen_bad, bad, report)
            return
        except Exception as exc:  # a reader bug on one odd file must not stop the scan
            self._bad(found, f"{type(exc).__name__}: {exc}", seen_bad, bad, report)
            return
        finally:
            cooperate()
        kept.add(fid)
        sets[fid] = make_record(found, info)
        if record:
            report.updated += 1
        else:
            report.added += 1

    def _bad(self, found: FoundFile, why: str, seen_bad: set[str], bad: dict[str, str],
             report: ScanReport) -> None:
        log.warning("library: skipping %s: %s", found.root / found.rel, why[:200])
        seen_bad.add(found.id)
        bad[found.id] = found.signature
        report.unreadable += 1


# --- running it ---------------------------------------------------------------------------
def stale_after(conf: Any) -> float:
    return 2 * float(conf.get("LIBRARY_RESCAN_SECONDS") or 60) + 5


def scan_loop(client: Any, conf: Any, stop: threading.Event) -> None:
    """The player worker's background rescans: one pass every LIBRARY_RESCAN_SECONDS."""
    scanner = Scanner(client, conf)
    interval = max(float(conf.get("LIBRARY_RESCAN_SECONDS") or 60), 1.0)
    while not stop.is_set():
        try:
            scanner.scan()
        except Exception:
            log.exception("library scan failed")
        stop.wait(interval)


def start_scan_loop(client: Any, conf: Any, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=scan_loop, args=(client, conf, stop),
                              name="library-scanner", daemon=True)
    thread.start()
    return thread


_running: set[int] = set()
_running_lock = threading.Lock()


def scan_in_background_if_stale(client: Any, conf: Any,
                                index: library_index.LibraryIndex) -> bool:
    """Start one background scan when the index is stale and nobody is scanning it."""
    fresh = index.scanned_at is not None and time.time() - index.scanned_at < stale_after(conf)
    if fresh or index.scan_locked:
        return False
    with _running_lock:
        if id(client) in _running:
            return False
        _running.add(id(client))

    def once() -> None:
        try:
            Scanner(client, conf).scan()
        except Exception:
            log.exception("library scan failed")
        finally:
            with _running_lock:
                _running.discard(id(client))

    threading.Thread(target=once, name="library-scan", daemon=True).start()
    return True
