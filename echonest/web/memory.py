"""Give memory back to the system after many connections leave.

CPython and glibc keep freed memory for reuse. Most of what a socket costs lives in CPython's
small-object allocator (pymalloc), which hands an arena (1 MiB) back only once *every* block in
it is free: a wave of 10,000 sockets fills ~35 new arenas, and a handful of long-lived objects
allocated during the wave pins each of them. Measured after 10,000 idle listeners left
(docs/performance.md, "Memory returned after a wave of leaves"), the pinning objects were:

- CPython's type attribute cache (4,096 slots, process-wide). Each slot keeps a strong
  reference to the attribute-name string it was filled with, and C code that looks attributes
  up by a freshly made string (datetime's ``utcoffset`` in every tz-aware ``isoformat``,
  gevent's ``stop``) fills slots with distinct copies: ~1,200 64-byte strings spread over ~170
  pools, one or two per pool. ``sys._clear_type_cache()`` drops them (the cache refills on the
  next lookups).
- Objects made once during the wave and kept: Redis pool connections opened for the burst, the
  wire-frame cache, verified session cookies, containers that grew to hold every listener (a
  set or dict keeps its grown table after its entries leave), and a module imported by the
  trim itself (``ctypes.util.find_library`` runs ``ldconfig`` through gevent.subprocess).

So when the fan-out has lost many listeners, a short while later (once the closes have
settled) ``trim`` runs the release hooks registered with ``on_trim`` (caches emptied,
containers rebuilt at their current size, idle Redis connections beyond a few closed), clears
the type cache, collects, and asks glibc to return free heap pages (``malloc_trim``).
Debounced: at most once per MIN_GAP seconds. Nothing here runs on a request or frame.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
import threading
import time
import weakref
from array import array
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0     # wait for a wave of closes to finish before trimming
MIN_GAP = 10.0
RELEASED_ENOUGH = 500    # listeners gone since the last trim before it is worth it
KEEP_IDLE_REDIS = 4      # idle pooled Redis connections kept after a wave (more reopen on demand)

_lock = threading.Lock()
_released = 0
# [last release, last trim] (monotonic): kept in an array, so updating them makes no new float
# object -- the one made at the last leave of a wave would otherwise stay in a wave arena.
_when = array("d", [0.0, 0.0])
_timer: threading.Timer | None = None
_hooks: list[Callable[[], Callable[[], Any] | None]] = []
_malloc_trim: Any = None


def _libc_trim() -> bool:
    """glibc's ``malloc_trim(0)``; False where there is none (musl, macOS).

    Looked up in the running process's own symbols once: ``ctypes.util.find_library`` would
    run ``ldconfig`` in a subprocess on every trim, and the modules that imports are exactly
    the kind of long-lived objects that pin arenas mid-wave.
    """
    fn = _libc_trim_fn()
    return bool(fn(0)) if fn else False


def _libc_trim_fn() -> Any:
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError, TypeError):
            _malloc_trim = False
    return _malloc_trim


def prepare() -> None:
    """At server start, make what would otherwise be made once mid-wave and kept for good (a
    long-lived object in a wave arena pins it): ``malloc_trim``'s handle, and gevent's thread
    pool, created on first use by the resolver when a burst opens Redis connections."""
    _libc_trim_fn()
    try:
        from gevent import get_hub

        get_hub().threadpool  # noqa: B018 - created on first access
    except ImportError:
        pass


def on_trim(release: Callable[[], Any]) -> None:
    """Call ``release`` (no arguments) at every trim, before collecting. A bound method is
    held weakly, so registering one never keeps its object (an app, a server) alive."""
    if hasattr(release, "__self__") and hasattr(release, "__func__"):
        _hooks.append(weakref.WeakMethod(release))
    else:
        _hooks.append(lambda: release)


def _run_hooks() -> None:
    alive = []
    for ref in list(_hooks):
        fn = ref()
        if fn is None:
            continue
        alive.append(ref)
        try:
            fn()
        except Exception:
            log.warning("memory release hook %r failed", fn, exc_info=True)
    _hooks[:] = alive


def rebuild(container: dict | set) -> None:
    """Shrink a set or dict that grew large and emptied, in place.

    CPython never shrinks a set's table on removal, and a dict's only when an insert happens
    to resize it: a container that held 10,000 listeners keeps a table for 10,000 until
    rebuilt. ``clear()`` frees the table; the survivors go back into one sized for them.
    """
    if isinstance(container, dict):
        keep = dict(container)
        container.clear()
        dict.update(container, keep)  # plain dict semantics, also for a Counter
    else:
        items = list(container)
        container.clear()
        container.update(items)


def shrink_pool(pool: Any, keep: int = KEEP_IDLE_REDIS) -> int:
    """Close idle connections of a redis-py BlockingConnectionPool beyond the ``keep`` oldest;
    return how many were closed.

    A reconnect burst opens up to the pool's cap; redis-py keeps every connection it ever
    opened, each ~60 objects plus a 64 KiB read buffer, allocated mid-wave. The pool's
    queue always holds ``max_connections`` items (connections or ``None`` placeholders for
    ones not opened yet); we take them all, put back as many placeholders as connections we
    close, and never switch greenlets in between.
    """
    q, opened = getattr(pool, "pool", None), getattr(pool, "_connections", None)
    if not (hasattr(q, "qsize") and hasattr(q, "get_nowait")) or not isinstance(opened, list):
        return 0  # another pool type (a cluster client's): nothing we know how to shrink
    # qsize, not get-until-Empty: the first exception out of gevent's compiled queue builds
    # and caches a code object -- one more long-lived object landing mid-arena.
    items = [q.get_nowait() for _ in range(q.qsize())]
    # Keep the oldest: opened before the wave, they live in arenas that were full anyway;
    # the ones the burst opened are the mid-wave objects that would pin its arenas.
    age = {id(c): n for n, c in enumerate(opened)}
    idle = sorted((c for c in items if c is not None), key=lambda c: age.get(id(c), 0))
    kept, closing = idle[:keep], idle[keep:]
    for _ in range(len(items) - len(kept)):
        q.put_nowait(None)
    for conn in reversed(kept):
        q.put_nowait(conn)  # LIFO: the oldest is handed out first
    if closing:
        gone = {id(c) for c in closing}
        opened[:] = [c for c in opened if id(c) not in gone]
        for conn in closing:
            try:
                conn.disconnect()
            except Exception:
                log.debug("closing an idle Redis connection failed", exc_info=True)
    return len(closing)


def _due() -> None:
    """Trim once the closes have been quiet for SETTLE_SECONDS (else look again later)."""
    global _timer, _released
    with _lock:
        quiet = time.monotonic() - _when[0]
        if quiet < SETTLE_SECONDS:
            _timer = threading.Timer(SETTLE_SECONDS - quiet, _due)
            _timer.daemon = True
            _timer.start()
            return
        _timer, _released = None, 0
        _when[1] = time.monotonic()
    trim()


def trim() -> None:
    _run_hooks()
    sys._clear_type_cache()
    gc.collect()
    _libc_trim()


def listeners_left(count: int = 1) -> None:
    """``count`` listeners went away; trim once enough have, after the wave settles."""
    global _released, _timer
    with _lock:
        _released += count
        _when[0] = time.monotonic()
        if _released < RELEASED_ENOUGH or _timer is not None:
            return
        wait = max(SETTLE_SECONDS, MIN_GAP - (time.monotonic() - _when[1]))
        _timer = threading.Timer(wait, _due)
        _timer.daemon = True
    _timer.start()
