"""Move pre-nest (unprefixed) keys into the main nest: ``MISC|now-playing`` → ``NEST:main|…``.

Safe to run twice and safe against a partial earlier run: each key moves in one Lua step
(DUMP, RESTORE with its remaining TTL, DEL), never over an existing destination, and keys
that are global (``MISC|spotify-rate-limited``, ``NESTS|*``) or already prefixed are left alone.

    python migrate_keys.py [--dry-run] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

import redis

from echonest import keys

log = logging.getLogger("migrate_keys")

MAIN = "main"
SCAN_COUNT = 1000

# KEYS[1] legacy key, KEYS[2] destination. 1 = moved, 0 = destination exists, -1 = source gone.
_MOVE_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return -1 end
if ttl < 0 then ttl = 0 end
redis.call('RESTORE', KEYS[2], ttl, redis.call('DUMP', KEYS[1]))
redis.call('DEL', KEYS[1])
return 1
"""


def classify(key: str) -> str:
    """'legacy' (to migrate), 'prefixed' (already NEST:…), or 'global' (never touched)."""
    if key.startswith(keys.NEST_PREFIX):
        return "prefixed"
    if key in keys.GLOBAL_KEYS or key.startswith(keys.GLOBAL_PREFIXES):
        return "global"
    if key in keys.LEGACY_EXACT or key.startswith(keys.LEGACY_PREFIXES):
        return "legacy"
    return "global"


def destination(key: str) -> str:
    return keys.nest_key(MAIN, key)


def migrate(redis_client: redis.Redis | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Move every legacy key into ``NEST:main|``; returns counts of what happened (or would)."""
    client = redis_client or _default_client()
    report = {"migrated": 0, "skipped_existing": 0, "skipped_prefixed": 0, "skipped_global": 0,
              "total": 0, "dry_run": bool(dry_run)}
    move = client.register_script(_MOVE_LUA)
    # One SCAN over the keyspace (not one per family: SCAN MATCH still walks every key), read
    # in full first so keys we create are not seen again and SCAN's repeats count once.
    for key in dict.fromkeys(client.scan_iter(count=SCAN_COUNT)):
        kind = classify(key)
        report["total"] += 1
        if kind != "legacy":
            report["skipped_" + kind] += 1
            continue
        target = destination(key)
        if dry_run:
            outcome = 0 if client.exists(target) else 1
        else:
            outcome = move(keys=[key, target])
        if outcome == 1:
            report["migrated"] += 1
        elif outcome == 0:
            report["skipped_existing"] += 1
            log.warning("not migrating %s: %s already exists (left both untouched)", key, target)
    if report["migrated"] and not dry_run:
        # Moved item keys were written without recording them (echonest/queue_revs.py): the
        # fan-out must read main's queue in full until the next write starts a new record.
        client.delete(keys.nest_key(MAIN, keys.QUEUE_REVS))
    level = logging.INFO if not report["skipped_existing"] else logging.WARNING
    log.log(level, "migration %s: %s", "dry run" if dry_run else "done", report)
    return report


def _default_client() -> redis.Redis:
    from echonest.store import default_client

    return default_client()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
    parser.add_argument("--redis-url", help="Redis to migrate (default: CONF.REDIS_URL)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if options.redis_url:
        from echonest.store import connect

        client = connect(options.redis_url)
    else:
        from echonest.store import NoRedisConfigured

        try:
            client = _default_client()
        except NoRedisConfigured as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(json.dumps(migrate(client, dry_run=options.dry_run), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
