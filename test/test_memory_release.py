"""After a wave of leaves, a trim gives back what the wave left behind (echonest.web.memory).

pymalloc returns an arena only when every block in it is free, so what matters is that nothing
made during the wave outlives it: no attribute name held by CPython's type cache, no container
still sized for 10,000 listeners, no cache of the wave's frames or cookies, no idle Redis
connection opened for the burst. Each test asserts one such structural property (no timing).
"""

from __future__ import annotations

import gc
import sys
import weakref

import redis

from echonest.web import memory


class _Thing:
    pass


def test_trim_lets_go_of_attribute_names_cached_by_the_type_cache():
    # A freshly made (not interned) name, as C code builds for datetime's "utcoffset" or
    # gevent's "stop": CPython's type cache keeps a reference to it after the lookup.
    name = "".join(["echonest_", "wave_attr"])
    before = sys.getrefcount(name)
    getattr(_Thing(), name, None)
    memory.trim()
    assert sys.getrefcount(name) == before


def test_trim_rebuilds_the_open_connection_set_at_its_current_size():
    from echonest.web import ws_conn

    crowd = [object() for _ in range(10_000)]
    stayer = object()
    ws_conn.OPEN.update(crowd)
    ws_conn.OPEN.add(stayer)
    try:
        for one in crowd:
            ws_conn.OPEN.discard(one)
        grown = sys.getsizeof(ws_conn.OPEN)
        memory.trim()
        assert stayer in ws_conn.OPEN
        assert sys.getsizeof(ws_conn.OPEN) < grown // 100
        assert sys.getsizeof(ws_conn.OPEN) == sys.getsizeof(set(ws_conn.OPEN))
    finally:
        ws_conn.OPEN.discard(stayer)


def test_trim_empties_the_wire_frame_cache():
    from echonest.web import ws_frames

    ws_frames.wire('{"event":"now_playing","nest":"main","v":1,"data":{}}')
    memory.trim()
    assert not ws_frames._wire


def test_trim_forgets_verified_cookies_without_keeping_the_interface_alive():
    from echonest.web.session_cookies import CachedCookieSessions

    sessions = CachedCookieSessions()
    sessions._verified.update({f"cookie-{n}": ("{}", 0.0) for n in range(5000)})
    memory.trim()
    assert sessions._verified == {}
    gone = weakref.ref(sessions)
    del sessions
    gc.collect()
    assert gone() is None  # the trim hook holds it weakly


def test_trim_rebuilds_the_per_address_connection_count():
    from echonest.web.connections import EchoServer

    server = EchoServer(("127.0.0.1", 0), lambda environ, start_response: [])
    for n in range(10_000):
        server.open_by_ip[f"10.0.{n // 250}.{n % 250}"] += 1
    server.open_by_ip["10.9.9.9"] += 2
    for n in range(10_000):
        server._release(f"10.0.{n // 250}.{n % 250}")
    grown = sys.getsizeof(server.open_by_ip)
    memory.trim()
    assert dict(server.open_by_ip) == {"10.9.9.9": 2}
    assert sys.getsizeof(server.open_by_ip) < grown // 100


def test_shrink_pool_closes_idle_redis_connections_beyond_the_warmest(r, redis_url):
    pool = redis.BlockingConnectionPool.from_url(redis_url, max_connections=30, timeout=2,
                                                 decode_responses=True)
    try:
        burst = [pool.get_connection() for _ in range(20)]  # a reconnect burst's peak
        busy = burst.pop()  # still in use during the trim: must not be touched
        for conn in burst:
            pool.release(conn)
        assert len(pool._connections) == 20

        assert memory.shrink_pool(pool, keep=4) == 15
        assert len(pool._connections) == 5  # 4 idle kept + the busy one
        assert busy in pool._connections and busy._sock is not None
        # The oldest stay (opened before the wave, in memory that was in use anyway).
        assert [conn._sock is not None for conn in burst] == [True] * 4 + [False] * 15

        pool.release(busy)
        # Capacity is unchanged: all 30 can still be checked out at once, and they work.
        again = [pool.get_connection() for _ in range(30)]
        client = redis.Redis(connection_pool=pool)
        for conn in again:
            pool.release(conn)
        assert client.ping() is True
    finally:
        pool.disconnect()


def test_trim_rebuilds_a_nests_listener_set_that_grew_during_a_wave(r):
    from db import DB
    from echonest.web.fanout import WS, Fanout, Listener, NestReader

    fan = Fanout(r, NestReader(lambda n: DB(n, init_history_to_redis=False, redis_client=r)))
    local = fan._listeners.setdefault("main", set())
    wave = [Listener("main", WS) for _ in range(5000)]
    local.update(wave)
    for listener in wave[10:]:
        local.discard(listener)
    grown = sys.getsizeof(local)
    memory.trim()
    assert fan._listeners["main"] is local and len(local) == 10
    assert sys.getsizeof(local) < grown // 100
