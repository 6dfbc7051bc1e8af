"""The guarded write primitive: versioned, published, and refused for a nest that is gone."""

import json

import pytest
import redis

from echonest import atomic, keys
from echonest.errors import NestGone


def _register(r, nest_id):
    r.hset(keys.NESTS_REGISTRY, nest_id, json.dumps({"id": nest_id}))


def test_apply_writes_bumps_version_and_publishes(r):
    _register(r, "ABCDE")
    pubsub = r.pubsub()
    pubsub.subscribe(keys.pubsub_channel("ABCDE"))
    pubsub.get_message(timeout=1)
    v1 = atomic.apply(r, "ABCDE", [["SET", keys.nest_key("ABCDE", keys.VOLUME), 40]],
                      event="volume", data={"volume": 40})
    v2 = atomic.apply(r, "ABCDE", [["SET", keys.nest_key("ABCDE", keys.VOLUME), 41]])
    assert (v1, v2) == (1, 2)
    assert r.get("NEST:ABCDE|MISC|volume") == "41"
    msg = pubsub.get_message(timeout=1)
    assert json.loads(msg["data"]) == {"event": "volume", "nest": "ABCDE", "v": 1,
                                       "data": {"volume": 40}}
    assert pubsub.get_message(timeout=0.2) is None  # no event for the silent write
    pubsub.close()


def test_unregistered_or_deleting_nest_refuses_and_creates_nothing(r):
    with pytest.raises(NestGone):
        atomic.apply(r, "ZZZZZ", [["SET", keys.nest_key("ZZZZZ", keys.VOLUME), 1]])
    _register(r, "YYYYY")
    r.set(keys.nest_deleting("YYYYY"), "1")
    with pytest.raises(NestGone):
        atomic.apply(r, "YYYYY", [["SET", keys.nest_key("YYYYY", keys.VOLUME), 1]])
    assert r.keys("NEST:*") == []


def test_main_needs_no_registry_entry(r):
    atomic.apply(r, "main", [["SET", keys.nest_key("main", keys.VOLUME), 7]])
    assert r.get("NEST:main|MISC|volume") == "7"


def test_failing_command_inside_apply_rolls_nothing_forward(r):
    _register(r, "ABCDE")
    r.set(keys.nest_key("ABCDE", "X"), "not a list")
    with pytest.raises(redis.ResponseError):
        atomic.apply(r, "ABCDE", [["LPUSH", keys.nest_key("ABCDE", "X"), "a"]])
    assert atomic.current_version(r, "ABCDE") == 0
