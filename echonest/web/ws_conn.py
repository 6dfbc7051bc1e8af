"""An established WebSocket driven by gevent's event loop: no greenlet while it is idle.

After the handshake the WSGI handler's greenlet returns (its socket detached, see
echonest.web.connections) and the connection is a few objects: the socket, an io watcher for
"readable", a heartbeat timer, the session and its listener. Frames from the fan-out are
written straight from the fan-out's greenlet with non-blocking sends (``_pump``); what the
kernel does not take waits as one partly written frame plus the listener's outbox, where newer
queue updates replace older ones (fanout.Listener), so a slow client never blocks the fan-out
and never grows a backlog of stale queues. A short-lived greenlet runs only when a client
frame needs an answer (Redis I/O) or a heartbeat is due.

Everything here runs in gevent's hub or in greenlets of one thread: callbacks never block.
"""

from __future__ import annotations

import _socket  # the C socket: gevent's patched one would add two idle watchers per socket
import errno
import logging
import socket
import time
from collections import deque
from typing import Any

import gevent
from gevent import get_hub

from echonest.web import memory, ws_frames
from echonest.web.outbox import CLOSE

log = logging.getLogger(__name__)

RECV_BYTES = 65536
MAX_MESSAGE = 64 * 1024
YIELD_EVERY = 4
INBOX_LIMIT = 32          # unanswered client frames before we stop reading (backpressure)
# For the peer's close frame after ours. Meanwhile we read and drop what it still sends: a
# socket closed with unread input answers with a reset, and a reset makes the peer's kernel
# drop what it has not read yet -- our close frame among it (a busy client, many acks queued).
# Once our close frame is out we half-close (FIN after it), so the peer sees the end even if
# it never answers the close frame.
CLOSE_WAIT_SECONDS = 30.0
STUCK_CLOSE_SECONDS = 5.0  # a peer that reads nothing is dropped this long after we end it
DRAIN_BYTES = 1 << 20
_READ, _WRITE = 1, 2

# Close codes and reasons (same table as stream.CLOSE_CODES; imported there).
CLOSE_CODES = {
    "nest_deleted": (4404, "nest deleted"),
    "nest_gone": (4404, "nest not found"),
    "kicked": (4403, "removed from this nest by a host"),
    "signed_out": (4401, "signed out"),
    "overflow": (1013, "client too slow; reconnect and refetch"),
    "shutdown": (1001, "server going away"),
    "closed": (1000, "bye"),
}

OPEN: set[Connection] = set()  # every live connection of this process (shutdown waits on it)


def _release_memory() -> None:
    """After a wave of leaves (echonest.web.memory): OPEN goes back to a table sized for who is
    still here (a set never shrinks on its own), and the wire-frame cache, whose frames (each
    joiner's own now_playing among them) were made mid-wave, starts over."""
    memory.rebuild(OPEN)
    ws_frames._wire.clear()


memory.on_trim(_release_memory)


class Connection:
    """One socket after the upgrade. ``start`` registers it with the loop."""

    __slots__ = ("sock", "session", "listener", "app", "release", "_reader", "_writer",
                 "_beat", "_deadline", "_parser", "_pending", "_control", "_inbox", "_worker",
                 "_close_sent", "_close_received", "_done", "_paused", "_written", "_half_closed",
                 "_checked", "__weakref__")

    def __init__(self, fd: int, session: Any, app: Any, release: Any = None):
        self.sock = _socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self.session = session
        self.listener = session.listener
        self.app = app
        self.release = release
        self._reader = self._writer = self._beat = self._deadline = None
        self._parser: ws_frames.FrameParser | None = None
        self._pending: memoryview | None = None  # the rest of a frame the kernel did not take
        self._control: deque | None = None       # our pongs, acks and close, ahead of fan-out
        self._inbox: deque | None = None
        self._worker = None
        self._close_sent = self._close_received = self._done = self._paused = False
        self._half_closed = False
        self._written = self._checked = 0  # bytes sent; as of the last deadline check

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, heartbeat_seconds: float) -> None:
        loop = get_hub().loop
        OPEN.add(self)
        self._reader = loop.io(self.sock.fileno(), _READ)
        self._reader.start(self._on_readable)
        self._beat = loop.timer(heartbeat_seconds, heartbeat_seconds)
        self._beat.start(self._on_beat)
        self.listener.on_ready = self._pump
        self._pump()  # the first frames were queued before the upgrade

    def _finish(self) -> None:
        """Drop the socket and leave the nest; idempotent."""
        if self._done:
            return
        self._done = True
        for watcher in (self._reader, self._writer, self._beat, self._deadline):
            if watcher is not None:
                watcher.stop()
                watcher.close()
        self._reader = self._writer = self._beat = self._deadline = None
        self.listener.on_ready = None
        self._pending = self._control = self._inbox = self._parser = None
        _drain(self.sock)
        try:
            self.sock.close()
        except OSError:
            pass
        _LEAVING.append(self)
        global _leavers
        if _leavers < LEAVE_WORKERS:
            _leavers += 1
            gevent.spawn(_leave_all)

    def _leave(self) -> None:
        try:
            self.session.abandon()
        except Exception:
            log.exception("leaving nest %s failed", self.session.nest_id)
        finally:
            if self.release is not None:
                self.release()
            OPEN.discard(self)

    def close(self, reason: str) -> None:
        """Send our close frame (after what is already being written), then hang up."""
        if self._close_sent or self._done:
            return
        code, message = CLOSE_CODES.get(reason, CLOSE_CODES["closed"])
        self._send_control(ws_frames.close_frame(code, message))
        self._close_sent = True
        self._arm_deadline(CLOSE_WAIT_SECONDS if self._pending is None else STUCK_CLOSE_SECONDS)
        self._pump()

    def _arm_deadline(self, seconds: float) -> None:
        """Hang up ``seconds`` from now unless the peer is still reading what we send (a slow
        phone with a backlog keeps its close frame coming; one that reads nothing goes)."""
        if self._deadline is None and not self._done:
            self._checked = self._written
            self._deadline = get_hub().loop.timer(seconds, seconds)
            self._deadline.start(self._on_deadline)

    def _on_deadline(self) -> None:
        if self._pending is not None and self._written > self._checked:
            self._checked = self._written
            return  # progress: look again one period later
        self._finish()

    # --- writing ------------------------------------------------------------------------------
    def _send_control(self, frame: bytes) -> None:
        if self._control is None:
            self._control = deque()
        self._control.append(frame)

    def _next_bytes(self) -> bytes | None:
        if self._control:
            return self._control.popleft()
        if self._close_sent:
            return None
        frame = self.listener.next_frame(timeout=0)
        if frame is None:
            return None
        if frame is CLOSE:
            code, message = CLOSE_CODES.get(self.listener.reason or "closed",
                                            CLOSE_CODES["closed"])
            self._close_sent = True
            self._arm_deadline(CLOSE_WAIT_SECONDS)
            return ws_frames.close_frame(code, message)
        return ws_frames.wire(frame)

    def _pump(self) -> None:
        """Write as much as the kernel takes now; never blocks, never switches greenlets."""
        if self._done:
            return
        if self.listener.ended and not self._close_sent:
            self._arm_deadline(STUCK_CLOSE_SECONDS)  # a peer that never reads still goes
        while True:
            if self._pending is None:
                data = self._next_bytes()
                if data is None:
                    break
                self._pending = memoryview(data)
            try:
                sent = self.sock.send(self._pending)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._finish()
                return
            self._written += sent
            if sent < len(self._pending):
                self._pending = self._pending[sent:]
                if self._writer is None:
                    self._writer = get_hub().loop.io(self.sock.fileno(), _WRITE)
                self._writer.start(self._pump)
                return
            self._pending = None
        if self._writer is not None:
            self._writer.stop()
        if self._close_sent and self._close_received:
            self._finish()  # both close frames exchanged: hang up now
        elif self._close_sent and not self._half_closed and not self._control:
            self._half_closed = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._finish()

    # --- reading ------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT):
                log.info("WebSocket read failed: %s", exc)
            data = b""
        if not data:
            self._finish()  # the peer hung up
            return
        if self._parser is None:
            self._parser = ws_frames.FrameParser(MAX_MESSAGE)
        try:
            messages = self._parser.feed(data)
        except ws_frames.ProtocolError as exc:
            self._parser = None
            self._fail(exc.code, exc.reason)
            return
        if not self._parser._buf:
            self._parser = None  # nothing half-received: an idle socket holds no buffer
        for opcode, payload in messages:
            self._on_message(opcode, payload)

    def _on_message(self, opcode: int, payload: Any) -> None:
        if opcode == ws_frames.CLOSE:
            self._close_received = True
            if not self._close_sent:
                code = payload[0] if payload[0] != ws_frames.NO_STATUS else 1000
                self._send_control(ws_frames.close_frame(code))
                self._close_sent = True
            self._pump()
            return
        if opcode == ws_frames.PING:
            self._send_control(ws_frames.encode(ws_frames.PONG, payload))
            self._pump()
            return
        if opcode == ws_frames.PONG or self._close_sent or self.listener.ended:
            return  # nothing more is answered on a connection that is ending
        if self._inbox is None:
            self._inbox = deque()
        self._inbox.append(payload)
        if len(self._inbox) >= INBOX_LIMIT and self._reader is not None:
            self._reader.stop()
            self._paused = True
        if self._worker is None:
            self._worker = gevent.spawn(self._work)

    def _fail(self, code: int, reason: str) -> None:
        log.info("closing a WebSocket: %s", reason)
        if not self._close_sent:
            self._send_control(ws_frames.close_frame(code, reason))
            self._close_sent = True
        self._close_received = True  # read nothing more from a peer that broke the protocol
        if self._reader is not None:
            self._reader.stop()
        self._arm_deadline(CLOSE_WAIT_SECONDS)
        self._pump()

    def _work(self) -> None:
        """Answer the client's frames in order (actions touch Redis), then end."""
        try:
            with self.app.app_context():
                answered = 0
                while self._inbox and not self._done and not self.listener.ended:
                    raw = self._inbox.popleft()
                    reply = self.session.answer(raw)
                    answered += 1
                    if answered % YIELD_EVERY == 0:
                        gevent.sleep(0)  # a chatty client must not starve everyone else
                    if self._done or self._close_sent:
                        break
                    self._send_control(ws_frames.text(reply))
                    self._pump()
                    while self._control and len(self._control) >= INBOX_LIMIT and not self._done:
                        gevent.sleep(0.02)  # a client that sends but never reads: wait for it
        finally:
            self._worker = None
            if self._paused and not self._done and self._reader is not None:
                self._paused = False
                self._reader.start(self._on_readable)

    # --- heartbeat ----------------------------------------------------------------------------
    def _on_beat(self) -> None:
        if self._done or self._close_sent:
            return
        # A ping keeps NATs from forgetting an idle socket and surfaces a dead peer.
        self._send_control(ws_frames.encode(ws_frames.PING, b""))
        self._pump()
        if self._control is not None and not self._control:
            self._control = None  # an idle socket holds no empty deque (~760 B) between beats
        gevent.spawn(self.session._heartbeat)


# Closed connections leave their nest (two Redis writes) through a few greenlets, not one each:
# 10,000 phones dropping at once used to mean 10,000 greenlets queueing for the Redis pool
# (+100 MiB, and hundreds of pool connections kept afterwards).
LEAVE_WORKERS = 8
_LEAVING: deque[Connection] = deque()
_leavers = 0


def _leave_all() -> None:
    global _leavers
    try:
        while _LEAVING:
            _LEAVING.popleft()._leave()
    finally:
        _leavers -= 1


def _drain(sock: _socket.socket) -> None:
    """Read what the peer sent and we never will (bounded), so closing sends FIN, not RST."""
    drained = 0
    try:
        while drained < DRAIN_BYTES:
            chunk = sock.recv(RECV_BYTES)
            if not chunk:
                return
            drained += len(chunk)
    except OSError:
        return


def wait_closed(seconds: float) -> None:
    """Give open connections up to ``seconds`` to finish (server stopping)."""
    deadline = time.monotonic() + seconds
    while OPEN and time.monotonic() < deadline:
        gevent.sleep(0.05)
