"""The one error shape: EchoNestError and HTTP errors → {"error": code, "message": text}.

/api/* (and the other JSON routes) always answer JSON, never an HTML page or a redirect;
pages get the themed 404 page. Tracebacks are logged, never sent.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from echonest.errors import EchoNestError, RateLimited, Unavailable

log = logging.getLogger(__name__)

# Legacy main-nest JSON routes (SPEC §10) answer like /api/* even though they predate it.
# Exact paths, not prefixes: /jam-session could be a nest's vanity link, and a stranger
# following it must get the sign-in redirect, not a 401 JSON body.
JSON_PREFIXES = ("/api/", "/socket/", "/queue/", "/playing/", "/search/", "/audio/")
JSON_PATHS = frozenset({"/api", "/socket", "/add_song", "/jam", "/blast_airhorn", "/health"})

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "invalid_request",
    414: "invalid_request",
    415: "invalid_request",
    429: "rate_limited",
}
# Storage trouble is the server's, not the client's, and usually brief: 503 + Retry-After.
STORAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
RETRY_AFTER_SECONDS = 1


def wants_json(path: str | None = None) -> bool:
    path = request.path if path is None else path
    return path in JSON_PATHS or path.startswith(JSON_PREFIXES)


def error_body(code: str, message: str, **extra: object) -> dict:
    return {"error": code, "message": message, **extra}


def error_response(exc: EchoNestError) -> Response:
    """JSON body + status (+ Retry-After) for any domain error."""
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(int(exc.retry_after))
    return response


def _page(status: int, message: str) -> tuple[str, int]:
    return render_template("not_found.html", status=status, message=message), status


def handle_domain(exc: EchoNestError):
    if wants_json():
        return error_response(exc)
    page, status = _page(exc.status, exc.message)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
    return page, status, headers


def handle_http(exc: HTTPException):
    status = exc.code or 500
    if wants_json():
        code = _HTTP_CODES.get(status, "error")
        message = exc.description or exc.name
        if status == 404:
            message = "No such API route."
        response = jsonify(error_body(code, message))
        response.status_code = status
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response
    if status == 404:
        return _page(404, "There is nothing here. The nest may have flown away.")
    return exc


class _Summary:
    """At most one log line per ``every`` seconds for a repeated failure, with a count."""

    def __init__(self, every: float = 30.0):
        self.every = every
        self.last = float("-inf")
        self.suppressed = 0
        self._lock = threading.Lock()

    def should_log(self) -> tuple[bool, int]:
        now = time.monotonic()
        with self._lock:
            if now - self.last < self.every:
                self.suppressed += 1
                return False, 0
            self.last, missed, self.suppressed = now, self.suppressed, 0
            return True, missed


_STORAGE_LOG = _Summary()


def handle_storage(exc: Exception):
    """Redis unreachable or every pooled connection busy: a clear 503, no traceback, and during
    an outage one log line per 30 s (with how many answers it stands for), not one per request."""
    write, missed = _STORAGE_LOG.should_log()
    if write:
        log.warning("storage unavailable (%s %s): %s; %d more 503s since the last line",
                    request.method, request.path, exc, missed)
    busy = Unavailable("The server is busy right now; try again in a moment.")
    if wants_json():
        response = error_response(busy)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return busy.message, 503, {"Content-Type": "text/plain",
                               "Retry-After": str(RETRY_AFTER_SECONDS)}


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    if isinstance(exc, STORAGE_ERRORS):
        return handle_storage(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    if wants_json():
        response = jsonify(error_body("internal_error", "Something went wrong on our side."))
        response.status_code = 500
        return response
    return "Something went wrong on our side.", 500, {"Content-Type": "text/plain"}


def register(app: Flask) -> None:
    app.register_error_handler(EchoNestError, handle_domain)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
