"""Shared Bender test setup: the real offline catalog, config knobs, nests and seed songs."""

import json
from datetime import UTC, datetime

import pytest

from config import CONF
from db import DB
from echonest import keys
from echonest.catalog.offline.provider import OfflineProvider
from echonest.catalog.registry import Catalog

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
TEMP = "ABCDE"


QUEEN_OPERA = "local:track:queen-bohemian-rhapsody"       # rock; A Night at the Opera (5 songs)
ZEPPELIN = "local:track:led-zeppelin-whole-lotta-love"
STONES = "local:track:the-rolling-stones-gimme-shelter"
RAMONES = "local:track:ramones-blitzkrieg-bop"
DYLAN = "local:track:bob-dylan-blowin-in-the-wind"
BEATLES = "local:track:the-beatles-taxman"
MADONNA = "local:track:madonna-material-girl"
ADELE = "local:track:adele-rolling-in-the-deep"
CRAZY = "local:track:beyonce-crazy-in-love"


@pytest.fixture(scope="module")
def provider():
    """The real bundled offline catalog (parsed once for this module)."""
    return OfflineProvider()


@pytest.fixture
def catalog(provider):
    return Catalog([provider])


@pytest.fixture
def conf(monkeypatch):
    def set_conf(**values):
        for name, value in values.items():
            monkeypatch.setitem(CONF._values, name, value)
    set_conf(USE_BENDER=True, MIN_QUEUE_DEPTH=3, NEST_MIN_QUEUE_DEPTH=1, MAX_BENDER_MINUTES=180,
             BENDER_BACKOFF_SECONDS=30, BENDER_CACHE_TTL_SECONDS=3600)
    return set_conf


@pytest.fixture
def db(r):
    return DB("main", redis_client=r)


@pytest.fixture
def temp_db(r):
    r.hset(keys.NESTS_REGISTRY, TEMP, json.dumps({"id": TEMP, "created_by": "ann@x.io"}))
    return DB(TEMP, redis_client=r)


def only(conf, strategy):
    conf(BENDER_STRATEGY_WEIGHTS={strategy: 1})


def track(provider, uri):
    found = provider.lookup(uri)
    assert found is not None, f"{uri} is not in the offline catalog"
    return found


def album_of(provider, uri):
    return [t.uri for t in provider.album_tracks(track(provider, uri).album_uri)]


def seed_with(db, provider, uri=QUEEN_OPERA, user="ann@x.io"):
    """A person queues a song: Bender's seed."""
    seed = track(provider, uri)
    db.add_song(seed, user, now=NOW)
    return seed
