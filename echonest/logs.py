"""Logs: one JSON object per line with ``LOG_FORMAT: json``, and a request id on every request.

Every request gets an id — the client's ``X-Request-Id`` when it is a short token (a proxy's
id follows the request through), else a fresh one — echoed in the ``X-Request-Id`` response
header and attached to every log line written while the request runs, so an operator can go
from a user's report ("it said error, id 3f2a…") to the traceback. In JSON mode each request
also writes one access line (method, path, status, milliseconds).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

HEADER = "X-Request-Id"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id"}
access_log = logging.getLogger("echonest.access")


def current_request_id() -> str | None:
    """The id of the request this thread/greenlet serves, else None (workers, start-up)."""
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - flask is a dependency
        return None
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (None outside a request) for either format."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, process, message, request_id, extra fields, exc (traceback text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if _plain(value) else repr(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _plain(value: Any) -> bool:
    """A scalar, or a list of scalars (the runner's LAN links): written as JSON, not repr."""
    scalar = (str, int, float, bool, type(None))
    return isinstance(value, scalar) or (
        isinstance(value, (list, tuple)) and all(isinstance(v, scalar) for v in value))


def is_json(conf: Any) -> bool:
    return str(conf.LOG_FORMAT or "text").strip().lower() == "json"


def configure(conf: Any) -> None:
    """Give the root logger's handlers the configured format (adds one on stderr if none)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
        root.setLevel(logging.INFO)
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if is_json(conf):
            handler.setFormatter(JsonFormatter())


def say(conf: Any, logger: logging.Logger, message: str, *, level: int = logging.INFO,
        **fields: Any) -> None:
    """A line for whoever watches the process (the runner's start and stop notices): the plain
    message in text mode, one JSON object (as every other line) with LOG_FORMAT json.

    Warnings and errors go to stderr, the rest to stdout, in either format.
    """
    stream = sys.stderr if level >= logging.WARNING else sys.stdout
    if is_json(conf):
        record = logger.makeRecord(logger.name, level, "(say)", 0, message, None, None,
                                   extra=fields)
        message = JsonFormatter().format(record)
    print(message, file=stream, flush=True)


def new_request_id(presented: str | None) -> str:
    if presented and _CLIENT_ID.match(presented):
        return presented
    return secrets.token_hex(12)


def init_app(app: Any) -> None:
    """Request ids on every request; JSON logs and access lines when LOG_FORMAT is json."""
    from flask import g, request

    conf = app.config["ECHONEST_CONF"]
    json_mode = is_json(conf)
    if json_mode:
        configure(conf)

    def start() -> None:
        g.request_id = new_request_id(request.headers.get(HEADER))
        g.request_started = time.perf_counter()

    def finish(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[HEADER] = request_id
            if json_mode:
                elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
                access_log.info("%s %s %s", request.method, request.path, response.status_code,
                                extra={"method": request.method, "path": request.path,
                                       "status": response.status_code,
                                       "ms": round(elapsed * 1000, 2)})
        return response

    # First of all, so the auth gate's and every later hook's log lines carry the id.
    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request(finish)
