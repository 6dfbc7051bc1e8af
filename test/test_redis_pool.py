"""The pooled connections' cheap reuse check still catches every dirty or dead connection:
a reply nobody read (in the socket or already in the parser) and a connection Redis closed
(a restart) are replaced before the next command, which gets its own answer. The cluster
client's node pools: test_cluster.py."""

from __future__ import annotations

import select
import socket
import time

import pytest
import redis

from echonest import store
from echonest.redis_pool import ProbedBlockingPool, QuickProbe


@pytest.fixture
def client(r, redis_url):
    """A client built the way the app builds its own (store.connect), on a one-connection
    pool so the next command reuses exactly the connection the test left behind."""
    from config import CONF

    own = store.connect(redis_url, CONF.copy(REDIS_MAX_CONNECTIONS=1), cluster=False)
    yield own
    own.connection_pool.disconnect()


def _wait_readable(conn, size: int) -> None:
    """Until ``size`` bytes of reply sit in the connection's socket (nothing read yet)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        select.select([conn._sock.fileno()], [], [], 0.1)
        if len(conn._sock.recv(size, socket.MSG_PEEK)) >= size:
            return
    raise AssertionError("no reply arrived")


def test_the_app_pool_uses_the_quick_check(client):
    assert isinstance(client.connection_pool, ProbedBlockingPool)
    assert not client.connection_pool.maint_notifications_enabled()
    conn = client.connection_pool.get_connection()
    try:
        assert isinstance(conn, QuickProbe) and isinstance(conn, redis.Connection)
        assert conn.can_read() is False  # a clean connection: nothing to read
    finally:
        client.connection_pool.release(conn)


def test_a_reply_nobody_read_is_never_taken_by_the_next_command(client):
    pool = client.connection_pool
    conn = pool.get_connection()
    conn.send_command("ECHO", "stale")  # interrupted before reading, say
    _wait_readable(conn, len(b"$5\r\nstale\r\n"))
    pool.release(conn)
    assert client.echo("fresh") == "fresh"
    assert client.echo("again") == "again"


def test_a_reply_left_in_the_parser_is_never_taken_by_the_next_command(client):
    pool = client.connection_pool
    conn = pool.get_connection()
    conn.send_packed_command(conn.pack_commands([("ECHO", "one"), ("ECHO", "two")]))
    _wait_readable(conn, len(b"$3\r\none\r\n$3\r\ntwo\r\n"))
    assert conn.read_response() == "one"  # the parser read both; "two" waits in its buffer
    pool.release(conn)
    assert client.echo("fresh") == "fresh"


def test_a_connection_redis_closed_is_replaced_before_use(client, r):
    """What a Redis restart leaves behind: the app's connections carry no retries, so without
    the check the first command on a closed connection would fail (a 503 for the user)."""
    client.set("song", "kept")
    pool = client.connection_pool
    conn = pool.get_connection()
    assert conn.retry.get_retries() == 0  # no retries: a dead socket would surface as an error
    conn.send_command("CLIENT", "ID")
    client_id = conn.read_response()
    pool.release(conn)
    assert r.client_kill_filter(_id=client_id) == 1
    deadline = time.monotonic() + 5
    while not conn._sock or not select.select([conn._sock.fileno()], [], [], 0.1)[0]:
        assert time.monotonic() < deadline, "the server never closed the connection"
    assert client.get("song") == "kept"


def test_under_gevent_a_command_lets_the_other_ready_requests_go_first(client, monkeypatch):
    """The old gevent check gave every other ready greenlet a turn before each command; the
    quick check keeps that turn (without it the slowest requests wait longest under load)."""
    import gevent

    from echonest import redis_pool

    monkeypatch.setattr(redis_pool, "_cooperative", True)  # as in a monkey-patched process
    ran = []
    gevent.spawn(ran.append, "another request")
    assert client.echo("mine") == "mine"
    assert ran == ["another request"]
