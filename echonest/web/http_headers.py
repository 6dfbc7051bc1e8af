"""Request headers for the gevent server, read without the email parser when they are plain.

gevent hands every request's header block to ``http.client.parse_headers``, which runs it
through the ``email`` package's feed parser: ~17 µs of CPU for the five headers of an API call
and ~28 µs for a browser's dozen, on every request (issue 10). Nearly every block a client
sends is plain — ``Name: value`` lines, a token name, no folded or stray-CR lines — and for
those the answer is a few string splits. ``read_headers`` reads the block exactly as
``http.client`` does (same line and count limits), keeps plain blocks in ``PlainHeaders`` (the
same answers to everything gevent asks), and gives anything else to gevent's own parser, so an
unusual block is read exactly as before.
"""

from __future__ import annotations

import io
import re
from http import client
from typing import Any

from gevent.pywsgi import headers_factory

MAX_LINE = 65536     # http.client's limits, so a block is refused exactly when it was before
MAX_HEADERS = 100
_PLAIN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r?\n")


class PlainHeaders:
    """What gevent's handler reads from its headers object (``status``, ``get``, deleting,
    ``headers`` lines, ``typeheader``, ``getheader``), for a block of plain lines. Values are
    kept as the email parser keeps them: leading blanks and the line ending removed."""

    status = ""

    def __init__(self, fields: list[tuple[str, str]]):
        self._fields = fields

    def get(self, name: str, default: Any = None) -> Any:
        name = name.lower()
        for key, value in self._fields:
            if key.lower() == name:
                return value
        return default

    getheader = get

    def __delitem__(self, name: str) -> None:
        name = name.lower()
        self._fields = [(k, v) for k, v in self._fields if k.lower() != name]

    @property
    def headers(self):
        for key, value in self._fields:
            yield f"{key}: {value}\r\n"

    @property
    def typeheader(self) -> str | None:
        return self.get("content-type")


def _read_lines(fp: Any) -> list[bytes]:
    """The block's lines up to and including the blank one (``http.client._read_headers``)."""
    lines = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            return lines


def read_headers(fp: Any) -> Any:
    """The request's headers from ``fp``: ``PlainHeaders`` for a plain block, gevent's own
    parse of the same bytes for any other; a too-long line answers as gevent's does."""
    try:
        lines = _read_lines(fp)
    except client.LineTooLong:
        refused = PlainHeaders([])
        refused.status = "Line too long"  # gevent's answer: the request is refused with a 400
        return refused
    fields = []
    for line in lines[:-1]:
        if not _PLAIN.fullmatch(line):
            return headers_factory(io.BytesIO(b"".join(lines)))
        name, _, value = line.decode("iso-8859-1").partition(":")
        fields.append((name, value.lstrip(" \t").rstrip("\r\n")))
    return PlainHeaders(fields)
