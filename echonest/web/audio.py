"""GET /audio/<id> (a library track's bytes, with Range) and /audio/<id>/art (its cover).

Signed-in users only (the gate in auth.py; anonymous gets 401 JSON). Files are streamed in
small blocks, so under gevent fifty downloads of one song interleave with the WebSocket
fan-out instead of holding the loop. One Range per request: a multi-range or malformed
Range header is 416 (docs/decisions.md, "Audio ranges").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import FileWrapper

from echonest.catalog.library import files
from echonest.catalog.library.greenlets import cooperate
from echonest.errors import RangeNotSatisfiable
from echonest.web import context
from echonest.web.errors import error_response

bp = Blueprint("audio", __name__)
CHUNK = 64 * 1024


class YieldingFileWrapper(FileWrapper):
    """The file in bounded blocks, giving other greenlets a turn after each one.

    On a fast client the socket never blocks, so without the turn one greenlet would write a
    whole song before the WebSocket fan-out could run again.
    """

    def __init__(self, file, buffer_size: int = CHUNK):
        super().__init__(file, CHUNK)

    def __next__(self) -> bytes:
        data = super().__next__()
        cooperate()
        return data

# Private (a signed-in user's copy), a day long: a party reuses it, and a re-tagged file
# (same URL, new bytes) is picked up by the next day through its new ETag.
CACHE_CONTROL = "private, max-age=86400"


def _cached(response: Response) -> Response:
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers.pop("Expires", None)
    return response


def _unsatisfiable(size: int) -> Response:
    response = error_response(RangeNotSatisfiable(
        "The Range header asks for bytes this file does not have (one range per request)."))
    response.headers["Content-Range"] = f"bytes */{size}"
    response.headers["Accept-Ranges"] = "bytes"
    return response


@bp.get("/audio/<track_id>")
def track_audio(track_id: str):
    audio = files.audio_file(context.redis(), context.conf(), track_id)
    size = audio.path.stat().st_size
    request.environ["wsgi.file_wrapper"] = YieldingFileWrapper
    try:
        response = send_file(audio.path, mimetype=audio.mimetype, conditional=True, etag=True,
                             max_age=86400)
    except RequestedRangeNotSatisfiable:
        return _unsatisfiable(size)
    response.headers["Accept-Ranges"] = "bytes"
    return _cached(response)


@bp.get("/audio/<track_id>/art")
def track_art(track_id: str):
    cover, mimetype = files.cover_file(context.redis(), context.conf(), track_id)
    if isinstance(cover, Path):
        request.environ["wsgi.file_wrapper"] = YieldingFileWrapper
        response = send_file(cover, mimetype=mimetype, conditional=True, etag=True,
                             max_age=86400)
    else:
        response = Response(cover, mimetype=mimetype)
        response.set_etag(hashlib.sha256(cover).hexdigest()[:32])
        response.make_conditional(request)
    return _cached(response)
