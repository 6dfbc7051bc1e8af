"""Nest membership: tabs counted once, liveness TTLs, heartbeats, batched counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nest_support import NOW, events_of, subscribe

from config import CONF
from echonest import atomic, keys
from echonest.errors import InvalidRequest, NestGone, NotFound


# --- membership --------------------------------------------------------------------------------
def test_two_tabs_count_once_and_the_member_leaves_with_the_last(mgr, r):
    code = mgr.create_nest("a@x.io")["code"]
    pubsub = subscribe(r, code)
    assert mgr.join_nest(code, "ana@x.io") == 1
    assert mgr.join_nest(code, "ana@x.io") == 1
    assert mgr.join_nest(code, "bo@x.io") == 2
    assert mgr.leave_nest(code, "ana@x.io") == 2
    assert mgr.live_members(code) == ["ana@x.io", "bo@x.io"]
    assert mgr.leave_nest(code, "ana@x.io") == 1
    assert mgr.live_members(code) == ["bo@x.io"]
    assert r.exists(keys.member_key(code, "ana@x.io")) == 0
    counts = [e["data"]["count"] for e in events_of(pubsub) if e["event"] == "member_update"]
    assert counts == [1, 2, 1]  # the second tab and its closing change nothing anyone sees
    pubsub.close()


def test_join_sets_the_liveness_ttl_and_touches_activity(mgr, r):
    code = mgr.create_nest("a@x.io", now=NOW)["code"]
    mgr.join_nest(code, "ana@x.io", now=NOW + timedelta(minutes=5))
    assert 0 < r.ttl(keys.member_key(code, "ana@x.io")) <= CONF.MEMBER_TTL_SECONDS
    assert r.sismember(keys.members_key(code), "ana@x.io")
    assert mgr.get_nest(code)["last_activity"] == "2026-03-02T12:05:00+00:00"


def test_expired_members_are_pruned_and_heartbeat_brings_them_back(mgr, r):
    code = mgr.create_nest("a@x.io")["code"]
    mgr.join_nest(code, "ana@x.io")
    mgr.join_nest(code, "bo@x.io")
    r.delete(keys.member_key(code, "bo@x.io"))  # as if bo's TTL ran out (tab frozen, crash)
    assert mgr.member_count(code) == 1
    assert not r.sismember(keys.members_key(code), "bo@x.io")
    assert mgr.heartbeat(code, "bo@x.io") == 2
    assert mgr.leave_nest(code, "bo@x.io") == 1


def test_heartbeat_refreshes_ttl_without_a_version_bump(mgr, r):
    code = mgr.create_nest("a@x.io")["code"]
    mgr.join_nest(code, "ana@x.io")
    r.expire(keys.member_key(code, "ana@x.io"), 5)
    version = atomic.current_version(r, code)
    mgr.heartbeat(code, "ana@x.io")
    assert r.ttl(keys.member_key(code, "ana@x.io")) > 5
    assert atomic.current_version(r, code) == version
    assert mgr.touch_nest(code) is True and atomic.current_version(r, code) == version


def test_membership_rejects_hostile_input(mgr):
    code = mgr.create_nest("a@x.io")["code"]
    for bad in (None, "", 5, "x" * 1000):
        with pytest.raises(InvalidRequest):
            mgr.join_nest(code, bad)
    with pytest.raises(NotFound):
        mgr.join_nest(None, "a@x.io")
    with pytest.raises(NestGone) as err:
        mgr.join_nest("ZZZZZ", "a@x.io")
    assert err.value.status == 404


def test_live_member_counts_in_batch(mgr, r):
    one = mgr.create_nest("a@x.io")["code"]
    two = mgr.create_nest("b@x.io")["code"]
    mgr.join_nest(one, "x@x.io")
    mgr.join_nest(one, "y@x.io")
    r.delete(keys.member_key(one, "y@x.io"))
    assert mgr.live_member_counts([one, two, "main"]) == {one: 1, two: 0, "main": 0}
