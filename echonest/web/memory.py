"""Give memory back to the system after many connections leave.

CPython and glibc keep freed memory for reuse: after 10,000 sockets close the process still
holds most of what they used (bench_ops "memory": 517 of 613 MiB). When the fan-out has lost
many listeners, a short while later (once the closes have settled) we collect and ask glibc to
return free heap pages (``malloc_trim``). Debounced: at most once per MIN_GAP seconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import time

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0     # wait for a wave of closes to finish before trimming
MIN_GAP = 10.0
RELEASED_ENOUGH = 500    # listeners gone since the last trim before it is worth it

_lock = threading.Lock()
_released = 0
_last_release = 0.0
_last_trim = 0.0
_timer: threading.Timer | None = None


def _libc_trim() -> bool:
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).malloc_trim(0))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return False


def _due() -> None:
    """Trim once the closes have been quiet for SETTLE_SECONDS (else look again later)."""
    global _timer, _last_trim, _released
    with _lock:
        quiet = time.monotonic() - _last_release
        if quiet < SETTLE_SECONDS:
            _timer = threading.Timer(SETTLE_SECONDS - quiet, _due)
            _timer.daemon = True
            _timer.start()
            return
        _timer, _released, _last_trim = None, 0, time.monotonic()
    trim()


def trim() -> None:
    gc.collect()
    _libc_trim()


def listeners_left(count: int = 1) -> None:
    """``count`` listeners went away; trim once enough have, after the wave settles."""
    global _released, _last_release, _timer
    with _lock:
        _released += count
        _last_release = time.monotonic()
        if _released < RELEASED_ENOUGH or _timer is not None:
            return
        wait = max(SETTLE_SECONDS, MIN_GAP - (time.monotonic() - _last_trim))
        _timer = threading.Timer(wait, _due)
        _timer.daemon = True
    _timer.start()
