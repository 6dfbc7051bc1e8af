"""Nests API and pages: CRUD, permissions, error shapes, short links, rate limits, hostile input."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import pytest
from flask import template_rendered
from web_support import ALICE, BOB, CSRF, TOKEN, auth, create_nest, make_app, user_client

WRITE = {"X-CSRF-Token": CSRF}

CODE_RE = re.compile(r"^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{5}$")


@pytest.fixture
def app(r):
    return make_app(r, ECHONEST_API_TOKEN=TOKEN)


@contextmanager
def rendered(app):
    seen = []

    def record(sender, template, context, **extra):
        seen.append((template.name, context))

    template_rendered.connect(record, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(record, app)


# --- create ----------------------------------------------------------------------------------
def test_create_returns_metadata_with_a_code_and_share_link(alice):
    body = create_nest(alice, "Friday Jams")
    assert CODE_RE.match(body["code"]) and body["id"] == body["code"]
    assert body["name"] == "Friday Jams" and body["created_by"] == ALICE
    assert body["is_main"] is False and body["member_count"] == 0
    # The request came in on localhost, not on ECHONEST_DOMAIN: the link reaches this server.
    assert body["share_url"] == f"http://localhost/{body['code']}"
    assert body["created_at"].endswith(("Z", "+00:00"))
    on_domain = alice.get(f"/api/nests/{body['code']}", headers={"Host": "echone.st", **auth()})
    assert on_domain.get_json()["share_url"] == f"https://echone.st/{body['code']}"


def test_create_without_a_name_picks_a_themed_one(alice):
    assert create_nest(alice)["name"].endswith("Nest")


def test_create_with_a_seed_track(app, alice):
    from web_support import some_uris

    uri = some_uris(app, 1)[0]
    assert create_nest_with(alice, seed_uri=uri).get_json()["seed_uri"] == uri
    bad = create_nest_with(alice, seed_uri="local:track:does-not-exist")
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_request"


def create_nest_with(client, **body):
    return client.post("/api/nests", json=body)


@pytest.mark.parametrize("body", [[], "name", 12, None, {"name": 12}, {"name": ["x"]},
                                  {"name": "x" * 10_000}, {"name": "   "}, {"name": "!!!"},
                                  {"seed_uri": 5}])
def test_create_rejects_bad_input_and_stores_nothing(r, alice, body):
    response = alice.post("/api/nests", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request" and response.get_json()["message"]
    assert set(r.hkeys("NESTS|registry")) <= {"main"}


def test_malformed_json_is_invalid_request(alice):
    response = alice.post("/api/nests", data="{nope", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_html_in_a_name_is_stored_and_returned_as_text(app, alice):
    name = "<img src=x onerror=alert(1)>"
    code = create_nest(alice, name)["code"]
    assert alice.get(f"/api/nests/{code}").get_json()["name"] == name
    page = alice.get(f"/nest/{code}").get_data(as_text=True)
    assert "<img src=x" not in page


def test_creating_past_the_active_limit_offers_an_upgrade(r):
    app = make_app(r, NEST_MAX_ACTIVE=1, ECHONEST_API_TOKEN=TOKEN)
    alice = user_client(app, ALICE)
    create_nest(alice)
    response = alice.post("/api/nests", json={})
    assert response.status_code == 429
    body = response.get_json()
    assert body["error"] == "nest_limit_reached" and body["message"]
    assert body["upgrade_url"].startswith("https://")
    # Issue 10: guests filling every slot never lock the operator token out.
    assert app.test_client().post("/api/nests", json={}, headers=auth()).status_code == 200


# --- read ------------------------------------------------------------------------------------
def test_list_shows_live_nests_with_counts_and_now_playing(alice):
    code = create_nest(alice, "Listed")["code"]
    nests = alice.get("/api/nests").get_json()["nests"]
    assert [n["code"] for n in nests][:1] == ["main"]
    mine = next(n for n in nests if n["code"] == code)
    assert mine["member_count"] == 0 and mine["now_playing"]["paused"] in (True, False)
    assert "now" in mine["now_playing"]


def test_get_is_case_insensitive_and_unknown_is_404(alice):
    code = create_nest(alice)["code"]
    assert alice.get(f"/api/nests/{code.lower()}").get_json()["code"] == code
    missing = alice.get("/api/nests/ZZZZZ")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "not_found", "message": "No nest has that code."}
    assert alice.get("/api/nests/main").get_json()["is_main"] is True


# --- update / delete -------------------------------------------------------------------------
def test_only_the_creator_may_rename_and_main_is_off_limits(alice, bob):
    code = create_nest(alice, "Before")["code"]
    assert alice.patch(f"/api/nests/{code}", json={"name": "After"}).get_json()["name"] == "After"
    stranger = bob.patch(f"/api/nests/{code}", json={"name": "Hijacked"})
    assert stranger.status_code == 403 and stranger.get_json()["error"] == "forbidden"
    assert alice.get(f"/api/nests/{code}").get_json()["name"] == "After"
    main = alice.patch("/api/nests/main", json={"name": "Mine now"})
    assert main.status_code == 403
    assert alice.patch("/api/nests/ZZZZZ", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize("body", [{}, {"name": 5}, {"bender_enabled": "yes"},
                                  {"vanity_code": 7}, {"vanity_code": "api"},
                                  {"vanity_code": "9lives"}, {"name": "y" * 10_000}])
def test_patch_rejects_bad_input(alice, body):
    code = create_nest(alice, "Stable")["code"]
    response = alice.patch(f"/api/nests/{code}", json=body)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert alice.get(f"/api/nests/{code}").get_json()["name"] == "Stable"


def test_vanity_code_and_bender_switch(alice):
    code = create_nest(alice)["code"]
    updated = alice.patch(f"/api/nests/{code}",
                          json={"vanity_code": "Friday-Party", "bender_enabled": False})
    assert updated.status_code == 200 and updated.get_json()["bender_enabled"] is False
    assert alice.get("/friday-party").headers["Location"] == f"/nest/{code}"
    assert alice.get("/api/nests/FRIDAY-PARTY").get_json()["code"] == code
    cleared = alice.patch(f"/api/nests/{code}", json={"vanity_code": None})
    assert cleared.status_code == 200
    assert alice.get("/friday-party").status_code == 404


def test_only_the_creator_may_delete(alice, bob):
    code = create_nest(alice)["code"]
    assert bob.delete(f"/api/nests/{code}", headers=WRITE).status_code == 403
    deleted = alice.delete(f"/api/nests/{code}", headers=WRITE)
    assert deleted.status_code == 200 and deleted.get_json()["deleted"] is True
    assert alice.get(f"/api/nests/{code}").status_code == 404
    assert alice.delete("/api/nests/main", headers=WRITE).status_code == 403
    assert alice.delete(f"/api/nests/{code}", headers=WRITE).status_code == 404


def test_admins_cannot_delete_main_either(r):
    app = make_app(r, ADMIN_EMAILS=[ALICE])
    assert user_client(app, ALICE).delete("/api/nests/main", headers=WRITE).status_code == 403


# --- rate limits -----------------------------------------------------------------------------
def test_create_is_limited_per_user_with_retry_after(alice, bob):
    for _ in range(3):
        create_nest(alice)
    response = alice.post("/api/nests", json={})
    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited" and response.get_json()["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert bob.post("/api/nests", json={}).status_code == 200  # another user is unaffected


def test_create_is_limited_per_ip_but_the_token_is_exempt(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN,
                   RATE_LIMITS={"create_nest_ip": [2, 3600], "create_nest_user": [9, 3600]})
    create_nest(user_client(app, ALICE))
    create_nest(user_client(app, BOB))
    third = user_client(app, "carol@example.com").post("/api/nests", json={})
    assert third.status_code == 429
    for _ in range(3):
        assert app.test_client().post("/api/nests", json={}, headers=auth()).status_code == 200


def test_two_app_instances_share_the_counters(r):
    limits = {"create_nest_user": [2, 3600], "create_nest_ip": [50, 3600]}
    one = make_app(r, RATE_LIMITS=limits)
    two = make_app(r, RATE_LIMITS=limits)
    create_nest(user_client(one, ALICE))
    create_nest(user_client(two, ALICE))
    assert user_client(one, ALICE).post("/api/nests", json={}).status_code == 429
    assert user_client(two, ALICE).post("/api/nests", json={}).status_code == 429


def test_code_guessing_is_limited_and_then_blocks_lookups_of_nests_the_guesser_does_not_know(r):
    # Issue 10: the block covers lookups of nests the guesser has not reached (hit or miss, so
    # hits are no oracle), never the Home Nest or the nests people already use.
    app = make_app(r, RATE_LIMITS={"unknown_code_ip": [3, 60]})
    alice, bob = user_client(app, ALICE), user_client(app, BOB)
    code = create_nest(alice)["code"]
    for _ in range(10):  # hits never count
        assert alice.get(f"/api/nests/{code}").status_code == 200
    for guess in ("ZZZZZ", "YYYYY", "XXXXX"):
        assert bob.get(f"/nest/{guess}").status_code == 404
    blocked = bob.get(f"/api/nests/{code}")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert bob.get(f"/{code}").status_code == 429
    assert bob.get("/api/nests/main").status_code == 200
    assert alice.get(f"/api/nests/{code}").status_code == 200  # her own nest
    elsewhere = bob.get(f"/api/nests/{code}", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert elsewhere.status_code == 200


def test_non_code_paths_do_not_count_as_guesses(r):
    app = make_app(r, RATE_LIMITS={"unknown_code_ip": [1, 60]})
    alice = user_client(app, ALICE)
    for _ in range(3):
        assert alice.get("/favicon.ico").status_code == 404
    assert alice.get("/api/nests/main").status_code == 200


# --- pages -----------------------------------------------------------------------------------
def test_nest_page_context(r):
    # The operator says this server is echone.st (SHARE_BASE_URL): links use the domain.
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN, SHARE_BASE_URL="https://echone.st")
    alice = user_client(app, ALICE, name="Alice")
    code = create_nest(alice, "Page Nest")["code"]
    with rendered(app) as seen:
        response = alice.get(f"/nest/{code}")
    assert response.status_code == 200
    name, ctx = seen[-1]
    assert name == "main.html" and ctx["nest_id"] == code
    assert ctx["nest_info"] == {"id": code, "code": code, "name": "Page Nest", "is_main": False,
                                "created_by": ALICE, "member_count": 0,
                                "share_url": f"https://echone.st/{code}",
                                "bender_enabled": True}
    assert ctx["user"] == {"id": ALICE, "name": "Alice", "avatar_url": "", "is_admin": False}
    with alice.session_transaction() as sess:
        assert ctx["csrf_token"] == sess["csrf"]
    config = ctx["public_config"]
    assert config["ECHONEST_DOMAIN"] == "echone.st" and config["spotify_enabled"] is False
    assert "classic" in config["airhorn_names"] and "HOSTNAME" in config


def test_home_renders_the_main_nest(r, alice):
    with_domain = make_app(r, ECHONEST_API_TOKEN=TOKEN, SHARE_BASE_URL="https://echone.st")
    with rendered(with_domain) as seen:
        assert user_client(with_domain, ALICE).get("/").status_code == 200
    with rendered(alice.application) as also:
        assert alice.get("/").status_code == 200
    seen += also
    assert seen[0][1]["nest_id"] == "main" and seen[0][1]["nest_info"]["is_main"] is True
    assert seen[0][1]["nest_info"]["share_url"] == "https://echone.st/"
    assert seen[1][1]["nest_info"]["share_url"] == "http://localhost/"


def test_share_url_without_a_domain_is_this_servers_link(r):
    app = make_app(r, ECHONEST_DOMAIN="")
    alice = user_client(app, ALICE)
    code = create_nest(alice)["code"]
    with rendered(app) as seen:
        alice.get(f"/nest/{code}")
    assert seen[-1][1]["nest_info"]["share_url"] == f"http://localhost/{code}"


def test_short_links_and_case(alice):
    code = create_nest(alice)["code"]
    assert alice.get(f"/{code}").headers["Location"] == f"/nest/{code}"
    assert alice.get(f"/{code.lower()}").headers["Location"] == f"/nest/{code}"
    assert alice.get(f"/nest/{code.lower()}").headers["Location"] == f"/nest/{code}"
    assert alice.get("/nest/main").headers["Location"] == "/"


def test_unknown_nest_gets_the_themed_404_page(alice):
    for path in ("/nest/ZZZZZ", "/ZZZZZ", "/no-such-vanity"):
        response = alice.get(path)
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "EchoNest" in response.get_data(as_text=True)


# --- error shapes ----------------------------------------------------------------------------
def test_wrong_method_and_unknown_api_route_are_json(alice):
    wrong = alice.put("/api/nests", json={})
    assert wrong.status_code == 405 and wrong.get_json()["error"] == "method_not_allowed"
    assert alice.get("/api/nope").get_json()["error"] == "not_found"


def test_huge_bodies_are_refused_as_json(alice):
    response = alice.post("/api/nests", data="x" * 200_000, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"] == "invalid_request"


def test_crashes_are_json_without_a_traceback(app, alice, monkeypatch):
    import nests

    def explode(self):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(nests.NestManager, "list_nests", explode)
    response = alice.get("/api/nests")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal_error",
                                   "message": "Something went wrong on our side."}
    assert b"secret internals" not in response.data


def test_behind_a_trusted_proxy_limits_follow_the_forwarded_client(r):
    limits = {"create_nest_ip": [1, 3600], "create_nest_user": [9, 3600]}
    proxied = make_app(r, TRUSTED_PROXY_HOPS=1, RATE_LIMITS=limits)
    for n, user in enumerate((ALICE, BOB)):
        response = user_client(proxied, user).post(
            "/api/nests", json={}, headers={"X-Forwarded-For": f"203.0.113.{n}"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert response.status_code == 200
    direct = make_app(r, RATE_LIMITS=limits)  # no proxy trusted: the header is ignored
    statuses = [user_client(direct, user).post(
        "/api/nests", json={}, headers={"X-Forwarded-For": f"198.51.100.{n}"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code
        for n, user in enumerate(("carol@example.com", "dan@example.com"))]
    assert statuses == [200, 429]
