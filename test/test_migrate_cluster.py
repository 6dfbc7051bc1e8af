"""migrate_cluster.py: a single-server deployment copied into a real cluster and back — names
renamed, TTLs kept, nests usable there, a second run copies nothing, a dry run changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

import migrate_cluster
import nests
from config import CONF
from db import DB
from echonest import keys
from echonest.catalog.track import Track
from echonest.store import connect

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def both(single_engine_url, local_cluster):
    single = redis.Redis.from_url(single_engine_url, decode_responses=True)
    cluster = connect(local_cluster.url, cluster=True)
    single.flushdb()
    cluster.flushdb()
    keys.use_cluster_layout(False)
    try:
        yield single, cluster
    finally:
        keys.use_cluster_layout(None)
        single.flushdb()
        cluster.flushdb()
        single.close()
        cluster.close()


def _seed(single):
    mgr = nests.NestManager(single, conf=CONF.copy(NEST_MAX_ACTIVE=50))
    mgr.ensure_main()
    code = mgr.create_nest("host@x.io", name="Old Nest")["code"]
    mgr.update_nest(code, "host@x.io", vanity_code="oldparty")
    db = DB(code, init_history_to_redis=False, redis_client=single)
    db.add_song(Track(uri="local:track:a", title="A", artists=("B",), duration=100.0), "u@x.io")
    single.hset(keys.api_token("d1g3st"), mapping={"owner": "owner@x.io"})
    single.set("LIBRARY|version", "v1")
    single.set("NESTS|deleting:ZZZZZ", "123", ex=600)
    return code


def _snapshot(client):
    names = sorted(migrate_cluster._scan(client))
    return {name: (client.type(name), client.pttl(name) > 0) for name in names}


def test_to_cluster_and_back_keeps_everything_and_runs_twice_safely(both):
    single, cluster = both
    code = _seed(single)
    before = _snapshot(single)
    filter_key = keys.nest_key(code, keys.bender_filter("local:track:a"))
    filter_ttl = single.ttl(filter_key)
    assert filter_ttl > 0

    dry = migrate_cluster.migrate(single, cluster, dry_run=True)
    assert dry["copied"] == len(before)
    assert list(migrate_cluster._scan(cluster)) == []

    report = migrate_cluster.migrate(single, cluster)
    assert report["copied"] == len(before) and report["skipped_existing"] == 0
    again = migrate_cluster.migrate(single, cluster)
    assert again["copied"] == 0 and again["skipped_existing"] == len(before)

    keys.use_cluster_layout(True)
    mgr = nests.NestManager(cluster)
    assert mgr.resolve_code("OLDPARTY") == code and mgr.get_nest(code)["name"] == "Old Nest"
    assert 0 < cluster.ttl(keys.nest_key(code, keys.bender_filter("local:track:a"))) <= filter_ttl
    assert cluster.ttl(keys.nest_deleting("ZZZZZ")) > 0
    assert cluster.get(keys.LIBRARY_VERSION) == "v1"
    assert keys.api_token("d1g3st").startswith("{tokens}")
    assert cluster.hget(keys.api_token("d1g3st"), "owner") == "owner@x.io"
    db = DB(code, init_history_to_redis=False, redis_client=cluster)
    assert [item["uri"] for item in db.queue_items()] == ["local:track:a"]
    db.set_volume(33)  # the guard finds the nest alive in its own slot
    mgr.touch_nest(code)

    single.flushdb()
    back = migrate_cluster.migrate(cluster, single, to_cluster=False)
    assert back["dropped"] >= 2  # alive hash and vanity key stay behind
    keys.use_cluster_layout(False)
    after = _snapshot(single)
    assert set(after) == set(before) | {keys.nest_key(code, keys.VOLUME)}
    assert all(after[name] == before[name] for name in before)
    meta = nests.NestManager(single).get_nest(code)
    assert meta["vanity_code"] == "oldparty" and meta["last_activity"] != meta["created_at"]
    assert DB(code, init_history_to_redis=False, redis_client=single).get_volume() == 33


def test_command_line_dry_run(both, single_engine_url, local_cluster):
    single, cluster = both
    _seed(single)
    out = subprocess.run(
        [sys.executable, "migrate_cluster.py", "--from", single_engine_url,
         "--to", local_cluster.url, "--dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert '"dry_run": true' in out.stdout
    assert list(migrate_cluster._scan(cluster)) == []
