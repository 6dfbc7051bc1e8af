"""Session cookies: verified once per process, re-sent only when changed (or hourly), and still
refused when tampered with, expired or signed with a key the server no longer uses."""

from __future__ import annotations

import pytest
from web_support import guest_sign_in, make_app

from echonest.web import session_cookies

COOKIE = "echonest_session"


@pytest.fixture
def app(r):
    return make_app(r)


def _set_cookies(response) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]


def _signed_in(app):
    client = app.test_client()
    assert guest_sign_in(client, "Casey").status_code == 302
    assert client.get("/api/nests/main").status_code == 200
    return client


def _clock(monkeypatch, offset: float) -> None:
    real = session_cookies.time.time
    monkeypatch.setattr(session_cookies, "_now", lambda: real() + offset)


def test_an_unchanged_session_is_not_resent_on_every_request_but_hourly(app, monkeypatch):
    client = _signed_in(app)
    for _ in range(3):
        response = client.post("/api/nests/main/vote", json={"id": "nope", "up": True})
        assert response.status_code in (200, 404)
        assert _set_cookies(response) == []
    _clock(monkeypatch, session_cookies.REFRESH_SECONDS + 1)
    refreshed = _set_cookies(client.get("/api/nests/main"))
    assert len(refreshed) == 1 and "Expires=" in refreshed[0]  # the rolling expiry moves on
    assert client.get("/api/nests/main").status_code == 200


def test_a_session_change_is_sent_at_once(app):
    client = _signed_in(app)
    assert _set_cookies(client.post("/logout", json={}))  # cleared right away
    assert client.get("/api/nests/main").status_code == 401


def test_a_remembered_cookie_still_expires_with_the_session_lifetime(app, monkeypatch):
    client = _signed_in(app)  # verified once: now remembered
    lifetime = app.permanent_session_lifetime.total_seconds()
    _clock(monkeypatch, lifetime + 60)
    assert client.get("/api/nests/main").status_code == 401


def test_a_tampered_cookie_is_refused_even_next_to_a_remembered_one(app):
    client = _signed_in(app)
    good = client.get_cookie(COOKIE).value
    body, _, signature = good.rpartition(".")
    forged = f"{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    thief = app.test_client()
    thief.set_cookie(COOKIE, forged, domain="localhost")
    assert thief.get("/api/nests/main").status_code == 401
    assert client.get("/api/nests/main").status_code == 200


def test_a_new_secret_key_forgets_remembered_cookies(app):
    client = _signed_in(app)
    app.secret_key = "a-brand-new-secret-key-0123456789"
    assert client.get("/api/nests/main").status_code == 401
