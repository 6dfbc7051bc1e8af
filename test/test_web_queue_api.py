"""Queue API per nest, main-nest compatibility routes and search, over the real DB and catalog."""

from __future__ import annotations

import json

import pytest
from web_support import (
    ALICE,
    BOB,
    CSRF,
    TOKEN,
    auth,
    create_nest,
    make_app,
    some_uris,
    user_client,
)

CAROL = "carol@example.com"


@pytest.fixture
def app(r):
    return make_app(r, ECHONEST_API_TOKEN=TOKEN, ADMIN_EMAILS=[CAROL])


@pytest.fixture
def uris(app):
    return some_uris(app, 6)


@pytest.fixture
def code(alice):
    return create_nest(alice, "Queue Nest")["code"]


def post(client, path, body=None):
    return client.post(path, json={} if body is None else body)


def queue(client, code):
    response = client.get(f"/api/nests/{code}/queue")
    assert response.status_code == 200
    return response.get_json()


def add(client, code, uri):
    response = post(client, f"/api/nests/{code}/songs", {"track_uri": uri})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the per-nest queue ----------------------------------------------------------------------
def test_add_and_list(alice, bob, code, uris):
    item = add(alice, code, uris[0])
    assert item["uri"] == item["trackid"] == uris[0] and item["user"] == ALICE
    assert item["title"] and item["duration"] > 0 and item["auto"] is False
    add(bob, code, uris[1])
    body = queue(alice, code)
    assert [i["uri"] for i in body["queue"]] == uris[:2]
    assert body["preview"] is None and body["version"] >= 2 and body["now"]
    assert alice.get(f"/api/nests/{code}").get_json()["last_activity"] >= item["added_at"][:19]


def test_adding_the_same_song_twice_is_a_conflict(alice, bob, code, uris):
    add(alice, code, uris[0])
    again = post(bob, f"/api/nests/{code}/songs", {"track_uri": uris[0]})
    assert again.status_code == 409 and again.get_json()["error"] == "already_queued"


@pytest.mark.parametrize("body", [{}, {"track_uri": 5}, {"track_uri": ["x"]},
                                  {"track_uri": ""}, {"track_uri": "x" * 10_000},
                                  {"track_uri": "local:track:nope"},
                                  {"track_uri": "ftp:track:1"}, [], "local:track:1", None])
def test_bad_adds_store_nothing(alice, code, body):
    response = alice.post(f"/api/nests/{code}/songs", data=json.dumps(body),
                          content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert queue(alice, code)["queue"] == []


def test_votes(alice, bob, code, uris):
    first = add(alice, code, uris[0])
    second = add(bob, code, uris[1])
    up = post(alice, f"/api/nests/{code}/vote", {"id": second["id"], "up": True})
    assert up.status_code == 200 and up.get_json()["vote"] == 1
    assert [i["id"] for i in queue(alice, code)["queue"]] == [second["id"], first["id"]]
    own = post(alice, f"/api/nests/{code}/vote", {"id": first["id"], "up": True})
    assert own.status_code == 403 and own.get_json()["error"] == "forbidden"
    missing = post(alice, f"/api/nests/{code}/vote", {"id": "no-such-item", "up": True})
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


@pytest.mark.parametrize("body", [{"id": 5, "up": True}, {"id": "x", "up": "yes"},
                                  {"id": "x", "up": 1}, {"up": True}, {"id": None, "up": False},
                                  {"id": "x" * 10_000, "up": True}])
def test_vote_with_wrong_types_is_invalid(alice, code, body):
    response = post(alice, f"/api/nests/{code}/vote", body)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_jam_toggles(alice, bob, code, uris):
    item = add(alice, code, uris[0])
    on = post(bob, f"/api/nests/{code}/jam", {"id": item["id"]}).get_json()
    assert on == {"id": item["id"], "jammed": True}
    assert queue(bob, code)["queue"][0]["jam"] == [BOB]
    assert post(bob, f"/api/nests/{code}/jam", {"id": item["id"]}).get_json()["jammed"] is False


def test_comments_keep_html_as_text(alice, bob, code, uris):
    item = add(alice, code, uris[0])
    text = "<script>alert('x')</script> nice"
    response = post(bob, f"/api/nests/{code}/comments", {"id": item["id"], "text": text})
    assert response.status_code == 200 and response.get_json()["body"] == text
    comments = queue(alice, code)["queue"][0]["comments"]
    assert [(c["user"], c["body"]) for c in comments] == [(BOB, text)]
    for bad in ({"id": item["id"], "text": "x" * 501}, {"id": item["id"], "text": "  "},
                {"id": item["id"], "text": 7}, {"id": item["id"], "text": "y" * 10_000}):
        assert post(bob, f"/api/nests/{code}/comments", bad).status_code == 400
    assert len(queue(alice, code)["queue"][0]["comments"]) == 1


def test_remove_skip_pause_resume_clear(alice, bob, code, uris):
    mine = add(alice, code, uris[0])
    theirs = add(bob, code, uris[1])
    refused = post(bob, f"/api/nests/{code}/remove", {"id": mine["id"]})
    assert refused.status_code == 403
    assert post(bob, f"/api/nests/{code}/remove", {"id": theirs["id"]}).status_code == 200
    add(bob, code, uris[2])
    for action in ("skip", "pause", "resume"):
        assert post(bob, f"/api/nests/{code}/{action}").status_code == 200, action
    assert post(bob, f"/api/nests/{code}/clear").status_code == 403
    assert len(queue(alice, code)["queue"]) == 2
    cleared = post(alice, f"/api/nests/{code}/clear")  # the creator
    assert cleared.status_code == 200 and queue(alice, code)["queue"] == []


def test_playing_when_idle(alice, code):
    playing = alice.get(f"/api/nests/{code}/playing").get_json()
    assert set(playing) == {"paused", "now"}


def test_airhorns(alice, code):
    response = post(alice, f"/api/nests/{code}/airhorn", {"name": "classic"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "classic" and 0 <= body["volume"] <= 100
    for bad in ({"name": "nuke"}, {"name": 3}, {}):
        assert post(alice, f"/api/nests/{code}/airhorn", bad).status_code == 400


def test_volume(alice, code):
    assert post(alice, f"/api/nests/{code}/volume", {"volume": 30}).get_json() == {"volume": 30}
    for bad in ({"volume": "loud"}, {"volume": 101}, {"volume": -1}, {"volume": True}, {}):
        response = post(alice, f"/api/nests/{code}/volume", bad)
        assert response.status_code == 400, bad


def test_bender_preview_buttons(app, alice, code, uris):
    with app.app_context():
        from echonest.web import context

        catalog = context.catalog()
        context.db(code).set_preview(catalog.lookup(uris[3]))
    stale = post(alice, f"/api/nests/{code}/bender/queue", {"uri": uris[4]})
    assert stale.status_code == 409
    taken = post(alice, f"/api/nests/{code}/bender/queue", {"uri": uris[3]})
    assert taken.status_code == 200 and taken.get_json()["user"] == ALICE
    assert uris[3] in [i["uri"] for i in queue(alice, code)["queue"]]
    assert post(alice, f"/api/nests/{code}/bender/filter", {"uri": 12}).status_code == 400


def test_actions_on_unknown_or_deleted_nests_are_404(alice, code, uris):
    assert post(alice, "/api/nests/ZZZZZ/songs", {"track_uri": uris[0]}).status_code == 404
    alice.delete(f"/api/nests/{code}", headers={"X-CSRF-Token": CSRF})
    gone = post(alice, f"/api/nests/{code}/songs", {"track_uri": uris[0]})
    assert gone.status_code == 404 and gone.get_json()["error"] == "not_found"


def test_nests_are_isolated(alice, bob, code, uris):
    other = create_nest(bob, "Other")["code"]
    item = add(alice, code, uris[0])
    assert queue(bob, other)["queue"] == []
    assert bob.get("/api/queue").get_json()["queue"] == []
    cross = post(bob, f"/api/nests/{other}/vote", {"id": item["id"], "up": True})
    assert cross.status_code == 404
    assert post(bob, f"/api/nests/{other}/remove", {"id": item["id"]}).status_code == 404
    assert queue(alice, code)["queue"][0]["vote"] == 0


# --- main-nest compatibility -----------------------------------------------------------------
def test_main_compat_routes(app, alice, bob, uris):
    item = post(alice, "/api/add_song", {"track_uri": uris[0]}).get_json()
    assert item["uri"] == uris[0]
    second = post(bob, "/add_song", {"track_uri": uris[1]}).get_json()
    with app.app_context():
        from echonest.web import context

        context.db("main").set_preview(context.catalog().lookup(uris[2]))
    legacy = alice.get("/api/queue").get_json()
    assert set(legacy) >= {"queue", "now"}  # old clients read data.get("queue")
    assert [i["uri"] for i in legacy["queue"]] == uris[:3]  # Bender's preview is the last one
    assert alice.get("/queue/").get_json()["queue"] == legacy["queue"]
    assert post(alice, "/api/queue/vote", {"id": second["id"], "up": True}).status_code == 200
    assert post(bob, "/jam", {"id": item["id"]}).get_json()["jammed"] is True
    assert post(bob, "/blast_airhorn", {"name": "tada"}).get_json()["name"] == "tada"
    assert set(alice.get("/api/playing").get_json()) >= {"paused", "now"}
    assert alice.get("/playing/").status_code == 200
    for action in ("skip", "pause", "resume"):
        assert post(bob, f"/api/queue/{action}").status_code == 200
    assert post(bob, "/api/queue/remove", {"id": item["id"]}).status_code == 403
    assert post(alice, "/api/queue/remove", {"id": item["id"]}).status_code == 200
    assert post(bob, "/api/queue/clear").status_code == 403


def test_main_admins_and_the_token_may_clear_main(app, uris):
    carol = user_client(app, CAROL)
    post(carol, "/api/add_song", {"track_uri": uris[0]})
    assert post(carol, "/api/queue/clear").status_code == 200
    operator = app.test_client()
    added = operator.post("/api/add_song", json={"track_uri": uris[1]}, headers=auth())
    assert added.get_json()["user"] == "token:api"
    assert operator.post("/api/queue/clear", headers=auth()).status_code == 200
    assert operator.get("/api/queue", headers=auth()).get_json()["queue"] == []


def test_classic_form_posts(app, alice, uris):
    added = alice.post("/add_song", data={"track_uri": uris[0], "csrf_token": CSRF})
    assert added.status_code == 200
    item = added.get_json()
    bob = user_client(app, BOB)
    voted = bob.post("/api/queue/vote", data={"id": item["id"], "up": "true", "csrf_token": CSRF})
    assert voted.status_code == 200 and voted.get_json()["vote"] == 1


# --- search ----------------------------------------------------------------------------------
def test_search_shapes(alice):
    for path in ("/search/v2", "/api/search"):
        results = alice.get(path, query_string={"q": "love"}).get_json()
        assert results and len(results) <= 10
        assert set(results[0]) == {"uri", "track_name", "artist", "album", "duration", "images",
                                   "audio_url"}
    assert alice.get("/api/search").status_code == 400
    assert alice.get("/api/search", query_string={"q": "x" * 10_000}).status_code == 400


# --- rate limits -----------------------------------------------------------------------------
def test_add_song_airhorn_and_comment_limits(r, uris):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN, AIRHORN_MAX=100, RATE_LIMITS={
        "add_song_user": [2, 3600], "airhorn_user": [1, 3600], "comment_user": [1, 3600]})
    alice = user_client(app, ALICE)
    item = post(alice, "/api/add_song", {"track_uri": uris[0]}).get_json()
    assert post(alice, "/api/add_song", {"track_uri": uris[1]}).status_code == 200
    limited = post(alice, "/api/add_song", {"track_uri": uris[2]})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["error"] == "rate_limited"
    assert len(alice.get("/api/queue").get_json()["queue"]) == 2
    assert post(alice, "/blast_airhorn", {"name": "classic"}).status_code == 200
    assert post(alice, "/blast_airhorn", {"name": "classic"}).status_code == 429
    comment = {"id": item["id"], "text": "hi"}
    assert post(alice, "/api/nests/main/comments", comment).status_code == 200
    assert post(alice, "/api/nests/main/comments", comment).status_code == 429
    operator = app.test_client()
    for uri in uris[2:5]:  # the operator token is exempt
        response = operator.post("/api/add_song", json={"track_uri": uri}, headers=auth())
        assert response.status_code == 200
