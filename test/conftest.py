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


@pytest.fixture(scope="session")
def redis_url():
    from config import CONF

    url = os.environ.get("ECHONEST_TEST_REDIS_URL")
    engine = None
    tmp = None
    if not url:
        from echonest.engine import EmbeddedEngine

        tmp = tempfile.TemporaryDirectory(prefix="echonest-test-engine-")
        engine = EmbeddedEngine(tmp.name, persist=False).start()
        url = engine.url
    previous = CONF.REDIS_URL
    CONF.REDIS_URL = url
    os.environ["REDIS_URL"] = url
    try:
        yield url
    finally:
        CONF.REDIS_URL = previous
        os.environ.pop("REDIS_URL", None)
        if engine:
            engine.stop()
        if tmp:
            tmp.cleanup()


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
