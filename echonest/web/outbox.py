"""A connection's outbox: what the fan-out has for one WebSocket/SSE listener and not yet sent.

The fan-out only ever does non-blocking puts; the connection takes frames when its socket can
take them (echonest.web.ws_conn) or its SSE generator asks (echonest.web.sse).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from echonest.web.frames import KINDS

CLOSE = object()             # outbox sentinel: the connection must end (nest deleted, overflow)
OUTBOX_SIZE = 256            # frames a slow client may lag behind before it is cut off


class Listener:
    """One local connection's outbox. The fan-out only ever does non-blocking puts into it.

    Queue updates coalesce: each carries the whole queue, so a newer one replaces one still
    waiting (a slow phone gets the latest state, not a backlog of stale queues and then an
    overflow close). Other events keep their order and count against ``maxsize``.
    """

    __slots__ = ("nest_id", "user", "kind", "maxsize", "overflowed", "ended", "reason",
                 "on_ready", "patches", "queue_version", "_frames", "_queued", "_dead", "_lock",
                 "_cond")

    def __init__(self, nest_id: str, kind: str, maxsize: int = OUTBOX_SIZE, user: str = "",
                 patches: bool = False):
        if kind not in KINDS:
            raise ValueError(f"unknown listener kind {kind!r}")
        self.nest_id = nest_id
        self.user = user  # whose connection: a host kicking them closes it
        self.kind = kind
        self.maxsize = maxsize
        self.overflowed = False
        self.ended = False
        self.reason = ""
        # Called after a frame (or CLOSE) lands in the outbox: a WebSocket writes it then, so
        # an idle listener holds no sending greenlet (and no stack) at all.
        self.on_ready: Callable[[], None] | None = None
        # Patches (echonest.queue_patch) need to know which body the client holds: the version
        # of the last queue frame put in line here (None: not known, the next one is whole).
        self.patches = patches
        self.queue_version: int | None = None
        # Cells [frame]; a replaced queue cell holds None. A list, not a deque: it rarely holds
        # more than a frame or two, and an empty deque keeps a ~600-byte block per listener.
        self._frames: list[list] = []
        self._queued: list | None = None      # the cell of the queue update still waiting
        self._dead = 0
        self._lock = threading.Lock()
        # Made on the first blocking wait (SSE): a WebSocket's writer never waits, and a
        # Condition is ~6 objects per idle listener.
        self._cond: threading.Condition | None = None

    def deliver_queue(self, frames: Any) -> None:
        """One queue update (frames.QueueFrames): its patch when this listener takes patches,
        holds exactly the patch's base and has no queue frame still waiting (a waiting one may
        yet be replaced, and a patch cannot replace anything); else the whole body."""
        if self.ended:
            return
        base = self.queue_version if self.patches and self._queued is None else None
        frame = frames.patch(base) if base is not None else None
        self.deliver(frame if frame is not None else frames.frame(self.kind), True,
                     frames.version)

    def deliver(self, frame: Any, coalesce: bool = False, version: int | None = None) -> None:
        """Queue ``frame``; ``coalesce`` marks a queue update that may replace a waiting one
        (``version``: the body it shows, if known)."""
        if self.ended:
            return
        with self._lock:
            if coalesce:
                self.queue_version = version
            waiting = self._queued
            replaced = overflow = False
            if coalesce and waiting is not None:
                if self._frames and self._frames[-1] is waiting:
                    waiting[0] = frame  # still last in line: replace in place
                    replaced = True
                else:
                    waiting[0] = None  # newer events follow it: drop it, queue the new one last
                    self._dead += 1
            if replaced:
                pass
            elif len(self._frames) - self._dead >= self.maxsize:
                overflow = True
            else:
                cell = [frame]
                self._frames.append(cell)
                if coalesce:
                    self._queued = cell
                if self._cond is not None:
                    self._cond.notify()
        # Outside the lock: the WebSocket's writer takes the frame at once, from the same
        # greenlet, and the lock is not re-entrant.
        if overflow:
            # A client this far behind would render stale state anyway; cut it off so it
            # reconnects and refetches, instead of buffering without bound.
            self.overflowed = True
            self.end("overflow")
            return
        self._ready()

    def _ready(self) -> None:
        if self.on_ready is not None:
            self.on_ready()

    def end(self, reason: str = "closed") -> None:
        """Make the connection's sender finish after the frames already queued."""
        if self.ended:
            return
        self.ended = True
        self.reason = reason
        with self._lock:
            if reason == "overflow":
                # Nothing queued is worth sending to a client that will refetch anyway.
                self._frames.clear()
                self._queued, self._dead = None, 0
            self._frames.append([CLOSE])
            if self._cond is not None:
                self._cond.notify_all()
        self._ready()

    def next_frame(self, timeout: float | None = None) -> Any:
        """The next frame, CLOSE, or None when ``timeout`` passed with nothing to send.

        ``timeout=0`` is how a WebSocket's writer asks, from an event-loop callback where
        waiting is impossible (gevent raises BlockingSwitchOutError): if someone else holds the
        lock this returns None at once — whoever holds it is queueing a frame and wakes the
        writer (``on_ready``) right after letting go.
        """
        if timeout is not None and timeout <= 0:
            if not self._lock.acquire(blocking=False):
                return None
            try:
                return self._pop()
            finally:
                self._lock.release()
        with self._lock:
            if self._cond is None:
                self._cond = threading.Condition(self._lock)
            while True:
                frame = self._pop()
                if frame is not None:
                    return frame
                if timeout is not None and timeout <= 0:
                    return None
                if not self._cond.wait(timeout):
                    timeout = 0

    def _pop(self) -> Any:
        """The first live frame, or None; the caller holds the lock."""
        while self._frames:
            cell = self._frames.pop(0)
            if cell is self._queued:
                self._queued = None
            if cell[0] is None:
                self._dead -= 1
                continue
            return cell[0]
        return None
