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


def test_a_logout_served_by_another_process_ends_the_session_within_the_trust_window(
        r, monkeypatch):
    """A process trusts its last "still signed in" answer for SESSION_CHECK_SECONDS; a logout
    another process served (only its mark in Redis reaches this one) is honoured once that ends.
    Both apps share this test's module memory, so the other process's logout is replayed as
    its Redis write alone."""
    from echonest import keys
    from echonest.web import session_revocation

    now = [1000.0]
    monkeypatch.setattr(session_revocation, "_clock", lambda: now[0])
    here = make_app(r, SESSION_CHECK_SECONDS=2)
    victim = here.test_client()
    assert guest_sign_in(victim, "Victim").status_code == 302
    captured = victim.get_cookie(COOKIE).value
    assert _replay(here, captured).get("/api/nests/main").status_code == 200
    sid = here.session_interface.open_session(here, _cookie_request(here, captured))["sid"]
    r.set(keys.session_revoked(sid), 1, ex=60)  # what /logout on another process writes
    now[0] += 1.0
    assert _replay(here, captured).get("/api/nests/main").status_code == 200  # within 2 s
    now[0] += 1.5
    assert _replay(here, captured).get("/api/nests/main").status_code == 401
    assert _replay(here, captured).get("/api/nests/main").status_code == 401


def _cookie_request(app, cookie_value):
    from werkzeug.test import EnvironBuilder

    env = EnvironBuilder(headers={"Cookie": f"{COOKIE}={cookie_value}"}).get_environ()
    return app.request_class(env)


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


def test_signing_out_closes_the_sessions_open_socket_and_stream_but_not_other_sessions(
        r, redis_url):
    """A cookie captured before logout could otherwise keep listening (and acting) on a socket
    it had opened: the socket closes with 4401 within a heartbeat and the SSE stream ends within a
    keepalive; another signed-in person's socket stays open."""
    import requests
    from servers import SSEClient, WSClient

    conf = {"USE_BENDER": False, "MEMBER_HEARTBEAT_SECONDS": 0.5, "SSE_KEEPALIVE_SECONDS": 0.5}
    with web_server(redis_url, conf) as server:
        leaver, stayer = Guest(server.url, "Leaver"), Guest(server.url, "Stayer")
        thief_http = requests.Session()
        thief_http.headers["Cookie"] = leaver.cookie
        stolen = WSClient(server.ws_url, "/socket", leaver.cookie)
        stream = SSEClient(thief_http, f"{server.url}/api/nests/main/events")
        other = WSClient(server.ws_url, "/socket", stayer.cookie)
        try:
            stolen.initial_state()
            other.initial_state()
            stream.wait_for("now_playing")
            stolen.send("ping", ref="before")
            assert stolen.reply("before")["event"] == "ack"
            assert leaver.post_json("/logout").status_code in (200, 302, 303)
            assert stolen.close_code(timeout=10) == 4401
            with pytest.raises(AssertionError, match="ended"):
                for _ in range(100):
                    stream.next_item()
            other.send("ping", ref="still")
            assert other.reply("still")["event"] == "ack"
        finally:
            for client in (stolen, other, stream):
                client.close()
