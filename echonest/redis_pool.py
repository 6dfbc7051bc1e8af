"""The Redis connection pool: redis-py's blocking pool with a cheap reuse check.

Before it hands out a pooled connection, redis-py asks it whether anything is waiting to be
read (``can_read``): a reply left behind by an interrupted command (a greenlet killed or timed
out mid-read) or the EOF a restarted Redis left on the socket; either way it reconnects first.

Two things were wrong with that check here (issue 10):

- **It cost ~20 µs of CPU per command under gevent** (measured alone; an HTTP action makes
  two commands and its web CPU fell ~6–12 % with this and the plain-header reading together):
  redis-py polls with a zero timeout, and gevent's patched ``poll`` makes that an I/O watcher,
  a zero-second ``Timeout`` and a trip through the hub. ``QuickProbe`` asks the operating
  system's own ``poll`` first (a zero timeout never blocks, so the unpatched call is safe under
  gevent; ~1 µs). When the socket has nothing to read (no data, no EOF, no error) and the
  parser holds no buffered reply, the answer is "nothing", exactly what redis-py would have
  said; in every other case (something readable, TLS, another parser, a wait with a timeout)
  redis-py's own check runs and decides, unchanged. The old check also made every command
  wait one turn behind the other ready greenlets, and that turn is what kept the slowest
  requests in line under load: without it a web process at saturation answered faster on
  median and slower at p99 (2 processes × 16 HTTP clients: p50 20 → 15 ms, p99 ~60 → ~80
  ms; most likely because libev runs the watchers that became ready in one pass newest-first).
  So a gevent process still takes that turn (``gevent.sleep(0)``, a callback in FIFO order,
  ~2 µs): p99 back to 52–58 ms at the same CPU per op.
- **A stale reply was reused.** redis-py 8 speaks RESP3 by default and then turns on
  "maintenance notifications" (pushes Redis Cloud/Enterprise send before a failover); with
  those on it ignores a pending reply, since it might be such a push, and the next command
  reads the previous command's answer. Valkey and Redis OSS send no such pushes, so this pool
  turns them off and a connection with a pending reply is replaced again.
"""

from __future__ import annotations

import select
from typing import Any

import redis

try:
    from redis.maint_notifications import MaintNotificationsConfig
except ImportError:  # pragma: no cover - redis-py before 7 has no such notifications
    MaintNotificationsConfig = None

try:  # the operating system's poll, even after gevent's monkey-patching
    from gevent.monkey import get_original

    _os_poll = get_original("select", "poll")
except ImportError:  # pragma: no cover - gevent is a dependency
    _os_poll = select.poll

try:  # under gevent: a FIFO turn for every other ready greenlet (gevent.sleep(0))
    from gevent import sleep as _yield
    from gevent.monkey import is_module_patched

    _cooperative = is_module_patched("select")
except ImportError:  # pragma: no cover - gevent is a dependency
    _cooperative = False

_READABLE = select.POLLIN | getattr(select, "POLLRDHUP", 0) | select.POLLPRI


def _reader_empty(parser: Any) -> bool:
    """True only when the parser is hiredis's and it holds no unparsed bytes."""
    reader = getattr(parser, "_reader", None)
    has_data = getattr(reader, "has_data", None)
    return has_data is not None and not has_data()


class QuickProbe:
    """Mixin for a redis-py connection class: ``can_read(0)`` answers "nothing" from one real
    ``poll`` when it can, else defers to redis-py (see the module docstring)."""

    def can_read(self, timeout: float = 0) -> bool:
        sock = self._sock
        if (timeout == 0 and sock is not None and not hasattr(sock, "pending")
                and _reader_empty(self._parser)):
            fd = sock.fileno()
            if fd >= 0:
                poller = _os_poll()
                poller.register(fd, _READABLE)
                if not poller.poll(0):
                    if _cooperative:
                        _yield(0)  # the one turn per command the gevent check gave (docstring)
                    return False
        return super().can_read(timeout)


_probed: dict[type, type] = {}


def quick_probe(connection_class: type) -> type:
    """``connection_class`` with ``QuickProbe`` mixed in (one class per base, made once)."""
    if issubclass(connection_class, QuickProbe):
        return connection_class
    probed = _probed.get(connection_class)
    if probed is None:
        probed = _probed[connection_class] = type(
            f"QuickProbe{connection_class.__name__}", (QuickProbe, connection_class), {})
    return probed


def no_maintenance_pushes() -> dict[str, Any]:
    """The keyword that turns redis-py's maintenance notifications off (none before 7)."""
    if MaintNotificationsConfig is None:
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


class ProbedBlockingPool(redis.BlockingConnectionPool):
    """redis-py's blocking pool whose connections check themselves with ``QuickProbe`` and
    whose check is not switched off by maintenance notifications (module docstring)."""

    def __init__(self, *args: Any, connection_class: type = redis.Connection,
                 **kwargs: Any) -> None:
        for key, value in no_maintenance_pushes().items():
            kwargs.setdefault(key, value)
        super().__init__(*args, connection_class=quick_probe(connection_class), **kwargs)
