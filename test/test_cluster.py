"""Cluster mode on a real Valkey Cluster: one slot per nest, no cross-slot step, sharded
fan-out, and a primary killed mid-party (``make test-cluster``; conftest runs this module in
the cluster parametrization only)."""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
import time

import pytest
from redis.crc import key_slot
from servers import Guest, WSClient, eventually, offline_track_uris, player_worker, web_server

import nests
from config import CONF
from db import DB
from echonest import atomic, keys
from echonest.catalog.track import Track
from echonest.nest_registry import DELETE_START_CLUSTER
from echonest.nest_registry import utc_now as registry_now

pytestmark = pytest.mark.cluster  # every test here needs the cluster (make test-cluster)


def _mgr(r):
    return nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=1000))


def _track(name, duration=200.0):
    return Track(uri=f"local:track:{name}", title=f"Song {name}", artists=("Band",),
                 duration=duration)


def _keys_in_slot(r, slot):
    return r.cluster_get_keys_in_slot(slot, max(1, int(r.cluster_countkeysinslot(slot))))


def _same_slot_codes(count=2):
    """Codes whose nests hash to one slot (as 100,000 nests on 16,384 slots often do)."""
    by_slot: dict[int, list[str]] = {}
    alphabet = nests.CODE_ALPHABET
    for a in alphabet:
        for b in alphabet:
            for c in alphabet:
                code = f"Q{a}{b}{c}Z"
                found = by_slot.setdefault(key_slot(code.encode()), [])
                found.append(code)
                if len(found) == count:
                    return found
    raise AssertionError("no slot collision found")


def test_every_key_and_the_channel_of_a_nest_share_its_slot(r, mgr):
    code = mgr.create_nest("host@x.io")["code"]
    mgr.join_nest(code, "guest@x.io")
    db = DB(code, init_history_to_redis=False, redis_client=r)
    db.add_song(_track("a"), "guest@x.io")
    assert keys.nest_key(code, keys.NOW_PLAYING) == f"NEST:{{{code}}}|MISC|now-playing"
    slot = key_slot(code.encode())
    assert r.keyslot(keys.pubsub_channel(code)) == slot
    mine = [k for k in _keys_in_slot(r, slot) if k.startswith(keys.nest_prefix(code))]
    assert keys.nest_guard_key(code) in mine and keys.nest_key(code, keys.PRIORITY_QUEUE) in mine
    # The global lookups stay global (their own slots), written by separate calls.
    assert r.get(keys.nest_code(code)) == code
    assert json.loads(r.hget(keys.NESTS_REGISTRY, code))["created_by"] == "host@x.io"


def test_incremental_queue_reads_work_in_the_nests_slot(r, mgr):
    """The revs set lives in the nest's slot and an incremental read equals a full one."""
    from echonest import queue_revs

    code = mgr.create_nest("host@x.io")["code"]
    db = DB(code, init_history_to_redis=False, redis_client=r)
    ids = [db.add_song(_track(n), f"guest{i % 3}@x.io")["id"] for i, n in enumerate("abcdef")]
    held = queue_revs.queue_body(db)
    db.vote(ids[4], "voter@x.io", True)
    db.add_comment(ids[1], "voter@x.io", "yes")
    body = queue_revs.queue_body(db, held)
    strip = lambda b: {k: v for k, v in b.items() if k != "now"}  # noqa: E731
    assert strip(body) == strip(db.queue_body())
    assert sum(item is old for item in body["queue"] for old in held["queue"]) == 4
    revs = keys.nest_key(code, keys.QUEUE_REVS)
    assert r.keyslot(revs) == key_slot(code.encode()) and r.zcard(revs) == 8


def test_default_layout_is_untouched_by_the_switch(redis_url):
    assert keys.LIBRARY_TRACKS == "{LIBRARY}LIBRARY|tracks"
    keys.use_cluster_layout(False)
    try:
        assert keys.nest_key("X7K2P", keys.NOW_PLAYING) == "NEST:X7K2P|MISC|now-playing"
        assert keys.nest_deleting("X7K2P") == "NESTS|deleting:X7K2P"
        assert keys.nest_guard_key("X7K2P") == keys.NESTS_REGISTRY
        assert keys.LIBRARY_TRACKS == "LIBRARY|tracks"
    finally:
        keys.use_cluster_layout(True)


def test_delete_sweeps_its_slot_and_spares_a_neighbour_in_the_same_slot(r, mgr, monkeypatch):
    gone, kept = _same_slot_codes()
    offered = iter([gone, kept])
    monkeypatch.setattr(mgr, "generate_code", lambda: next(offered))
    for code in (gone, kept):
        assert mgr.create_nest("host@x.io")["code"] == code
        mgr.join_nest(code, "guest@x.io")
        DB(code, init_history_to_redis=False, redis_client=r).add_song(_track(code), "g")
    kept_before = sorted(k for k in _keys_in_slot(r, key_slot(kept.encode()))
                         if k.startswith(keys.nest_prefix(kept)))
    mgr.leave_nest(gone, "guest@x.io")
    assert mgr.delete_nest(gone) is True
    left = _keys_in_slot(r, key_slot(gone.encode()))
    assert not [k for k in left if k.startswith(keys.nest_prefix(gone))]
    assert sorted(k for k in left if k.startswith(keys.nest_prefix(kept))) == kept_before
    assert mgr.get_nest(gone) is None and mgr.resolve_code(gone) is None
    assert r.hget(keys.NESTS_REGISTRY, gone) is None
    with pytest.raises(nests.NestGone):
        DB(gone, init_history_to_redis=False, redis_client=r).add_song(_track("late"), "g")


def test_a_delete_cut_short_after_its_first_step_is_finished_by_cleanup(r, mgr):
    code = mgr.create_nest("host@x.io")["code"]
    DB(code, init_history_to_redis=False, redis_client=r).set_volume(40)
    # The crash: the nest's slot says "deleting", the global entries were never removed.
    DELETE_START_CLUSTER(r, code, keys_=[keys.members_key(code),
                                         keys.nest_key(code, keys.PRIORITY_QUEUE)],
                         args=["", keys.member_key(code, ""),
                               int(registry_now().timestamp())])
    assert r.hexists(keys.NESTS_REGISTRY, code)
    with pytest.raises(nests.NestGone):
        DB(code, init_history_to_redis=False, redis_client=r).set_volume(41)
    assert code in mgr.finish_deletes()
    assert not r.hexists(keys.NESTS_REGISTRY, code) and r.get(keys.nest_code(code)) is None
    assert not [k for k in _keys_in_slot(r, key_slot(code.encode()))
                if k.startswith(keys.nest_prefix(code))]


def _race_creates(attempts, conf):
    """Every (creator, address) creates at the same moment, each on its own connection;
    returns the codes made."""
    from echonest.store import connect

    made, barrier = [], threading.Barrier(len(attempts))

    def one(creator, ip):
        manager = nests.NestManager(connect(CONF.REDIS_URL, cluster=True), conf=conf)
        barrier.wait(10)
        try:
            made.append(manager.create_nest(creator, name="Race", ip=ip)["code"])
        except nests.NestLimitReached:
            pass

    threads = [threading.Thread(target=one, args=pair) for pair in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return made


def test_nest_caps_hold_exactly_under_concurrent_creates(r):
    conf = CONF.copy(NEST_MAX_ACTIVE=7, NEST_MAX_ACTIVE_PER_USER=2, NEST_MAX_ACTIVE_PER_IP=3)
    # One person from many addresses: two nests, not three.
    mine = _race_creates([("same@x.io", f"10.0.0.{n}") for n in range(12)], conf)
    assert len(mine) == 2
    # Many people from one address: three nests.
    shared = _race_creates([(f"guest{n}@x.io", "10.9.9.9") for n in range(12)], conf)
    assert len(shared) == 3
    # Everyone at once for the last places: 7 in all.
    rest = _race_creates([(f"late{n}@x.io", f"10.1.1.{n}") for n in range(12)], conf)
    assert len(rest) == 2
    registry = r.hgetall(keys.NESTS_REGISTRY)
    assert sorted(registry) == sorted(mine + shared + rest)
    assert not any("creating_until" in raw for raw in registry.values())
    for code in mine + shared + rest:
        assert nests.NestManager(r).resolve_code(code) == code


def test_a_refused_create_gives_its_reserved_place_back(r, monkeypatch):
    conf = CONF.copy(NEST_MAX_ACTIVE=50, NEST_MAX_ACTIVE_PER_USER=1)
    manager = nests.NestManager(r, conf=conf)
    first = manager.create_nest("host@x.io")["code"]
    other = nests.NestManager(r, conf=conf)
    blocked = "ZZ" + first[2:]
    offered = itertools.chain([first], itertools.repeat(blocked))
    monkeypatch.setattr(other, "generate_code", lambda: next(offered))
    r.set(keys.nest_code(blocked), "someone-else")  # every code claim after the first fails
    with pytest.raises(nests.EchoNestError):
        other.create_nest("second@x.io", ip="10.0.0.1")
    assert sorted(set(r.hkeys(keys.NESTS_REGISTRY)) - {"main"}) == [first]
    assert r.hgetall(keys.nests_creator_ip()) == {}
    # The place it held is free again: the same person can still create one.
    assert nests.NestManager(r, conf=conf).create_nest("second@x.io", ip="10.0.0.1")


def test_a_create_that_died_half_way_holds_its_place_only_until_overdue(r, mgr):
    from echonest.nest_registry import RESERVE_LUA

    def reserve(code, until_ms):
        held = json.dumps({"id": code, "code": code, "created_by": "gone@x.io",
                           "is_main": False, "creating_until": until_ms})
        return r.eval(RESERVE_LUA, 2, keys.NESTS_REGISTRY, keys.nests_creator_ip(), code,
                      held, 50, "main", "gone@x.io", 0, "10.0.0.7", 0, "0")

    now_ms = int(time.time() * 1000)
    assert reserve("FRESH", now_ms + 60_000) == "OK"
    assert reserve("STALE", now_ms - 1) == "OK"
    assert [n for n, _ in mgr.list_nests() if n in ("FRESH", "STALE")] == []
    with pytest.raises(nests.NotFound):
        mgr.delete_nest("FRESH")
    assert mgr.finish_deletes() == ["STALE"]
    assert r.hexists(keys.NESTS_REGISTRY, "FRESH") and not r.hexists(keys.NESTS_REGISTRY,
                                                                       "STALE")


def test_vanity_codes_are_claimed_and_released_across_slots(r, mgr):
    one = mgr.create_nest("a@x.io")["code"]
    two = mgr.create_nest("b@x.io")["code"]
    mgr.update_nest(one, "a@x.io", vanity_code="party")
    assert mgr.resolve_code("PARTY") == one
    with pytest.raises(nests.InvalidRequest):
        mgr.update_nest(two, "b@x.io", vanity_code="party")
    with pytest.raises(nests.Forbidden):
        mgr.update_nest(one, "b@x.io", vanity_code="other")
    assert r.get(keys.nest_code("other")) is None  # a refused change releases its claim
    mgr.update_nest(one, "a@x.io", vanity_code="rave", name="Renamed")
    assert mgr.resolve_code("party") is None and mgr.resolve_code("rave") == one
    assert mgr.get_nest(one)["name"] == "Renamed"
    assert json.loads(r.hget(keys.NESTS_REGISTRY, one))["vanity_code"] == "rave"
    mgr.update_nest(two, "b@x.io", vanity_code="party")
    assert mgr.resolve_code("party") == two


def test_one_sharded_subscription_per_shard_however_many_listeners(r, mgr):
    from echonest.web.fanout import WS, Fanout, Listener, NestReader

    codes = [mgr.create_nest(f"h{n}@x.io")["code"] for n in range(12)]
    fan = Fanout(r, NestReader(lambda n: DB(n, init_history_to_redis=False, redis_client=r)),
                 position_seconds=3600)
    listeners = [Listener(code, WS) for code in codes for _ in range(3)]
    try:
        for listener in listeners:
            fan.add(listener)
        shards = {r.get_node_from_key(keys.pubsub_channel(c)).name for c in codes}
        assert fan._pubsub.shard_count() == len(shards) <= 3
        for code in codes:
            node = r.get_node_from_key(keys.pubsub_channel(code))
            counts = r.execute_command("PUBSUB SHARDNUMSUB", keys.pubsub_channel(code),
                                       target_nodes=node)
            assert dict(counts) == {keys.pubsub_channel(code): 1}
        DB(codes[0], init_history_to_redis=False, redis_client=r).set_volume(12)
        for listener in listeners[:3]:
            frame = json.loads(listener.next_frame(timeout=5))
            assert frame["event"] == "volume" and frame["nest"] == codes[0]
        assert listeners[3].next_frame(timeout=0.3) is None  # another nest hears nothing
    finally:
        fan.stop()


@pytest.fixture
def own_cluster(redis_url):
    """A cluster of this test's own: killing one of its primaries spares the session's."""
    from echonest import store
    from echonest.cluster_engine import LocalCluster, cluster_ports

    with tempfile.TemporaryDirectory(prefix="echonest-failover-") as tmp:
        cluster = LocalCluster(tmp, ports=cluster_ports(6, start=17050)).start()
        previous = CONF.REDIS_URL
        CONF.REDIS_URL = cluster.url
        try:
            yield cluster
        finally:
            CONF.REDIS_URL = previous
            store._clients.pop(f"{cluster.url}#cluster", None)
            cluster.stop()


def test_failover_mid_party_keeps_sockets_and_loses_only_unreplicated_writes(own_cluster):
    """Kill the primary that holds the nest while a writer hammers it, a player plays and a
    socket listens: a replica takes over, the web process and the worker carry on, the socket
    stays open and is resynced, and the only loss is the last acknowledged writes that had
    not reached the replica (measured and printed; docs/deploy.md cites it)."""
    from echonest.store import connect

    url = own_cluster.url
    client = connect(url, cluster=True)
    nests.NestManager(client).ensure_main()
    uris = offline_track_uris(3)
    with web_server(url) as srv, player_worker(url, PLAYER_TICK_SECONDS="0.2",
                                               PLAYER_LEASE_SECONDS="2", USE_BENDER="false"):
        alice = Guest(srv.url, "Alice")
        code = alice.create_nest("Failover Nest")
        ws = WSClient(srv.ws_url, f"/socket/{code}", alice.cookie)
        try:
            ws.initial_state()
            db = DB(code, init_history_to_redis=False, redis_client=client)
            for n in range(6):
                db.add_song(_track(f"f{n}", duration=1.0), "guest")
            ws.event("now_playing", timeout=10)

            probe = keys.nest_key(code, "TEST|failover-probe")  # test-only list of acked seqs
            acked: list[int] = []
            errors: list[str] = []
            stop = threading.Event()

            def writer():
                seq = 0
                while not stop.is_set():
                    seq += 1
                    try:
                        atomic.apply(client, code, [["RPUSH", probe, seq]])
                        acked.append(seq)
                    except Exception as exc:  # the outage: counted, then the next one
                        errors.append(f"{type(exc).__name__}: {exc}"[:120])
                        time.sleep(0.05)

            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            assert eventually(lambda: len(acked) > 50, timeout=10)
            owner = client.get_node_from_key(keys.pubsub_channel(code))
            victim = own_cluster.node_for_port(owner.port)
            victim_id = own_cluster.node_id(victim)
            at_kill = len(acked)
            victim.kill()
            killed_at = time.monotonic()
            own_cluster.wait_failover(victim_id)  # a replica was promoted: every slot served
            promoted_after = time.monotonic() - killed_at
            assert eventually(lambda: len(acked) > at_kill + 50, timeout=30), errors[-5:]
            stop.set()
            thread.join(10)
            version_after = db.version()

            stored = {int(v) for v in client.lrange(probe, 0, -1)}
            lost = [seq for seq in acked if seq not in stored]
            # Only the last acknowledged writes before the crash may be missing (asynchronous
            # replication); everything acknowledged by the promoted replica is there.
            assert all(seq > acked[max(0, at_kill - 500)] for seq in lost)
            assert all(seq in stored for seq in acked[at_kill + 5:])
            assert len(stored) == len(client.lrange(probe, 0, -1))  # no duplicates either

            # The player carried on and the socket never closed: a song change reaches it…
            ws.wait_for(lambda f: f.get("event") == "now_playing" and f["v"] > version_after,
                        timeout=20)
            # …and so does a change made through it.
            ws.send("add_song", {"track_uri": uris[0]}, ref="after")
            assert ws.reply("after", timeout=20)["event"] == "ack"
            ws.wait_for(lambda f: f.get("data", {}).get("uri") == uris[0] or any(
                item.get("uri") == uris[0] for item in f.get("data", {}).get("queue", [])),
                timeout=20)
            body = db.queue_body()
            assert all(item.get("uri") for item in body["queue"])
            print(f"\nfailover: replica serving {promoted_after:.2f} s after the kill; "
                  f"{len(errors)} writes refused during the outage; {len(lost)} of "
                  f"{len(acked)} acknowledged writes lost (the last before the crash)")
        finally:
            ws.close()
    client.close()


def test_make_run_in_cluster_mode_needs_a_node_and_starts_no_engine(tmp_path):
    import os
    import subprocess
    import sys

    from servers import ROOT

    env = {**os.environ, "REDIS_CLUSTER": "true", "REDIS_URL": "", "PORT": "0",
           "DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "echonest.runner"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "REDIS_URL must name a node" in done.stderr
    assert not list(tmp_path.glob("appendonly*"))  # no embedded engine was started


def test_cluster_node_pools_check_a_connection_before_reuse(r):
    """Each node's pool is the app's pool (echonest.redis_pool): the cheap reuse check, and a
    pending reply is not excused as a maintenance push (test_redis_pool.py shows both)."""
    from echonest.redis_pool import ProbedBlockingPool

    r.ping(target_nodes=r.ALL_NODES)
    pools = [node.redis_connection.connection_pool for node in r.get_nodes()]
    assert pools and all(isinstance(p, ProbedBlockingPool) for p in pools)
    assert not any(p.maint_notifications_enabled() for p in pools)
