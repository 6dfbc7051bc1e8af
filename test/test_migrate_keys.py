"""Legacy key migration on the real engine: every family moves, TTLs survive, nothing clobbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import migrate_keys

ROOT = Path(__file__).resolve().parent.parent

LEGACY = {
    "MISC|now-playing": "string",
    "MISC|priority-queue": "zset",
    "QUEUE|17": "hash",
    "QUEUE|VOTE|17": "set",
    "FILTER|spotify:track:abc": "string",
    "BENDER|genre|funk": "list",
    "QUEUEJAM|17": "set",
    "COMMENTS|17": "list",
    "FILL-INFO|spotify:track:abc": "hash",
    "AIRHORNS": "list",
    "FREEHORN_ana@example.com": "string",
}
GLOBAL = {"MISC|spotify-rate-limited": "1", "NESTS|code:ABCDE": "ABCDE", "unrelated": "x"}


def _seed(r):
    for key, kind in LEGACY.items():
        if kind == "string":
            r.set(key, f"v:{key}")
        elif kind == "zset":
            r.zadd(key, {"17": 1.0, "18": 2.0})
        elif kind == "hash":
            r.hset(key, mapping={"id": "17", "title": "Song"})
        elif kind == "set":
            r.sadd(key, "ana", "bo")
        else:
            r.rpush(key, "a", "b")
    for key, value in GLOBAL.items():
        r.set(key, value)
    r.expire("FILTER|spotify:track:abc", 3600)
    r.pexpire("FREEHORN_ana@example.com", 90_000)


def _snapshot(r):
    return {key: (r.type(key), r.dump(key)) for key in r.keys("*")}


def test_every_legacy_family_moves_into_main_with_its_type_and_value(r):
    _seed(r)
    report = migrate_keys.migrate(r)
    assert report["migrated"] == len(LEGACY) and report["skipped_existing"] == 0
    for key, kind in LEGACY.items():
        assert not r.exists(key)
        assert r.type(f"NEST:main|{key}") == kind
    assert r.hgetall("NEST:main|QUEUE|17") == {"id": "17", "title": "Song"}
    assert r.zrange("NEST:main|MISC|priority-queue", 0, -1) == ["17", "18"]
    assert r.get("NEST:main|MISC|now-playing") == "v:MISC|now-playing"


def test_global_keys_are_never_touched(r):
    _seed(r)
    migrate_keys.migrate(r)
    for key, value in GLOBAL.items():
        assert r.get(key) == value
    assert not r.exists("NEST:main|MISC|spotify-rate-limited")


def test_ttls_are_kept_and_persistent_keys_stay_persistent(r):
    _seed(r)
    migrate_keys.migrate(r)
    assert 3500 < r.ttl("NEST:main|FILTER|spotify:track:abc") <= 3600
    assert 80_000 < r.pttl("NEST:main|FREEHORN_ana@example.com") <= 90_000
    assert r.ttl("NEST:main|AIRHORNS") == -1


def test_dry_run_changes_nothing_but_reports_what_would_move(r):
    _seed(r)
    r.set("NEST:main|MISC|now-playing", "newer")
    before = _snapshot(r)
    report = migrate_keys.migrate(r, dry_run=True)
    assert report["dry_run"] is True
    assert report["migrated"] == len(LEGACY) - 1 and report["skipped_existing"] == 1
    assert _snapshot(r) == before


def test_existing_destination_is_left_alone_and_the_source_kept(r, caplog):
    _seed(r)
    r.set("NEST:main|MISC|now-playing", "newer")
    report = migrate_keys.migrate(r)
    assert report["skipped_existing"] == 1
    assert r.get("NEST:main|MISC|now-playing") == "newer"
    assert r.get("MISC|now-playing") == "v:MISC|now-playing"
    assert any("MISC|now-playing" in rec.getMessage() for rec in caplog.records
               if rec.levelname == "WARNING")


def test_second_run_is_a_no_op(r):
    _seed(r)
    first = migrate_keys.migrate(r)
    after_first = _snapshot(r)
    second = migrate_keys.migrate(r)
    assert first["migrated"] == len(LEGACY)
    assert second["migrated"] == 0 and second["skipped_existing"] == 0
    assert second["skipped_prefixed"] == len(LEGACY)
    assert _snapshot(r) == after_first


@pytest.mark.parametrize("dry", [True, False])
def test_cli_reports_json(r, redis_url, dry):
    _seed(r)
    args = [sys.executable, "migrate_keys.py", "--redis-url", redis_url] + (["--dry-run"] * dry)
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert f'"migrated": {len(LEGACY)}' in out.stdout
    assert r.exists("MISC|now-playing") == (1 if dry else 0)
