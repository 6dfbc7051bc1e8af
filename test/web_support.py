"""Helpers for the web tests: an app per test on the real engine, sign-in shortcuts, tracks."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from config import CONF

TOKEN = "operator-token-0123456789abcdef"
ALICE = "alice@example.com"
BOB = "bob@example.com"
CSRF = "csrf-" + "x" * 40

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_conf(**overrides: Any) -> Any:
    values: dict[str, Any] = dict(
        SECRET_KEY="web-test-secret", DEBUG=False, GOOGLE_CLIENT_ID="", GOOGLE_CLIENT_SECRET="",
        GUEST_LOGIN="auto", DEV_AUTH_EMAIL="", ADMIN_EMAILS=[], ECHONEST_API_TOKEN="",
        ANDRE_API_TOKEN="", CATALOG="offline", ECHONEST_DOMAIN="echone.st",
        ALLOWED_EMAIL_DOMAINS=["*"])
    values.update(overrides)
    return CONF.copy(**values)


def make_app(r, **overrides: Any) -> Flask:
    from app import create_app

    app = create_app(make_conf(**overrides), redis_client=r)
    app.testing = True
    return app


def sign_in(client: FlaskClient, user_id: str, *, name: str | None = None,
            kind: str = "google") -> str:
    """Put a signed-in user straight into the session; returns the session's CSRF token."""
    csrf = CSRF
    with client.session_transaction() as sess:
        sess["user"] = {"id": user_id, "name": name or user_id.split("@")[0],
                        "email": user_id if kind != "guest" else "", "kind": kind,
                        "avatar_url": ""}
        sess["csrf"] = csrf
    return csrf


def user_client(app: Flask, user_id: str, **kwargs: Any) -> FlaskClient:
    client = app.test_client()
    sign_in(client, user_id, **kwargs)
    return client


def login_csrf(client: FlaskClient, path: str = "/login/") -> str:
    """The CSRF token the real sign-in page hands out."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    match = _CSRF_FIELD.search(page.get_data(as_text=True))
    assert match, "login page has no csrf_token field"
    return match.group(1)


def guest_sign_in(client: FlaskClient, name: str = "Guest Gus", next_url: str = "/"):
    csrf = login_csrf(client)
    return client.post("/login/guest", data={"name": name, "csrf_token": csrf,
                                             "next": next_url})


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def some_uris(app: Flask, count: int) -> list[str]:
    """Real catalog URIs (distinct tracks) to queue."""
    with app.app_context():
        from echonest.web import context

        catalog = context.catalog()
        uris: list[str] = []
        for query in ("love", "night", "a", "e", "the", "i", "o"):
            for track in catalog.search(query, limit=50):
                if track.uri not in uris:
                    uris.append(track.uri)
            if len(uris) >= count:
                return uris[:count]
    raise AssertionError(f"catalog has fewer than {count} tracks")


def create_nest(client: FlaskClient, name: str | None = None) -> dict[str, Any]:
    body = {} if name is None else {"name": name}
    response = client.post("/api/nests", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
