"""How often one web process reads one nest's queue while a burst of changes comes in.

Each queue read is O(queue) (one script call, every item parsed), and under a burst — 32
phones voting as fast as they can — a process that read once per change would spend most of its
time re-reading a queue that changed again a millisecond later. The pacer lets the first change
of a quiet nest through at once and holds the rest for at most ``gap`` seconds, keeping only the
newest: one read then shows every change held (listeners see each change within ``gap``, and
never an older queue after a newer one).
"""

from __future__ import annotations

import time
from collections.abc import Callable

QUEUE_READ_GAP = 0.005  # seconds between two queue reads of one nest in one process, at most


class QueuePacer:
    def __init__(self, gap: float = QUEUE_READ_GAP, clock: Callable[[], float] = time.monotonic):
        self.gap = gap
        self._clock = clock
        self._next: dict[str, float] = {}     # nest -> when its next read may happen
        self._held: dict[str, dict] = {}      # nest -> the newest queue_update envelope held

    def admit(self, env: dict) -> bool:
        """True: read now. False: held (the newest of its nest's held envelopes is kept)."""
        nest_id, now = env["nest"], self._clock()
        if now >= self._next.get(nest_id, 0.0):
            self._next[nest_id] = now + self.gap
            self._held.pop(nest_id, None)
            return True
        held = self._held.get(nest_id)
        if held is None or env["v"] > held["v"]:
            self._held[nest_id] = env
        return False

    def take(self, nest_id: str) -> dict | None:
        """The nest's held envelope, to go out now (before another event of that nest, so the
        client sees versions in order)."""
        env = self._held.pop(nest_id, None)
        if env is not None:
            self._next[nest_id] = self._clock() + self.gap
        return env

    def due(self) -> list[dict]:
        """Held envelopes whose turn has come."""
        now = self._clock()
        ready = [nest_id for nest_id in self._held if now >= self._next.get(nest_id, 0.0)]
        return [env for env in (self.take(nest_id) for nest_id in ready) if env is not None]

    def wait(self, longest: float) -> float:
        """How long the reader may block before something held is due."""
        if not self._held:
            return longest
        now = self._clock()
        soonest = min(self._next.get(nest_id, 0.0) for nest_id in self._held)
        return max(0.0, min(longest, soonest - now))

    def forget(self, nest_id: str) -> None:
        self._next.pop(nest_id, None)
        self._held.pop(nest_id, None)
