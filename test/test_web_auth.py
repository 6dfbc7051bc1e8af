"""Sign-in (guest, Google OIDC against a fake provider, dev bypass), API tokens, CSRF, cookies."""

from __future__ import annotations

import os
import re
import stat
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeOIDC
from web_support import (
    ALICE,
    TOKEN,
    auth,
    create_nest,
    guest_sign_in,
    login_csrf,
    make_app,
    make_conf,
    sign_in,
    user_client,
)


@pytest.fixture(scope="module")
def oidc():
    provider = FakeOIDC().start()
    yield provider
    provider.stop()


@pytest.fixture
def google_app(r, oidc):
    oidc.user = {"sub": "1001", "email": "ana@example.com", "email_verified": True,
                 "name": "Ana Example", "picture": "https://example.com/ana.png"}
    oidc.nonce_override = None
    return make_app(r, GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CLIENT_SECRET=CLIENT_SECRET,
                    GOOGLE_DISCOVERY_URL=oidc.discovery_url,
                    ALLOWED_EMAIL_DOMAINS=["example.com"])


def session_user(client):
    with client.session_transaction() as sess:
        return sess.get("user")


def google_round_trip(client, next_url="/"):
    """Start at /login/google, let the fake provider approve, come back to the callback."""
    start = client.get("/login/google", query_string={"next": next_url})
    assert start.status_code == 302
    authorize = start.headers["Location"]
    provider_reply = requests.get(authorize, allow_redirects=False, timeout=10)
    assert provider_reply.status_code == 302
    back = urlsplit(provider_reply.headers["Location"])
    assert back.path == "/login/google/callback"
    return authorize, client.get(f"{back.path}?{back.query}")


# --- guest sign-in -----------------------------------------------------------------------
def test_guest_sign_in_gets_a_guest_id_and_can_use_the_api(r):
    app = make_app(r)
    client = app.test_client()
    page = client.get("/login/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="guest-form"' in html and "Sign in with Google" not in html
    response = guest_sign_in(client, "  Party   Pam ")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = session_user(client)
    assert user["kind"] == "guest" and user["name"] == "Party Pam"
    assert user["id"].startswith("guest:") and "@" not in user["id"]
    assert client.get("/api/nests").status_code == 200


def test_two_guests_with_the_same_name_are_different_people(r):
    app = make_app(r)
    one, two = app.test_client(), app.test_client()
    guest_sign_in(one, "Sam")
    guest_sign_in(two, "Sam")
    assert session_user(one)["id"] != session_user(two)["id"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 41, "x" * 10_000, "!!!", "\x00\x07"])
def test_guest_names_must_be_1_to_40_visible_characters(r, name):
    app = make_app(r)
    client = app.test_client()
    response = guest_sign_in(client, name)
    assert response.status_code == 400
    assert session_user(client) is None


def test_guest_name_with_html_is_kept_as_text(r):
    app = make_app(r)
    client = app.test_client()
    guest_sign_in(client, "<b>Bo</b>")
    assert session_user(client)["name"] == "<b>Bo</b>"
    # echoed back on an error page, it is escaped
    other = app.test_client()
    bad = other.post("/login/guest", data={"name": "<script>x</script>" * 5,
                                           "csrf_token": login_csrf(other)})
    assert bad.status_code == 400
    assert b"&lt;script&gt;" in bad.data and b"<script>x" not in bad.data


def test_guest_form_needs_the_csrf_token(r):
    app = make_app(r)
    client = app.test_client()
    login_csrf(client)
    response = client.post("/login/guest", data={"name": "Mallory", "csrf_token": "forged"})
    assert response.status_code == 400
    assert session_user(client) is None


def test_guest_login_is_off_when_google_is_configured_unless_forced(r, oidc):
    google = dict(GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CLIENT_SECRET=CLIENT_SECRET,
                  GOOGLE_DISCOVERY_URL=oidc.discovery_url)
    client = make_app(r, **google).test_client()
    html = client.get("/login/").get_data(as_text=True)
    assert "Sign in with Google" in html and 'id="guest-form"' not in html
    client.get("/login/")
    csrf = session_csrf(client)
    refused = client.post("/login/guest", data={"name": "Gus", "csrf_token": csrf})
    assert refused.status_code == 403 and session_user(client) is None

    forced = make_app(r, GUEST_LOGIN="true", **google).test_client()
    assert 'id="guest-form"' in forced.get("/login/").get_data(as_text=True)
    assert guest_sign_in(forced, "Gus").status_code == 302
    off = make_app(r, GUEST_LOGIN="false").test_client()
    assert 'id="guest-form"' not in off.get("/login/").get_data(as_text=True)


def session_csrf(client):
    with client.session_transaction() as sess:
        return sess.get("csrf")


def test_guest_sign_in_is_rate_limited_per_ip(r):
    app = make_app(r, RATE_LIMITS={"guest_login_ip": [2, 3600]})
    assert guest_sign_in(app.test_client(), "One").status_code == 302
    assert guest_sign_in(app.test_client(), "Two").status_code == 302
    third = guest_sign_in(app.test_client(), "Three")
    assert third.status_code == 429 and int(third.headers["Retry-After"]) > 0


# --- Google ------------------------------------------------------------------------------
def test_google_sign_in_end_to_end(google_app, oidc):
    client = google_app.test_client()
    authorize, done = google_round_trip(client, "/")
    query = parse_qs(urlsplit(authorize).query)
    assert query["state"][0] and query["nonce"][0]
    assert query["scope"][0].split() == ["openid", "email", "profile"]
    assert done.status_code == 302 and done.headers["Location"] == "/"
    user = session_user(client)
    assert user == {"id": "ana@example.com", "name": "Ana Example", "email": "ana@example.com",
                    "kind": "google", "avatar_url": "https://example.com/ana.png"}
    assert client.get("/api/nests").status_code == 200


def test_google_accounts_outside_the_allowed_domains_are_refused(google_app, oidc):
    oidc.user = {**oidc.user, "email": "eve@elsewhere.org"}
    client = google_app.test_client()
    _, done = google_round_trip(client)
    assert done.status_code == 403 and b"elsewhere.org" in done.data
    assert session_user(client) is None


def test_star_allows_every_domain(r, oidc):
    oidc.user = {**oidc.user, "email": "eve@elsewhere.org", "email_verified": True}
    app = make_app(r, GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CLIENT_SECRET=CLIENT_SECRET,
                   GOOGLE_DISCOVERY_URL=oidc.discovery_url, ALLOWED_EMAIL_DOMAINS=["*"])
    client = app.test_client()
    _, done = google_round_trip(client)
    assert done.status_code == 302 and session_user(client)["id"] == "eve@elsewhere.org"


def test_unverified_google_email_is_refused(google_app, oidc):
    oidc.user = {**oidc.user, "email_verified": False}
    client = google_app.test_client()
    _, done = google_round_trip(client)
    assert done.status_code == 403 and session_user(client) is None


def test_google_id_token_with_the_wrong_nonce_is_refused(google_app, oidc):
    oidc.nonce_override = "replayed-nonce"
    client = google_app.test_client()
    _, done = google_round_trip(client)
    assert done.status_code == 400 and session_user(client) is None


def test_google_callback_with_a_forged_state_is_refused(google_app, oidc):
    client = google_app.test_client()
    start = client.get("/login/google")
    reply = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(reply.headers["Location"])
    code = parse_qs(back.query)["code"][0]
    done = client.get("/login/google/callback", query_string={"code": code, "state": "forged"})
    assert done.status_code == 400 and session_user(client) is None


def test_google_start_is_404_when_google_is_not_configured(r):
    assert make_app(r).test_client().get("/login/google").status_code == 404


# --- next= -------------------------------------------------------------------------------
def test_a_shared_nest_link_survives_guest_sign_in(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN)
    code = app.test_client().post("/api/nests", json={"name": "Party"},
                                  headers=auth()).get_json()["code"]
    client = app.test_client()
    first = client.get(f"/{code}")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert login_url.startswith("/login/?next=")
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]
    assert next_url == f"/{code}"
    signed_in = guest_sign_in(client, "Late Larry", next_url)
    assert signed_in.headers["Location"] == f"/{code}"
    hop = client.get(f"/{code}")
    assert hop.status_code == 302 and hop.headers["Location"] == f"/nest/{code}"
    assert client.get(f"/nest/{code}").status_code == 200


def test_a_shared_nest_link_survives_google_sign_in(google_app, oidc):
    client = google_app.test_client()
    _, done = google_round_trip(client, "/nest/ABCDE?x=1")
    assert done.headers["Location"] == "/nest/ABCDE?x=1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", "evil",
                                    "/login/?next=/x", "/\t/evil.example"])
def test_next_never_leaves_the_site(r, target):
    client = make_app(r).test_client()
    response = guest_sign_in(client, "Nora", target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_signed_in_visit_to_login_page_goes_to_next(r):
    client = make_app(r).test_client()
    guest_sign_in(client, "Nora")
    response = client.get("/login/?next=/nest/ABCDE")
    assert response.status_code == 302 and response.headers["Location"] == "/nest/ABCDE"


# --- dev bypass --------------------------------------------------------------------------
def test_dev_bypass_signs_in_on_loopback_only(r):
    app = make_app(r, DEBUG=True, DEV_AUTH_EMAIL="Dev@Example.com")
    client = app.test_client()
    assert client.get("/api/nests").status_code == 200
    assert session_user(client)["id"] == "dev@example.com"
    assert session_user(client)["kind"] == "dev"

    remote = app.test_client()
    response = remote.get("/api/nests", environ_base={"REMOTE_ADDR": "192.168.1.20"})
    assert response.status_code == 401
    spoofed = app.test_client()
    response = spoofed.get("/", headers={"Host": "echone.st"})
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_dev_bypass_needs_debug_and_an_email(r):
    for overrides in ({"DEBUG": False, "DEV_AUTH_EMAIL": "dev@example.com"},
                      {"DEBUG": True, "DEV_AUTH_EMAIL": ""}):
        client = make_app(r, **overrides).test_client()
        assert client.get("/api/nests").status_code == 401
        assert client.get("/login/dev").status_code == 404


def test_logout_ends_the_session(r):
    client = make_app(r).test_client()
    guest_sign_in(client, "Leaver")
    assert client.post("/logout", json={}).status_code == 302
    assert session_user(client) is None
    assert client.get("/api/nests").status_code == 401


def test_a_get_or_a_cross_site_form_cannot_sign_anyone_out(r):
    # <img src=".../logout"> or an auto-submitted form on another site: the user stays in.
    client = make_app(r).test_client()
    guest_sign_in(client, "Stayer")
    page = client.get("/logout")
    assert page.status_code == 200 and session_user(client) is not None
    html = page.get_data(as_text=True)
    assert 'method="post"' in html and 'name="csrf_token"' in html
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert session_user(client) is not None
    assert client.get("/api/nests").status_code == 200
    # The page's own form (its CSRF token) signs out.
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert session_user(client) is None


# --- API token -----------------------------------------------------------------------------
def test_bearer_token_good_bad_and_legacy(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN)
    client = app.test_client()
    assert client.get("/api/nests", headers=auth()).status_code == 200
    bad = client.get("/api/nests", headers=auth("wrong-token"))
    assert bad.status_code == 401
    assert bad.get_json() == {"error": "unauthorized", "message": "Invalid API token."}
    assert client.get("/api/nests", headers={"Authorization": "Basic abc"}).status_code == 401

    legacy = make_app(r, ANDRE_API_TOKEN="legacy-token-abcdef").test_client()
    assert legacy.get("/api/nests", headers=auth("legacy-token-abcdef")).status_code == 200
    none = make_app(r).test_client()
    assert none.get("/api/nests", headers={"Authorization": "Bearer "}).status_code == 401


def test_token_is_read_per_request(r):
    app = make_app(r)
    client = app.test_client()
    assert client.get("/api/nests", headers=auth()).status_code == 401
    app.config["ECHONEST_CONF"].ECHONEST_API_TOKEN = TOKEN
    assert client.get("/api/nests", headers=auth()).status_code == 200
    app.config["ECHONEST_CONF"].ECHONEST_API_TOKEN = "rotated-token-xyz"
    assert client.get("/api/nests", headers=auth()).status_code == 401


def test_a_bad_token_does_not_fall_back_to_the_session_cookie(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN)
    client = user_client(app, ALICE)
    assert client.get("/api/nests", headers=auth("nope")).status_code == 401


def test_token_writes_need_no_csrf(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN)
    response = app.test_client().post("/api/nests", data="", headers=auth())
    assert response.status_code == 200 and len(response.get_json()["code"]) == 5


# --- CSRF ----------------------------------------------------------------------------------
def test_session_writes_need_json_or_the_csrf_header(r):
    app = make_app(r)
    client = app.test_client()
    csrf = sign_in(client, ALICE)
    form = client.post("/api/nests", data={"name": "Forged"})
    assert form.status_code == 403 and form.get_json()["error"] == "forbidden"
    plain = client.post("/api/nests", data="{}", content_type="text/plain")
    assert plain.status_code == 403
    wrong = client.post("/api/nests", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert client.post("/api/nests", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert create_nest(client, "Fine")["name"] == "Fine"
    code = create_nest(client)["code"]
    assert client.delete(f"/api/nests/{code}").status_code == 403
    assert client.delete(f"/api/nests/{code}", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_form_posts_with_the_csrf_field_are_accepted_on_legacy_routes(r):
    app = make_app(r)
    client = app.test_client()
    csrf = sign_in(client, ALICE)
    response = client.post("/api/queue/pause", data={"csrf_token": csrf})
    assert response.status_code == 200


# --- cookies and secret --------------------------------------------------------------------
def _session_cookie(response):
    return next(h for h in response.headers.getlist("Set-Cookie")
                if h.startswith("echonest_session="))


def test_session_cookie_flags(r):
    app = make_app(r)
    public = app.test_client().get("/login/", base_url="https://echone.st")
    cookie = _session_cookie(public)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    local = _session_cookie(app.test_client().get("/login/"))
    assert "HttpOnly" in local and "Secure" not in local  # plain http to this machine
    lan = _session_cookie(app.test_client().get("/login/", base_url="http://192.168.1.9:5000"))
    assert "Secure" not in lan
    debug = make_app(r, DEBUG=True).test_client().get("/login/", base_url="https://echone.st")
    assert "Secure" not in _session_cookie(debug)


def test_secret_key_is_generated_once_with_private_permissions(r, tmp_path):
    from app import secret_key

    conf = make_conf(SECRET_KEY="", DATA_DIR=str(tmp_path / "data"))
    first = secret_key(conf)
    assert len(first) >= 32 and secret_key(conf) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "data" / "secret_key").st_mode)
    assert mode == 0o600


def test_websocket_handshakes_from_another_site_are_refused(r):
    app = make_app(r)
    client = user_client(app, ALICE)
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    evil = client.get("/socket", headers={**upgrade, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.get_json()["error"] == "forbidden"
    # same origin passes the gate (the test client cannot complete a real upgrade)
    ours = client.get("/socket", headers={**upgrade, "Origin": "http://localhost"})
    assert ours.status_code != 403
