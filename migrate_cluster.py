"""Copy a deployment's keys between the single-server layout and a Valkey/Redis Cluster.

    python migrate_cluster.py --from redis://old:6379/0 --to redis://node1:7000 [--dry-run]
    python migrate_cluster.py --back --from redis://node1:7000 --to redis://old:6379/0

To the cluster, every key is renamed to the cluster layout (``NEST:X7K2P|…`` →
``NEST:{X7K2P}|…``, the tagged global families, the deleting markers; echonest.keys decides
each name) and each registered nest gets its alive hash (and vanity key) in its own slot. Back,
the names are undone, the cluster-only copies dropped and the registry takes each nest's
current metadata from its alive hash.

Each key is copied by DUMP/RESTORE with its remaining TTL, never over an existing destination,
so a second run (or a run after a partial one) copies only what is missing. The source is left
as it was: stop the old deployment first, copy, point REDIS_URL/REDIS_CLUSTER at the new one; the
old one stays a way back until you drop it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import redis

from echonest import keys

log = logging.getLogger("migrate_cluster")

BATCH = 500


def _scan(client: Any) -> Iterator[str]:
    """Every key of a server, or of every primary of a cluster (a one-off tool may scan)."""
    if hasattr(client, "get_primaries"):
        for node in client.get_primaries():
            yield from client.get_redis_connection(node).scan_iter(count=1000)
    else:
        yield from client.scan_iter(count=1000)


def _binary(client: Any) -> Any:
    """The same server(s) without string decoding: DUMP payloads are bytes."""
    kwargs = {"decode_responses": False}
    if hasattr(client, "get_primaries"):
        from redis.cluster import RedisCluster

        node = client.get_primaries()[0]
        return RedisCluster(host=node.host, port=node.port, **kwargs)
    conn = client.connection_pool.connection_kwargs
    return redis.Redis(host=conn.get("host", "127.0.0.1"), port=conn.get("port", 6379),
                       db=conn.get("db", 0), password=conn.get("password"), **kwargs)


def migrate(source: Any, target: Any, *, to_cluster: bool = True,
            dry_run: bool = False) -> dict[str, Any]:
    """Copy every key from ``source`` to ``target`` in the other layout; returns counts."""
    rename = keys.to_cluster_name if to_cluster else keys.to_single_name
    report = {"copied": 0, "skipped_existing": 0, "dropped": 0, "gone": 0, "derived": 0,
              "total": 0, "dry_run": bool(dry_run),
              "direction": "to-cluster" if to_cluster else "to-single"}
    names = list(dict.fromkeys(_scan(source)))
    src, dst = _binary(source), _binary(target)
    try:
        for start in range(0, len(names), BATCH):
            _copy_batch(src, dst, names[start:start + BATCH], rename, report, dry_run)
    finally:
        src.close()
        dst.close()
    _derive(source, target, names, to_cluster, report, dry_run)
    log.info("%s: %s", "dry run" if dry_run else "done", report)
    return report


def _copy_batch(src: Any, dst: Any, batch: list[str], rename, report: dict,
                dry_run: bool) -> None:
    plan = []
    for name in batch:
        report["total"] += 1
        new = rename(name)
        if new is None:
            report["dropped"] += 1
        else:
            plan.append((name, new))
    if not plan:
        return
    pipe = src.pipeline(transaction=False)
    for name, _ in plan:
        pipe.pttl(name)
        pipe.dump(name)
    read = pipe.execute()
    there = dst.pipeline(transaction=False)
    for _, new in plan:
        there.exists(new)
    exists = there.execute()
    write = dst.pipeline(transaction=False)
    writes = 0
    for (_, new), ttl, payload, present in zip(plan, read[::2], read[1::2], exists,
                                               strict=True):
        if ttl == -2 or payload is None:
            report["gone"] += 1
        elif present:
            report["skipped_existing"] += 1
        else:
            report["copied"] += 1
            if not dry_run:
                write.restore(new, max(int(ttl), 0), payload)
                writes += 1
    if writes:
        for reply in write.execute(raise_on_error=False):
            if isinstance(reply, Exception) and "BUSYKEY" not in str(reply):
                raise reply


def _derive(source: Any, target: Any, names: list[str], to_cluster: bool, report: dict,
            dry_run: bool) -> None:
    """To the cluster: each registered nest's alive hash and vanity key. Back: the registry
    entry from each alive hash (the nest's current metadata)."""
    if to_cluster:
        registry = source.hgetall(keys.NESTS_REGISTRY)
        pipe = target.pipeline(transaction=False)
        for nest_id, raw in registry.items():
            alive = keys.nest_prefix(nest_id, tagged=True) + keys.NEST_ALIVE
            pipe.hsetnx(alive, nest_id, raw)
            try:
                vanity = json.loads(raw).get("vanity_code")
            except (ValueError, AttributeError):
                vanity = None
            if isinstance(vanity, str) and vanity:
                pipe.set(keys.nest_prefix(nest_id, tagged=True) + keys.NEST_VANITY, vanity,
                         nx=True)
        if not dry_run and registry:
            report["derived"] = sum(1 for made in pipe.execute() if made)
        return
    alive_tail = "}|" + keys.NEST_ALIVE
    updates = {}
    for name in names:
        if name.startswith(keys.NEST_PREFIX + "{") and name.endswith(alive_tail):
            nest_id = name[len(keys.NEST_PREFIX) + 1:-len(alive_tail)]
            raw = source.hget(name, nest_id)
            if raw is not None:
                updates[nest_id] = raw
    report["derived"] = len(updates)
    if updates and not dry_run:
        target.hset(keys.NESTS_REGISTRY, mapping=updates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="where the keys are")
    parser.add_argument("--to", dest="target", required=True, help="where they go")
    parser.add_argument("--back", action="store_true",
                        help="from a cluster to a single server (default: the other way)")
    parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from echonest.store import connect

    source = connect(options.source, cluster=options.back)
    target = connect(options.target, cluster=not options.back)
    report = migrate(source, target, to_cluster=not options.back, dry_run=options.dry_run)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
