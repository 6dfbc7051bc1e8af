"""Domain errors: each carries the API error code, a human message and an HTTP status.

The web layer turns any EchoNestError into ``{"error": code, "message": text}`` with its
status; the WebSocket turns it into an ``error`` frame. Domain code raises, never returns codes.
"""

from __future__ import annotations

from typing import Any


class EchoNestError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 **extra: Any):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        body.update(self.extra)
        return body


class InvalidRequest(EchoNestError):
    code, status = "invalid_request", 400


class Unauthorized(EchoNestError):
    code, status = "unauthorized", 401


class Forbidden(EchoNestError):
    code, status = "forbidden", 403


class NotFound(EchoNestError):
    code, status = "not_found", 404


class Conflict(EchoNestError):
    """409; the code says which conflict (``already_queued``, ``queue_full``)."""

    code, status = "conflict", 409


class NestGone(EchoNestError):
    """The nest was deleted (or is being deleted) while the caller held on to it."""

    code, status = "not_found", 404


class StaleNest(EchoNestError):
    """A write found the nest's metadata changed since the caller read it (a cached read):
    nothing was written; the caller runs the action again on a fresh read. Never shown."""

    code, status = "conflict", 409


class RateLimited(EchoNestError):
    code, status = "rate_limited", 429

    def __init__(self, message: str, *, retry_after: int, **extra: Any):
        super().__init__(message, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class NestLimitReached(EchoNestError):
    code, status = "nest_limit_reached", 429


class Unavailable(EchoNestError):
    """503: the server cannot take this request right now (storage busy or unreachable)."""

    code, status = "unavailable", 503


class RangeNotSatisfiable(EchoNestError):
    """416: a Range header this file cannot answer (past the end, several ranges, malformed)."""

    code, status = "range_not_satisfiable", 416


class CatalogError(EchoNestError):
    """A provider failed or is backing off; the queue and player carry on."""

    code, status = "catalog_unavailable", 503


# --- hosts and moderation (issue 9): refusals that name the nest setting that refused -------
class InviteRequired(Forbidden):
    code = "invite_required"


class Kicked(Forbidden):
    """A host removed this user; they may rejoin after ``until`` (a ban has no end)."""

    code = "kicked"


class Banned(Forbidden):
    code = "banned"


class PerPersonLimit(Conflict):
    code = "per_person_limit"


class SongTooLong(Forbidden):
    code = "song_too_long"


class RecentlyPlayed(Conflict):
    code = "recently_played"


class AddsClosed(Forbidden):
    code = "adds_closed"
