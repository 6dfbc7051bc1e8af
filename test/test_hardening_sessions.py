"""Logout ends the session on the server: a cookie captured before logout is refused after it."""

from __future__ import annotations

import pytest
from servers import Guest, web_server
from web_support import guest_sign_in, make_app, sign_in

COOKIE = "echonest_session"


@pytest.fixture
def app(r):
    return make_app(r)


def _replay(app, cookie_value: str):
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie_value, domain="localhost")
    return thief


def test_a_cookie_captured_before_logout_is_refused_after_it(app):
    victim = app.test_client()
    assert guest_sign_in(victim, "Victim").status_code == 302
    captured = victim.get_cookie(COOKIE).value
    assert _replay(app, captured).get("/api/nests/main").status_code == 200
    assert victim.post("/logout", json={}).status_code in (302, 303)
    assert _replay(app, captured).get("/api/nests/main").status_code == 401
    assert _replay(app, captured).get("/").status_code == 302  # to the sign-in page


def test_logout_of_one_session_leaves_the_users_other_sessions_alone(app):
    laptop, phone = app.test_client(), app.test_client()
    for client in (laptop, phone):
        sign_in(client, "pat@example.com")
        assert client.get("/api/nests/main").status_code == 200  # each gets its own id
    laptop.post("/logout", json={})
    assert phone.get("/api/nests/main").status_code == 200
    assert laptop.get("/api/nests/main").status_code == 401


def test_a_replayed_cookie_cannot_open_a_socket_after_logout(r, redis_url):
    import websocket

    with web_server(redis_url, {"USE_BENDER": False}) as server:
        guest = Guest(server.url, "Leaver")
        captured = guest.cookie
        assert guest.post_json("/logout").status_code in (200, 302, 303)
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(f"{server.ws_url}/socket", header=[f"Cookie: {captured}"],
                                        timeout=10)
        assert refused.value.status_code == 401
