"""RFC 6455 framing for the server side of an established WebSocket (no extensions).

Why our own codec instead of wsproto: an idle socket must cost a few hundred bytes, not a
protocol object tree plus a reader greenlet (issue 10, ≤ 30 KiB per idle listener), and a queue
update must be framed once per process and the same bytes written to every listener
(``wire``), not re-encoded per socket. The parser is strict because clients are hostile: it
refuses unmasked frames, reserved bits and opcodes (1002), control frames that are fragmented
or longer than 125 bytes (1002), data beyond ``max_message`` (1009, before buffering it),
invalid UTF-8 in text or close reasons (1007) and close codes a peer may not send (1002).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections import OrderedDict

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA = (CONTINUATION, TEXT, BINARY)
_CONTROL = (CLOSE, PING, PONG)
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTOCOL_ERROR, UNSUPPORTED_DATA, NO_STATUS = 1002, 1003, 1005
INVALID_DATA, TOO_BIG = 1007, 1009
WIRE_CACHE_SIZE = 64


class ProtocolError(Exception):
    """The peer broke the protocol: close with ``code``."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_key(client_key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    digest = hashlib.sha1((client_key + GUID).encode("ascii")).digest()  # noqa: S324 - RFC 6455
    return base64.b64encode(digest).decode("ascii")


def valid_client_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (ValueError, UnicodeEncodeError):
        return False


def encode(opcode: int, payload: bytes) -> bytes:
    """One unmasked, unfragmented server frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def text(message: str) -> bytes:
    return encode(TEXT, message.encode("utf-8"))


def close_frame(code: int, reason: str = "") -> bytes:
    return encode(CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:123])


_wire: OrderedDict[str, bytes] = OrderedDict()


def wire(frame: str) -> bytes:
    """The text frame for a fan-out frame, built once however many sockets send it.

    Keyed by the string itself: every listener holds the same ``str`` object, whose hash is
    cached and whose lookup hits on identity, so a hit costs O(1) even for a 100 KB queue.
    """
    cached = _wire.get(frame)
    if cached is None:
        cached = _wire[frame] = text(frame)
        if len(_wire) > WIRE_CACHE_SIZE:
            _wire.popitem(last=False)
    else:
        _wire.move_to_end(frame)
    return cached


def _unmask(payload: bytes, mask: bytes) -> bytes:
    size = len(payload)
    if not size:
        return b""
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        size, "little")


def _valid_close_code(code: int) -> bool:
    return 1000 <= code <= 1014 and code not in (1004, 1005, 1006) or 3000 <= code <= 4999


class FrameParser:
    """Turns received bytes into messages: ``feed`` returns a list of (opcode, payload) with
    TEXT payloads as ``str``, BINARY/PING/PONG as bytes and CLOSE as (code, reason)."""

    __slots__ = ("max_message", "_buf", "_opcode", "_parts", "_size")

    def __init__(self, max_message: int):
        self.max_message = max_message
        self._buf = bytearray()
        self._opcode: int | None = None  # of the fragmented message being assembled
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[tuple[int, object]]:
        buf = self._buf
        buf += data
        out: list[tuple[int, object]] = []
        pos = 0
        while True:
            frame = self._frame(buf, pos)
            if frame is None:
                break
            pos, fin, opcode, payload = frame
            message = self._message(fin, opcode, payload)
            if message is not None:
                out.append(message)
                if message[0] == CLOSE:
                    pos = len(buf)  # nothing after a close frame counts
                    break
        del buf[:pos]
        return out

    def _frame(self, buf: bytearray, pos: int):
        if len(buf) - pos < 2:
            return None
        first, second = buf[pos], buf[pos + 1]
        fin, opcode = bool(first & 0x80), first & 0x0F
        if first & 0x70:
            raise ProtocolError(PROTOCOL_ERROR, "reserved bits set")
        if opcode not in _DATA and opcode not in _CONTROL:
            raise ProtocolError(PROTOCOL_ERROR, "unknown opcode")
        if not second & 0x80:
            raise ProtocolError(PROTOCOL_ERROR, "client frames must be masked")
        size, head = second & 0x7F, 2
        if opcode in _CONTROL and (size > 125 or not fin):
            raise ProtocolError(PROTOCOL_ERROR, "bad control frame")
        if size == 126:
            if len(buf) - pos < 4:
                return None
            size, head = struct.unpack_from("!H", buf, pos + 2)[0], 4
        elif size == 127:
            if len(buf) - pos < 10:
                return None
            size, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            if size >> 63:
                raise ProtocolError(PROTOCOL_ERROR, "bad length")
        if opcode in _DATA and self._size + size > self.max_message:
            raise ProtocolError(TOO_BIG, "message too big")
        end = pos + head + 4 + size
        if len(buf) < end:
            return None
        mask = bytes(buf[pos + head:pos + head + 4])
        return end, fin, opcode, _unmask(bytes(buf[pos + head + 4:end]), mask)

    def _message(self, fin: bool, opcode: int, payload: bytes):
        if opcode == CLOSE:
            return CLOSE, _close_payload(payload)
        if opcode in (PING, PONG):
            return opcode, payload
        if opcode == CONTINUATION:
            if self._opcode is None:
                raise ProtocolError(PROTOCOL_ERROR, "continuation without a message")
        elif self._opcode is not None:
            raise ProtocolError(PROTOCOL_ERROR, "new message inside a fragmented one")
        else:
            self._opcode = opcode
        self._parts.append(payload)
        self._size += len(payload)
        if not fin:
            return None
        opcode, data = self._opcode, b"".join(self._parts)
        self._opcode, self._parts, self._size = None, [], 0
        if opcode == TEXT:
            try:
                return TEXT, data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(INVALID_DATA, "text is not UTF-8") from None
        return BINARY, data


def _close_payload(payload: bytes) -> tuple[int, str]:
    if not payload:
        return NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolError(PROTOCOL_ERROR, "close payload of one byte")
    code = struct.unpack_from("!H", payload)[0]
    if not _valid_close_code(code):
        raise ProtocolError(PROTOCOL_ERROR, "close code not allowed")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(INVALID_DATA, "close reason is not UTF-8") from None
