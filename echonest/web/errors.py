"""The one error shape: EchoNestError and HTTP errors → {"error": code, "message": text}.

/api/* (and the other JSON routes) always answer JSON, never an HTML page or a redirect;
pages get the themed 404 page. Tracebacks are logged, never sent.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from echonest.errors import EchoNestError, RateLimited

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
    415: "invalid_request",
    429: "rate_limited",
}


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


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http(exc)
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
