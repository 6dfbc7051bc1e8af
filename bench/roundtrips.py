"""Counting Redis round trips: a ``redis.Connection`` that counts what it sends.

One command, one pipeline or one script call is one ``send_packed_command``: one round trip.
Shared by the benchmarks and by test/test_round_trips.py (which pins the per-action count).
"""

from __future__ import annotations

import redis


class CountingConnection(redis.Connection):
    sent = 0
    log: list[bytes] | None = None  # set to a list to record what went out (for debugging)

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        if CountingConnection.log is not None:
            raw = command if isinstance(command, (bytes, str)) else b"".join(command)
            CountingConnection.log.append(raw[:160])
        return super().send_packed_command(command, check_health)


def counting_client(url: str, **kwargs) -> redis.Redis:
    """A client on its own pool whose connections count (CountingConnection.sent)."""
    pool = redis.ConnectionPool.from_url(url, decode_responses=True,
                                         connection_class=CountingConnection, **kwargs)
    return redis.Redis(connection_pool=pool)


class Counter:
    """``with Counter() as c: ...`` then ``c.trips`` (and ``c.log``)."""

    def __enter__(self) -> Counter:
        CountingConnection.sent = 0
        CountingConnection.log = self.log = []
        return self

    def __exit__(self, *exc) -> None:
        self.trips = CountingConnection.sent
        CountingConnection.log = None
