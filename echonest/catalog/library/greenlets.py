"""cooperate(): give other greenlets a turn in a gevent web process; a no-op elsewhere."""

from __future__ import annotations

from collections.abc import Callable

_yield: list = []  # [gevent.sleep or None], decided on first use (after monkey-patching)


def _gevent_sleep() -> Callable[[float], None] | None:
    try:
        from gevent import monkey, sleep
    except ImportError:
        return None
    return sleep if monkey.is_module_patched("time") else None


def cooperate() -> None:
    """Long loops (scanning files, sending a song, parsing the index) call this between steps
    so the WebSocket fan-out keeps running. Outside gevent it does nothing: a real thread's
    sleep(0) would give the core away for milliseconds on a busy machine."""
    if not _yield:
        _yield.append(_gevent_sleep())
    if _yield[0] is not None:
        _yield[0](0)
