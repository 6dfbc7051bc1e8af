"""Rate-limit windows on the real engine: counting, windows, TTLs, races, the dispatcher's use."""

from __future__ import annotations

import threading

import pytest

from config import CONF
from echonest import keys, ratelimit
from echonest.errors import RateLimited

LIMITS = CONF.copy(RATE_LIMITS={"demo": [3, 60], "off": [0, 60]})
T0 = 1_700_000_080.0  # 40 s into a 60 s window


def test_counts_up_to_the_limit_then_refuses_with_the_time_left(r):
    assert [ratelimit.hit(r, LIMITS, "demo", "ann", now=T0) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(RateLimited) as refused:
        ratelimit.hit(r, LIMITS, "demo", "ann", now=T0 + 5)
    assert refused.value.retry_after == 15 and refused.value.status == 429
    assert refused.value.to_dict()["error"] == "rate_limited"


def test_subjects_are_counted_separately_and_windows_reset(r):
    for _ in range(3):
        ratelimit.hit(r, LIMITS, "demo", "ann", now=T0)
    assert ratelimit.hit(r, LIMITS, "demo", "ben", now=T0) == 1
    assert ratelimit.hit(r, LIMITS, "demo", "ann", now=T0 + 20) == 1  # next window


def test_counter_keys_expire_with_their_window(r):
    ratelimit.hit(r, LIMITS, "demo", "ann", now=T0)
    key = keys.rate_limit("demo", "ann", int(T0 // 60) * 60)
    assert key.startswith("NESTS|ratelimit:demo:ann:")
    assert 0 < r.ttl(key) <= 61


def test_a_check_does_not_count(r):
    for _ in range(5):
        assert ratelimit.hit(r, LIMITS, "demo", "ann", now=T0, cost=0) == 0
    for _ in range(3):
        ratelimit.hit(r, LIMITS, "demo", "ann", now=T0)
    with pytest.raises(RateLimited):
        ratelimit.hit(r, LIMITS, "demo", "ann", now=T0, cost=0)


def test_unconfigured_or_zero_buckets_do_not_limit(r):
    for _ in range(10):
        assert ratelimit.hit(r, LIMITS, "off", "ann", now=T0) == 0
        assert ratelimit.hit(r, LIMITS, "missing", "ann", now=T0) == 0


def test_racing_hits_let_exactly_the_limit_through(r):
    conf = CONF.copy(RATE_LIMITS={"race": [5, 3600]})
    allowed, refused = [], []
    start = threading.Barrier(20)

    def one():
        start.wait()
        try:
            ratelimit.hit(r, conf, "race", "crowd", now=T0)
            allowed.append(1)
        except RateLimited:
            refused.append(1)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 5 and len(refused) == 15
