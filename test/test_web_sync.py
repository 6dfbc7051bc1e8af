"""Per-user tokens, sync onboarding and linking over HTTP: who a token is, what it may do, limits."""

from __future__ import annotations

import re

import pytest
from web_support import ALICE, BOB, CSRF, TOKEN, auth, create_nest, make_app, some_uris, user_client

from echonest import keys, user_tokens

INVITE = "futureofmusic"
LIMITS = {"sync_token_ip": [3, 3600], "sync_link_ip": [3, 3600], "api_token_user": [20, 3600],
          "public_search_ip": [3, 60], "add_song_user": [50, 3600]}


@pytest.fixture
def app(r):
    return make_app(r, SYNC_INVITE_CODES=[INVITE], ECHONEST_API_TOKEN=TOKEN,
                    ADMIN_EMAILS=[ALICE], RATE_LIMITS=LIMITS)


def new_token(client, label="Laptop") -> dict:
    made = client.post("/api/tokens", json={"label": label})
    assert made.status_code == 200, made.get_json()
    return made.get_json()


def sync_token(app) -> str:
    answer = app.test_client().post("/api/sync-token", json={"invite_code": INVITE})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["token"]


# --- per-user tokens ---------------------------------------------------------------------------
def test_a_user_token_acts_as_its_owner_with_their_limits(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN, RATE_LIMITS={"add_song_user": [1, 3600],
                                                             "api_token_user": [5, 3600]})
    bob = user_client(app, BOB, name="Bob")
    made = new_token(bob)
    assert set(made) == {"id", "label", "scope", "created_at", "token"}
    app_client = app.test_client()
    first, second = some_uris(app, 2)
    added = app_client.post("/api/add_song", json={"track_uri": first}, headers=auth(made["token"]))
    assert added.status_code == 200 and added.get_json()["user"] == BOB
    # Bob's own limit: the token is not the operator's exemption.
    limited = app_client.post("/api/add_song", json={"track_uri": second},
                              headers=auth(made["token"]))
    assert limited.status_code == 429
    # Nor the operator's powers: Bob is no admin of main.
    cleared = app_client.post("/api/queue/clear", headers=auth(made["token"]))
    assert cleared.status_code == 403
    # A classic form post needs no CSRF field with a token (browsers never send Bearer), and
    # the queue's rules see Bob: his own song is not his to upvote.
    item = added.get_json()
    voted = app_client.post("/api/queue/vote", data={"id": item["id"], "up": "true"},
                            headers=auth(made["token"]))
    assert "your own song" in voted.get_json()["message"]


def test_an_admins_token_is_an_admin_and_the_operator_token_stays_the_operators(app, alice):
    made = new_token(alice)
    client = app.test_client()
    assert client.post("/api/queue/clear", headers=auth(made["token"])).status_code == 200
    operator = client.post("/api/tokens", json={"label": "x"}, headers=auth(TOKEN))
    assert operator.status_code == 403  # no person behind it: no tokens, no link codes
    assert client.get("/sync/link", headers=auth(TOKEN)).status_code == 403


def test_tokens_are_managed_from_a_session_not_with_a_token(app, alice):
    made = new_token(alice)
    client = app.test_client()
    for method, path in (("GET", "/api/tokens"), ("POST", "/api/tokens"),
                         ("DELETE", f"/api/tokens/{made['id']}"), ("GET", "/sync/link"),
                         ("GET", "/tokens")):
        answer = client.open(path, method=method, json={}, headers=auth(made["token"]))
        assert answer.status_code == 403, (method, path)
    assert len(alice.get("/api/tokens").get_json()["tokens"]) == 1


def test_listing_shows_no_secret_and_revoking_stops_the_token_at_once(app, alice, bob, r):
    made = new_token(alice, "Work laptop")
    listed = alice.get("/api/tokens").get_json()["tokens"]
    assert listed == [{"id": made["id"], "label": "Work laptop", "scope": "user",
                       "created_at": made["created_at"]}]
    assert made["token"] not in str(listed)
    assert bob.get("/api/tokens").get_json()["tokens"] == []
    assert bob.delete(f"/api/tokens/{made['id']}", json={}).status_code == 404
    client = app.test_client()
    assert client.get("/api/playing", headers=auth(made["token"])).status_code == 200
    assert alice.delete(f"/api/tokens/{made['id']}", json={}).get_json() == {
        "revoked": made["id"]}
    refused = client.get("/api/playing", headers=auth(made["token"]))
    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthorized"
    assert alice.delete(f"/api/tokens/{made['id']}", json={}).status_code == 404


@pytest.mark.parametrize("body", [{"label": 5}, {"label": "x" * 41}, [1]])
def test_hostile_token_requests_change_nothing(alice, body):
    answer = alice.post("/api/tokens", json=body)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_request"
    assert alice.get("/api/tokens").get_json()["tokens"] == []


def test_token_creation_is_rate_limited_per_person(r):
    app = make_app(r, RATE_LIMITS={"api_token_user": [2, 3600]})
    alice = user_client(app, ALICE)
    new_token(alice)
    new_token(alice)
    limited = alice.post("/api/tokens", json={})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert len(alice.get("/api/tokens").get_json()["tokens"]) == 2


def test_the_tokens_page_creates_shows_once_and_revokes_with_plain_forms(alice):
    page = alice.get("/tokens")
    assert page.status_code == 200 and "No tokens yet" in page.get_data(as_text=True)
    forged = alice.post("/tokens", data={"label": "x"})  # no CSRF field
    assert forged.status_code == 403
    made = alice.post("/tokens", data={"label": "<b>Desk</b>", "csrf_token": CSRF})
    html = made.get_data(as_text=True)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token">([^<]+)<', html).group(1)
    assert token.startswith("ens_")
    assert "&lt;b&gt;Desk&lt;/b&gt;" in html and "<b>Desk</b>" not in html
    again = alice.get("/tokens").get_data(as_text=True)
    assert token not in again  # shown once
    token_id = re.search(r'data-token-id="([0-9a-f]{16})"', again).group(1)
    revoked = alice.post(f"/tokens/{token_id}/revoke", data={"csrf_token": CSRF})
    assert revoked.status_code == 200 and "No tokens yet" in revoked.get_data(as_text=True)


def test_a_guest_signing_out_takes_their_tokens_along(app, r):
    guest = user_client(app, "guest:abc123", name="Gus", kind="guest")
    made = new_token(guest)
    guest.post("/logout", json={})
    assert user_tokens.lookup(r, made["token"]) is None


# --- sync onboarding -------------------------------------------------------------------------
def test_sync_sign_up_is_off_without_invite_codes(r):
    client = make_app(r, SYNC_INVITE_CODES=[]).test_client()
    answer = client.post("/api/sync-token", json={"invite_code": INVITE})
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


def test_sync_token_needs_the_invite_code(app):
    client = app.test_client()
    wrong = client.post("/api/sync-token", json={"invite_code": "guess"})
    assert wrong.status_code == 403 and wrong.get_json()["error"] == "invalid_invite_code"
    for body in ({}, {"invite_code": 5}, {"invite_code": ["futureofmusic"]}):
        assert client.post("/api/sync-token", json=body).status_code == 400
    assert client.post("/api/sync-token", data="[]",
                       content_type="application/json").status_code == 400
    good = client.post("/api/sync-token", json={"invite_code": INVITE}).get_json()
    assert good["token"].startswith("ens_") and good["server"] == "http://localhost"
    assert good["token"] != TOKEN


def test_sync_token_attempts_are_limited_per_ip(app):
    client = app.test_client()
    for _ in range(3):
        client.post("/api/sync-token", json={"invite_code": "guess"})
    limited = client.post("/api/sync-token", json={"invite_code": INVITE})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    elsewhere = app.test_client().post("/api/sync-token", json={"invite_code": INVITE},
                                       environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert elsewhere.status_code == 200


def test_a_sync_token_cannot_add_anywhere_nor_act_as_the_operator(app, alice, r):
    token = sync_token(app)
    code = create_nest(alice, "Temp")["code"]
    uri = some_uris(app, 1)[0]
    client = app.test_client()
    for method, path, body in (
            ("POST", f"/api/nests/{code}/songs", {"track_uri": uri}),
            ("POST", "/api/add_song", {"track_uri": uri}),
            ("POST", "/api/queue/clear", {}), ("POST", "/api/nests", {}),
            ("DELETE", f"/api/nests/{code}", {}), ("GET", f"/api/nests/{code}", None),
            ("POST", "/api/tokens", {}), ("GET", "/tokens", None)):
        answer = client.open(path, method=method, json=body, headers=auth(token))
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert r.zcard(keys.nest_key(code, keys.PRIORITY_QUEUE)) == 0
    assert client.get("/api/queue", headers=auth(token)).status_code == 200


def test_rotating_the_invite_codes_retires_the_sync_tokens_they_minted(r):
    token = sync_token(make_app(r, SYNC_INVITE_CODES=[INVITE]))
    rotated = make_app(r, SYNC_INVITE_CODES=["new-code"]).test_client()
    assert rotated.get("/api/playing", headers=auth(token)).status_code == 401
    off = make_app(r, SYNC_INVITE_CODES=[]).test_client()
    assert off.get("/api/playing", headers=auth(token)).status_code == 401
    same = make_app(r, SYNC_INVITE_CODES=["new-code", INVITE]).test_client()
    assert same.get("/api/playing", headers=auth(token)).status_code == 200


# --- account linking ---------------------------------------------------------------------------
def link_code(client) -> str:
    page = client.get("/sync/link")
    assert page.status_code == 200
    return re.search(r'data-code="([A-Z0-9]{6})"', page.get_data(as_text=True)).group(1)


def test_linking_swaps_a_fresh_code_for_the_pages_person(app, alice):
    token = sync_token(app)
    code = link_code(alice)
    client = app.test_client()
    linked = client.post("/api/sync-link", json={"code": code}, headers=auth(token))
    assert linked.status_code == 200
    body = linked.get_json()
    assert body["email"] == ALICE and body["name"] == "Alice"
    assert client.get("/api/tokens", headers=auth(body["user_token"])).status_code == 403
    assert [t["label"] for t in alice.get("/api/tokens").get_json()["tokens"]] == [
        "echonest-sync (linked)"]
    assert client.post("/api/sync-link", json={"code": code},
                       headers=auth(token)).status_code == 404


def test_the_link_page_needs_a_signed_in_browser(app):
    page = app.test_client().get("/sync/link")
    assert page.status_code == 302 and "/login/" in page.headers["Location"]


def test_link_codes_expire_and_are_replaced(app, alice, r):
    token = sync_token(app)
    old = link_code(alice)
    new = link_code(alice)
    client = app.test_client()
    assert client.post("/api/sync-link", json={"code": old}, headers=auth(token)).status_code == 404
    r.delete(keys.sync_link_code(new))  # what the 5-minute TTL does
    assert client.post("/api/sync-link", json={"code": new}, headers=auth(token)).status_code == 404


def test_hostile_link_requests(app, alice):
    token = sync_token(app)
    client = app.test_client()
    assert client.post("/api/sync-link", json={"code": 123456},
                       headers=auth(token)).status_code == 400
    assert client.post("/api/sync-link", json={"code": "<script>"},
                       headers=auth(token)).status_code == 404
    assert client.post("/api/sync-link", json={"code": "ABCDEF"}).status_code == 401


def test_link_attempts_are_limited_per_ip(app, alice):
    token = sync_token(app)
    client = app.test_client()
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
        assert client.post("/api/sync-link", json={"code": guess},
                           headers=auth(token)).status_code == 404
    code = link_code(alice)
    limited = client.post("/api/sync-link", json={"code": code}, headers=auth(token))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


# --- search for the desktop client -----------------------------------------------------------
def search(client, **environ):
    return client.get("/search/v2", query_string={"q": "love"}, environ_base=environ)


@pytest.mark.parametrize("addr", ["127.0.0.1", "192.168.1.20", "10.1.2.3", "172.16.0.4",
                                  "fe80::1", "::ffff:192.168.0.7"])
def test_anonymous_search_is_open_to_the_lan(r, addr):
    client = make_app(r).test_client()
    answer = search(client, REMOTE_ADDR=addr)
    assert answer.status_code == 200 and answer.get_json()


@pytest.mark.parametrize("addr", ["203.0.113.9", "8.8.8.8", "100.64.0.1", "2001:db8::1",
                                  "2606:4700::1111", "junk", ""])
def test_anonymous_search_is_closed_to_the_internet(r, addr):
    answer = search(make_app(r).test_client(), REMOTE_ADDR=addr)
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"


def test_public_search_setting(r):
    everyone = make_app(r, PUBLIC_SEARCH="all").test_client()
    assert search(everyone, REMOTE_ADDR="203.0.113.9").status_code == 200
    nobody = make_app(r, PUBLIC_SEARCH="off").test_client()
    assert search(nobody, REMOTE_ADDR="127.0.0.1").status_code == 401
    assert search(user_client(make_app(r, PUBLIC_SEARCH="off"), ALICE)).status_code == 200


def test_forwarded_for_cannot_pose_as_the_lan(r):
    direct = make_app(r).test_client()
    # No proxy announced: a forwarded request is a proxy we do not know, never "local".
    assert direct.get("/search/v2?q=love", headers={"X-Forwarded-For": "192.168.1.2"},
                      environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401
    behind = make_app(r, TRUSTED_PROXY_HOPS=1).test_client()
    # Our proxy appends the real peer last; only that entry is believed.
    spoofed = behind.get("/search/v2?q=love",
                         headers={"X-Forwarded-For": "192.168.1.2, 203.0.113.9"},
                         environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert spoofed.status_code == 401
    lan = behind.get("/search/v2?q=love", headers={"X-Forwarded-For": "192.168.1.2"},
                     environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert lan.status_code == 200


def test_anonymous_search_is_limited_per_ip(app):
    client = app.test_client()
    for _ in range(3):
        assert search(client, REMOTE_ADDR="192.168.1.20").status_code == 200
    limited = search(client, REMOTE_ADDR="192.168.1.20")
    assert limited.status_code == 429
    assert search(client, REMOTE_ADDR="192.168.1.21").status_code == 200
    signed_in = user_client(app, BOB)
    assert search(signed_in, REMOTE_ADDR="192.168.1.20").status_code == 200  # not anonymous
