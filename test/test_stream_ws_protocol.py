"""The WebSocket framing of established connections (echonest.web.ws_frames / ws_conn) against a
real server process: hostile frames get the right close code and never an answered action;
pings, fragmentation, a client's close and a slow reader behave as RFC 6455 says."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

import pytest
from servers import WAIT, Guest, web_server


@pytest.fixture(scope="module")
def server(redis_url):
    with web_server(redis_url) as srv:
        yield srv


@pytest.fixture(scope="module")
def guest(server):
    return Guest(server.url, "Framer")


def frame(opcode, payload=b"", *, fin=True, mask=True, rsv=0, length=None):
    """A client frame, masked unless told otherwise; ``length`` lies about the size."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    if size < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, size)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Raw:
    """A WebSocket spoken by hand: handshake, send raw bytes, read server frames."""

    def __init__(self, server, cookie, path="/socket", mss=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        if mss:  # segment size as on a real network (loopback's is 64 KB)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        self.sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def next_frame(self):
        first, second = self._read(2)
        assert not second & 0x80, "server frames are never masked"
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read(8))[0]
        return first & 0x0F, self._read(size)

    def events(self):
        """Text frames as JSON until the close frame; returns (events, close code)."""
        seen = []
        while True:
            opcode, payload = self.next_frame()
            if opcode == 0x8:
                return seen, struct.unpack("!H", payload[:2])[0] if payload else None
            if opcode == 0x1:
                seen.append(json.loads(payload))

    def initial(self):
        return [json.loads(self.next_frame()[1]) for _ in range(2)]

    def send(self, data):
        self.sock.sendall(data)

    def eof_after_close(self):
        """After the close frames, the server hangs up (reads give EOF)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def _ack(raw, ref):
    while True:
        opcode, payload = raw.next_frame()
        assert opcode == 0x1
        message = json.loads(payload)
        if message.get("event") in ("ack", "error") and message.get("ref") == ref:
            return message


@pytest.mark.parametrize(("name", "data", "code"), [
    ("unmasked client frame", frame(0x1, b'{"action":"time"}', mask=False), 1002),
    ("reserved bit set", frame(0x1, b"{}", rsv=0x40), 1002),
    ("unknown opcode", frame(0x3, b"x"), 1002),
    ("control opcode 0xB", frame(0xB, b""), 1002),
    ("ping longer than 125 bytes", frame(0x9, b"p" * 126), 1002),
    ("fragmented ping", frame(0x9, b"p", fin=False), 1002),
    ("continuation with nothing to continue", frame(0x0, b"x"), 1002),
    ("new message inside a fragmented one", frame(0x1, b"{", fin=False) + frame(0x1, b"}"),
     1002),
    ("invalid UTF-8 text", frame(0x1, b'{"a":"\xc3\x28"}'), 1007),
    ("invalid UTF-8 split over fragments", frame(0x1, b'"\xe2\x82', fin=False)
     + frame(0x0, b'\x28"'), 1007),
    ("message over 64 KiB", frame(0x1, b" " * (64 * 1024 + 1)), 1009),
    ("huge declared length, nothing sent", frame(0x1, b"", length=1 << 40), 1009),
    ("negative 64-bit length", struct.pack("!BBQ", 0x81, 0xFF, 1 << 63) + os.urandom(4), 1002),
    ("fragments adding up to over 64 KiB", frame(0x1, b" " * 40000, fin=False)
     + frame(0x0, b" " * 40000), 1009),
    ("close with a one-byte payload", frame(0x8, b"\x03"), 1002),
    ("close with code 1005", frame(0x8, struct.pack("!H", 1005)), 1002),
    ("close with code 999", frame(0x8, struct.pack("!H", 999)), 1002),
    ("close with code 5000", frame(0x8, struct.pack("!H", 5000)), 1002),
    ("close reason not UTF-8", frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),
])
def test_hostile_frames_get_the_protocol_close_code_and_no_answer(server, guest, name, data,
                                                                 code):
    raw = Raw(server, guest.cookie)
    assert raw.status == 101
    raw.initial()
    raw.send(data)
    seen, closed_with = raw.events()
    assert closed_with == code, name
    assert not [e for e in seen if e.get("event") in ("ack", "error")], name
    assert raw.eof_after_close()


def test_fragmented_text_pings_between_fragments_and_binary_frames(server, guest):
    raw = Raw(server, guest.cookie)
    raw.initial()
    raw.send(frame(0x1, b'{"action": "ti', fin=False) + frame(0x9, b"are you there")
             + frame(0x0, b'me", "ref": ', fin=False) + frame(0x0, b'"frag"}'))
    opcode, payload = raw.next_frame()
    while opcode == 0x1:  # live events (a member joining) may come first
        opcode, payload = raw.next_frame()
    assert (opcode, payload) == (0xA, b"are you there")  # the pong, even mid-message
    ack = _ack(raw, "frag")
    assert ack["event"] == "ack" and ack["data"]["t"] > 0
    raw.send(frame(0x2, b'{"action": "time", "ref": "bin"}'))
    error = _ack(raw, None)
    assert error["event"] == "error" and error["data"]["error"] == "invalid_request"
    raw.send(frame(0x1, "é".encode() * 1000))  # valid UTF-8, not JSON: an error, not a close
    assert _ack(raw, None)["data"]["error"] == "invalid_request"


def test_a_client_close_is_answered_at_once_with_its_code(server, guest):
    raw = Raw(server, guest.cookie)
    raw.initial()
    started = time.monotonic()
    raw.send(frame(0x8, struct.pack("!H", 4001) + b"leaving"))
    opcode, payload = raw.next_frame()
    while opcode == 0x1:  # live events sent before our close arrived
        opcode, payload = raw.next_frame()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 4001
    assert raw.eof_after_close()
    assert time.monotonic() - started < WAIT
    empty = Raw(server, guest.cookie)
    empty.initial()
    empty.send(frame(0x8, b""))  # no status code: answered with 1000
    assert empty.events()[1] == 1000


def test_a_bad_upgrade_request_is_refused_with_json(server, guest):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    sock.sendall(("GET /socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: short\r\n"
                  f"Sec-WebSocket-Version: 13\r\nCookie: {guest.cookie}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")
    sock.close()


def test_a_slow_reader_gets_the_newest_queue_not_an_overflow_close(server, guest):
    """Queue updates pile up behind a phone that reads nothing for a while (more than the
    kernel buffers and the 256-frame outbox hold): the newest one replaces the waiting ones,
    so it ends up with the final queue and stays connected (it used to get 1013 "overflow")."""
    from servers import offline_track_uris

    # A phone on bad Wi-Fi: Wi-Fi's segment size and a tiny receive buffer. (With loopback's
    # 64 KB segments a 4 KB window is below one segment, and TCP then crawls in zero-window
    # probes with exponential backoff — a stall of the test's own making, whatever the server.)
    raw = Raw(server, guest.cookie, mss=1460)
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.initial()
    adder = Guest(server.url, "Adder")
    ids = [adder.http.post(f"{server.url}/api/nests/main/songs", json={"track_uri": uri},
                           timeout=WAIT).json()["id"] for uri in offline_track_uris(30)]
    first = adder.http.get(f"{server.url}/api/nests/main/queue", timeout=WAIT).json()["version"]
    voter = Guest(server.url, "Voter")  # nobody votes on their own song
    for n in range(400):  # every vote is a new version of a ~10 KB queue: ~4 MB unread
        assert voter.http.post(f"{server.url}/api/nests/main/vote",
                               json={"id": ids[n % len(ids)], "up": n // len(ids) % 2 == 0},
                               timeout=WAIT).status_code == 200
    final = adder.http.get(f"{server.url}/api/nests/main/queue", timeout=WAIT).json()["version"]
    assert final - first >= 400
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # the phone reads again
    deadline = time.monotonic() + 3 * WAIT
    updates = 0
    while time.monotonic() < deadline:
        opcode, payload = raw.next_frame()
        assert opcode != 0x8, f"closed: {payload!r}"
        message = json.loads(payload) if opcode == 0x1 else {}
        if message.get("event") == "queue_update":
            updates += 1
            if message["data"]["version"] >= final:
                break
    else:
        pytest.fail("the final queue never arrived")
    assert updates < final - first  # stale queues were replaced, not all sent


def test_waiting_queue_updates_coalesce_and_other_events_keep_their_order():
    from echonest.web.fanout import CLOSE, WS, Listener

    listener = Listener("main", WS, maxsize=4)
    listener.deliver("queue 1", True)
    listener.deliver("queue 2", True)  # replaces queue 1 in place: it is still last in line
    listener.deliver("volume 1")
    listener.deliver("queue 3", True)  # queue 2 is dropped; the newest goes after volume 1
    listener.deliver("volume 2")
    for n in range(100):  # a pile of queue updates never overflows: one waits at a time
        listener.deliver(f"queue {4 + n}", True)
    assert not listener.overflowed
    assert [listener.next_frame(timeout=0) for _ in range(4)] == [
        "volume 1", "volume 2", "queue 103", None]
    for n in range(5):  # other events still count: a client this far behind is cut off
        listener.deliver(f"airhorn {n}")
    assert listener.overflowed and listener.next_frame(timeout=0) is CLOSE
