"""Play history per nest and globally: recording finished songs, throwbacks, last picks, reload.

Each history is a zset scored by play time (epoch seconds) whose members are canonical JSON
entries, so re-recording or re-loading the same play is a no-op. Both are trimmed to
``PLAY_HISTORY_MAX`` entries. The per-nest zset lives under ``NEST:{id}|`` and is written
through ``echonest.atomic`` (silently: nobody's screen changes when history grows); the global
one lives under ``NESTS|`` and is written with a plain MULTI/EXEC.

Persistence: when ``PLAY_HISTORY_PERSIST`` is on, every play is also appended to
``DATA_DIR/history.jsonl``; ``load_history`` reads that file back into Redis at start-up (the
``init_history_to_redis`` step — call it once per worker start, it is idempotent).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from config import CONF
from echonest import atomic, keys
from echonest.errors import NestGone

log = logging.getLogger(__name__)

HISTORY_FILE = "history.jsonl"
THROWBACK_WEEKS = 52          # how many past same-weekdays a throwback looks at
PICK_SCAN = 200               # entries scanned backwards for the last human/Bender pick
MAX_TEXT = 200                # title/artist/user are clipped: history is not the catalog
MAX_URI = 512
MAX_LINE = 4096               # longer lines in history.jsonl are garbage, not history
LOAD_CHUNK = 500              # entries per guarded write when reloading a nest's history
LOAD_WINDOW = 20              # reload reads at most PLAY_HISTORY_MAX x this many newest lines


def _utc(now: datetime) -> datetime:
    """Naive datetimes are read as UTC (the player and tests pass either)."""
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _clip(value: Any) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _entry(nest_id: str, finished: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    uri = finished.get("uri") if isinstance(finished, dict) else None
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI:
        return None
    return {
        "nest": nest_id,
        "uri": uri,
        "user": _clip(finished.get("user")),
        "auto": finished.get("auto") in (True, 1, "1", "true", "True"),
        "title": _clip(finished.get("title")),
        "artist": _clip(finished.get("artist")),
        "played_at": _played_at(finished, now).isoformat(),
    }


def _played_at(finished: dict[str, Any], now: datetime) -> datetime:
    """When the song started (what "played on a Monday" means), else ``now``."""
    for name in ("started", "starttime", "played_at"):
        value = finished.get(name)
        if isinstance(value, str) and len(value) <= 64:
            try:
                return _utc(datetime.fromisoformat(value))
            except ValueError:
                continue
    return _utc(now)


def _member(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _score(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["played_at"]).timestamp()


def history_path(conf: Any = None) -> Path | None:
    """Where plays are persisted, or None when persistence is off."""
    conf = conf or CONF
    if not conf.PLAY_HISTORY_PERSIST:
        return None
    return Path(conf.DATA_DIR or "data") / HISTORY_FILE


def _trim(key: str, limit: int) -> list[Any]:
    return ["ZREMRANGEBYRANK", key, 0, -(limit + 1)]


def _write_global(client: redis.Redis, entries: list[dict[str, Any]], limit: int) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.zadd(keys.GLOBAL_PLAY_HISTORY, {_member(e): _score(e) for e in entries})
    pipe.zremrangebyrank(keys.GLOBAL_PLAY_HISTORY, 0, -(limit + 1))
    pipe.execute()


def _write_nest(client: redis.Redis, nest_id: str, entries: list[dict[str, Any]],
                limit: int) -> None:
    key = keys.nest_key(nest_id, keys.PLAY_HISTORY)
    for start in range(0, len(entries), LOAD_CHUNK):
        chunk = entries[start:start + LOAD_CHUNK]
        zadd = ["ZADD", key]
        for entry in chunk:
            zadd += [_score(entry), _member(entry)]
        atomic.apply(client, nest_id, [zadd, _trim(key, limit)])


def record_play(client: redis.Redis, nest_id: str, finished: dict[str, Any], now: datetime,
                *, path: Path | None = None) -> dict[str, Any] | None:
    """Record one finished song in the nest's and the global history; returns the entry.

    ``finished`` is the queue item that just ended (``uri``, ``user``, ``auto``, ``title``,
    ``artist``…). A malformed item is ignored (logged), never raised: the player carries on.
    """
    entry = _entry(nest_id, finished, now)
    if entry is None:
        log.warning("not recording a play without a valid uri in nest %s", nest_id)
        return None
    limit = int(CONF.PLAY_HISTORY_MAX or 5000)
    _write_global(client, [entry], limit)
    try:
        _write_nest(client, nest_id, [entry], limit)
    except NestGone:
        # Deleted while the song played: it still counts globally, the nest's keys stay gone.
        log.info("nest %s is gone; play kept in global history only", nest_id)
    target = path or history_path()
    if target is not None:
        _append(target, entry)
    return entry


def _append(path: Path, entry: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(_member(entry) + "\n")
    except OSError:
        log.warning("could not append play history to %s", path, exc_info=True)


def _parse_line(line: str) -> dict[str, Any] | None:
    if not line.strip() or len(line) > MAX_LINE:
        return None
    try:
        raw = json.loads(line)
        nest_id = raw.get("nest") if isinstance(raw, dict) else None
        if not isinstance(nest_id, str) or not nest_id or len(nest_id) > 64:
            return None
        # The line's own played_at wins (see _played_at); it must parse.
        entry = _entry(nest_id, raw, datetime.fromisoformat(raw["played_at"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return entry


def load_history(client: redis.Redis, path: Path | None = None) -> int:
    """Load persisted plays (JSON lines) into Redis; returns how many entries were read.

    Idempotent (entries are canonical zset members). Unreadable lines are skipped. Plays of
    nests that no longer exist go to the global history only.
    """
    path = path or history_path()
    if path is None or not Path(path).exists():
        return 0
    limit = int(CONF.PLAY_HISTORY_MAX or 5000)
    # Memory stays bounded however long the file grew; a quiet nest's older plays still fit.
    entries: deque[dict[str, Any]] = deque(maxlen=limit * LOAD_WINDOW)
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            entry = _parse_line(line)
            if entry is not None:
                entries.append(entry)
    if not entries:
        return 0
    _write_global(client, list(entries)[-limit:], limit)
    by_nest: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_nest.setdefault(entry["nest"], []).append(entry)
    for nest_id, nest_entries in by_nest.items():
        try:
            _write_nest(client, nest_id, nest_entries, limit)
        except NestGone:
            continue
    return len(entries)


def _decode(members: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for member in members:
        try:
            entry = json.loads(member)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("uri"), str):
            out.append(entry)
    return out


def recent_plays(client: redis.Redis, nest_id: str, count: int = 50) -> list[dict[str, Any]]:
    """The nest's last ``count`` plays, newest first."""
    key = keys.nest_key(nest_id, keys.PLAY_HISTORY)
    return _decode(client.zrevrange(key, 0, max(count, 1) - 1))


def played_since(client: redis.Redis, nest_id: str, since: datetime) -> set[str]:
    """Uris this nest played at or after ``since``."""
    key = keys.nest_key(nest_id, keys.PLAY_HISTORY)
    members = client.zrangebyscore(key, _utc(since).timestamp(), "+inf")
    return {entry["uri"] for entry in _decode(members)}


def _last_pick(client: redis.Redis, nest_id: str, auto: bool) -> dict[str, Any] | None:
    for entry in recent_plays(client, nest_id, PICK_SCAN):
        if bool(entry.get("auto")) is auto:
            return entry
    return None


def last_human_pick(client: redis.Redis, nest_id: str) -> dict[str, Any] | None:
    """The most recently played song a person queued in this nest, or None."""
    return _last_pick(client, nest_id, auto=False)


def last_bender_pick(client: redis.Redis, nest_id: str) -> dict[str, Any] | None:
    """The most recently played song Bender queued in this nest, or None."""
    return _last_pick(client, nest_id, auto=True)


def _same_weekday_windows(now: datetime) -> list[tuple[float, float]]:
    day_start = _utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    windows = []
    for weeks in range(1, THROWBACK_WEEKS + 1):
        start = day_start - timedelta(weeks=weeks)
        windows.append((start.timestamp(), (start + timedelta(days=1)).timestamp()))
    return windows


def _weekday_plays(client: redis.Redis, key: str, now: datetime) -> list[dict[str, Any]]:
    pipe = client.pipeline(transaction=False)
    for start, end in _same_weekday_windows(now):
        pipe.zrevrangebyscore(key, f"({end}", start)
    plays: list[dict[str, Any]] = []
    for members in pipe.execute():
        plays.extend(_decode(members))
    return plays


def throwback_candidates(client: redis.Redis, nest_id: str, now: datetime,
                         limit: int = 50) -> list[str]:
    """Uris played on this weekday (UTC) in past weeks: the nest's plays, then global ones.

    Within each, newest week first and songs people picked before songs Bender picked.
    """
    seen: set[str] = set()
    found: list[str] = []
    for key in (keys.nest_key(nest_id, keys.PLAY_HISTORY), keys.GLOBAL_PLAY_HISTORY):
        human: list[str] = []
        auto: list[str] = []
        for entry in _weekday_plays(client, key, now):
            uri = entry["uri"]
            if uri not in seen:
                seen.add(uri)
                (auto if entry.get("auto") else human).append(uri)
        found += human + auto
        if len(found) >= limit:
            break
    return found[:max(limit, 0)]
