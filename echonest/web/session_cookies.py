"""Signed session cookies, verified once per cookie and re-sent only when something changed.

Flask's stock cookie sessions cost ~0.4 ms of CPU per request on the queue-action path (a
quarter of an HTTP vote's web time): every request derives the signing key, checks the HMAC,
decodes base64 and JSON — and, because our sessions are permanent and
``SESSION_REFRESH_EACH_REQUEST`` is on, signs and sends the whole cookie back on every response.

Here a cookie that verified once is remembered (exact cookie text → its decoded payload and
when it was signed), so the next request with the same cookie skips the HMAC and base64; its
age is still checked against the session lifetime on every request, and a change of secret
key forgets everything. An unchanged session is re-signed at most once per
``REFRESH_SECONDS`` instead of on every response: the rolling 30-day expiry moves in
one-hour steps, which nobody can notice. A changed session (sign-in, CSRF token, name) is sent
at once as before. Revocation is untouched: logout's server-side check runs per request in
``auth._session_revoked``, whatever this cache holds.
"""

from __future__ import annotations

import time
from typing import Any

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

from echonest.web import memory

REFRESH_SECONDS = 3600
CACHE_SIZE = 4096  # verified cookies remembered per process (~1 MB at most)
_now = time.time  # one name for the clock, so tests can move it


class CachedCookieSessions(SecureCookieSessionInterface):
    """SecureCookieSessionInterface with the signer built once, verified cookies remembered
    and unchanged sessions re-sent hourly (see the module docstring for why)."""

    def __init__(self) -> None:
        self._keys: Any = None
        self._signer: Any = None
        # cookie text -> (tagged-JSON payload, signed at); the payload is decoded per request
        # so every request gets its own mutable session dict.
        self._verified: dict[str, tuple[str, float]] = {}
        memory.on_trim(self.forget_verified)

    def forget_verified(self) -> None:
        """Start the cache over (after a wave of leaves, echonest.web.memory): its entries were
        made while thousands of sockets joined and would pin the allocator's arenas they landed
        in; a returning cookie is verified once more (~0.4 ms)."""
        self._verified.clear()  # frees its table; a fresh dict would itself land mid-arena

    def get_signing_serializer(self, app: Any) -> Any:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if keys != self._keys or self._signer is None:
            self._signer = super().get_signing_serializer(app)
            self._keys, self._verified = keys, {}
        return self._signer

    def open_session(self, app: Any, request: Any) -> Any:
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        val = request.cookies.get(self.get_cookie_name(app))
        if not val:
            return self.session_class()
        max_age = app.permanent_session_lifetime.total_seconds()
        known = self._verified.get(val)
        if known is None:
            try:
                data, signed = signer.loads(val, max_age=int(max_age), return_timestamp=True)
            except BadSignature:
                return self.session_class()
            if len(self._verified) >= CACHE_SIZE:
                self._verified.clear()
            known = self._verified[val] = (self.serializer.dumps(data), signed.timestamp())
        elif _now() - known[1] > max_age:
            self._verified.pop(val, None)
            return self.session_class()  # expired, as itsdangerous would have said
        session = self.session_class(self.serializer.loads(known[0]))
        session.signed_at = known[1]
        return session

    def save_session(self, app: Any, session: Any, response: Any) -> None:
        if session and not self.should_set_cookie(app, session):
            # What the stock method does in this case, without first working out every
            # cookie attribute (the Secure check parses the host) for a cookie it will not set.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)

    def should_set_cookie(self, app: Any, session: Any) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        return _now() - getattr(session, "signed_at", 0.0) >= REFRESH_SECONDS
