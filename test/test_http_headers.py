"""Plain request headers are read without the email parser, and every block — plain or not —
reads exactly as gevent's own parser reads it (what the server then puts in the WSGI environ)."""

from __future__ import annotations

import io
from http import client

import pytest
from gevent.pywsgi import headers_factory

from echonest.web.http_headers import MAX_HEADERS, MAX_LINE, PlainHeaders, read_headers

API_CALL = (b"Host: 127.0.0.1:5140\r\nCookie: echonest_session=abc.def\r\n"
            b"Content-Type: application/json\r\nContent-Length: 40\r\n\r\n")
PLAIN = [
    API_CALL,
    b"Host: x\r\n\r\n",
    b"\r\n",                                              # no headers at all
    b"Host: x\n\n",                                       # bare LF endings
    b"Host: x\r\n",                                       # EOF instead of the blank line
    b"Cookie: a=1\r\ncookie: b=2\r\nCOOKIE: c=3\r\n\r\n",  # repeated, any case
    b"Content-Length: 5\r\ncontent-length: 6\r\n\r\n",
    b"X-Blank:\r\nX-Tab:\t  spaced  \r\nX-Colon: a:b:c\r\n\r\n",
    "X-Name: Zoë \u00ff\r\n\r\n".encode("iso-8859-1"),   # latin-1 bytes, as the wire has them
    b"Transfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n",
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: abc==\r\n\r\n",
]
ODD = [
    b"Host: x\r\n folded: continuation\r\n\r\n",          # obs-fold
    b"Host: x\r\n\tfolded\r\n\r\n",
    b"Host : x\r\n\r\n",                                  # blank before the colon
    b": no name\r\n\r\n",
    b"no colon at all\r\nHost: x\r\n\r\n",
    b"Host: x\ry: z\r\n\r\n",                             # a stray CR inside a line
    b"Bad Name: x\r\n\r\n",
    b"X-Null: a\x00b\r\nX\x7f: y\r\n\r\n",
]


def _reading(headers) -> dict:
    names = ["host", "Host", "HOST", "cookie", "content-length", "Content-Type",
             "transfer-encoding", "connection", "upgrade", "x-blank", "x-tab", "x-name",
             "missing"]
    return {"status": headers.status, "lines": list(headers.headers),
            "typeheader": headers.typeheader, "length": headers.getheader("content-length"),
            "get": {name: headers.get(name) for name in names},
            "default": headers.get("missing", "dflt")}


def _both(raw: bytes):
    return read_headers(io.BytesIO(raw)), headers_factory(io.BytesIO(raw))


@pytest.mark.parametrize("raw", PLAIN)
def test_a_plain_block_skips_the_email_parser_and_reads_the_same(raw):
    ours, stock = _both(raw)
    assert isinstance(ours, PlainHeaders)
    assert _reading(ours) == _reading(stock)
    del ours["content-length"]
    del stock["content-length"]
    del ours["not-there"]   # no KeyError, as the email Message
    del stock["not-there"]
    assert list(ours.headers) == list(stock.headers)


@pytest.mark.parametrize("raw", ODD)
def test_an_unusual_block_is_left_to_gevents_own_parser(raw):
    ours, stock = _both(raw)
    assert not isinstance(ours, PlainHeaders)
    assert _reading(ours) == _reading(stock)


def test_the_limits_are_http_clients():
    long_line = b"X-Long: " + b"a" * MAX_LINE + b"\r\n\r\n"
    ours, stock = _both(long_line)
    assert ours.status == stock.status == "Line too long"  # the server answers 400
    many = b"".join(b"X-%d: y\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    for parse in (read_headers, headers_factory):
        with pytest.raises(client.HTTPException, match="more than 100 headers"):
            parse(io.BytesIO(many))


def test_the_body_after_the_headers_is_left_unread():
    body = io.BytesIO(API_CALL + b'{"id": "x"}')
    read_headers(body)
    assert body.read() == b'{"id": "x"}'
