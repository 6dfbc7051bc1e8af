"""A listener's outbox wakes its WebSocket writer without ever making it wait on the lock.

The writer runs in gevent's event loop (a socket became writable) or right inside the fan-out's
``deliver`` call; found by the slow-reader test under load: a coalesced queue update woke the
writer while the outbox lock was still held, the writer blocked on it, and the process's whole
fan-out stopped (gevent: BlockingSwitchOutError in the loop, the fan-out greenlet deadlocked).
"""

from __future__ import annotations

import threading

from echonest.web.frames import WS
from echonest.web.outbox import Listener


def _within(seconds, fn):
    done, result = threading.Event(), []

    def run():
        result.append(fn())
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(seconds), "the call blocked on the outbox lock"
    return result[0]


def test_a_coalesced_queue_update_wakes_the_writer_outside_the_lock():
    listener = Listener("nest", WS)
    listener.deliver("queue v1", coalesce=True)  # waiting: the socket could not take it yet
    taken = []
    listener.on_ready = lambda: taken.append(listener.next_frame(timeout=0))
    _within(5, lambda: listener.deliver("queue v2", coalesce=True))
    assert taken == ["queue v2"]  # the newest queue, and the older one never goes out


def test_the_writer_never_waits_for_a_lock_someone_else_holds():
    listener = Listener("nest", WS)
    listener.deliver("now playing")
    listener._lock.acquire()  # another greenlet is in the middle of queueing a frame
    try:
        assert _within(5, lambda: listener.next_frame(timeout=0)) is None
    finally:
        listener._lock.release()
    assert listener.next_frame(timeout=0) == "now playing"  # nothing lost: taken next time


def test_frames_keep_their_order_and_only_queue_updates_coalesce():
    listener = Listener("nest", WS)
    for frame, coalesce in (("queue v1", True), ("comment", False), ("queue v2", True),
                            ("queue v3", True)):
        listener.deliver(frame, coalesce=coalesce)
    assert [listener.next_frame(timeout=0) for _ in range(3)] == ["comment", "queue v3", None]
