"""Hostile input: nested JSON, invisible or direction-flipping text, the house's names, and a
playing song queued a second time. Each is refused with the error shape and changes nothing."""

from __future__ import annotations

import json

import pytest
from db_helpers import track
from servers import Guest, WSClient, web_server
from web_support import ALICE, guest_sign_in, login_csrf, make_app, user_client

from db import DB
from echonest.errors import EchoNestError, InvalidRequest
from echonest.user_names import clean_display_name
from echonest.validation import require_text

HOSTILE_BODIES = [
    '{"a":' * 8000,                        # 40 KB of open objects, never closed
    "[" * 5000 + "]" * 5000,               # valid JSON, absurdly deep
    '{"args": ' + '{"x": ' * 100 + "1" + "}" * 100 + "}",  # deeper than any action needs
]


@pytest.fixture
def app(r):
    return make_app(r)


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_deeply_nested_json_over_http_is_a_400(app, body):
    alice = user_client(app, ALICE)
    before = alice.get("/api/nests/main/queue").get_json()["queue"]
    resp = alice.post("/api/nests/main/songs", data=body, content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_request" and resp.get_json()["message"]
    assert alice.get("/api/nests/main/queue").get_json()["queue"] == before


def test_deeply_nested_json_over_a_websocket_is_an_error_frame(r, redis_url):
    with web_server(redis_url, {"USE_BENDER": False}) as server:
        guest = Guest(server.url, "Nester")
        ws = WSClient(server.ws_url, "/socket", guest.cookie)
        ws.initial_state()
        for body in HOSTILE_BODIES:
            ws.ws.send(body)
            frame = ws.wait_for(lambda f: f.get("event") == "error")
            assert frame["data"]["error"] == "invalid_request"
        ws.send("ping", ref="still-open")  # the socket survives
        assert ws.reply("still-open")["event"] == "ack"
        ws.close()


def test_ordinary_nesting_still_parses():
    from echonest.validation import parse_json

    assert parse_json('{"a": [1, {"b": "[[[[{{{{"}]}') == {"a": [1, {"b": "[[[[{{{{"}]}
    with pytest.raises(InvalidRequest):
        parse_json("[" * 40 + "]" * 40)


@pytest.mark.parametrize("text", [
    "\u200b\u200b\u200b",           # zero-width spaces
    "\u2060\ufeff\u200d",           # word joiner, BOM, zero-width joiner
    "\u3164\u3164",                 # Hangul fillers: "letters" that draw nothing
    "\u00ad\u034f",                 # soft hyphen, combining grapheme joiner
    "\u202egnp.exe",                # right-to-left override
    "nice song \u2066evil\u2069",   # an isolate
])
def test_invisible_and_direction_flipping_comments_are_refused(app, r, text):
    alice = user_client(app, ALICE)
    uri = alice.get("/api/search?q=love").get_json()[0]["uri"]
    item = alice.post("/api/nests/main/songs", json={"track_uri": uri}).get_json()
    resp = alice.post("/api/nests/main/comments", json={"id": item["id"], "text": text})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"
    queue = alice.get("/api/nests/main/queue").get_json()["queue"]
    assert queue[0]["comments"] == []


def test_visible_text_with_marks_and_emoji_is_kept():
    assert require_text(" café 🎉 ", "'text'", 50) == "café 🎉"
    assert require_text("שלום עולם", "'text'", 50) == "שלום עולם"  # right-to-left is fine


@pytest.mark.parametrize("name", ["Bender", "bender", "B E N D E R", "BENDER!", "B3nder",
                                  "\u0412\u0435nder", "Bender \U0001f916", "API"])
def test_guests_cannot_take_the_houses_names(app, name):
    client = app.test_client()
    resp = guest_sign_in(client, name)
    assert resp.status_code == 400
    assert "house" in resp.get_data(as_text=True)
    assert client.get("/api/nests/main").status_code == 401  # not signed in


@pytest.mark.parametrize("name", ["\u3164", "\u3164 \u3164", "\u2800\u2800"])
def test_blank_looking_guest_names_are_refused(app, name):
    client = app.test_client()
    assert guest_sign_in(client, name).status_code == 400
    assert client.get("/api/nests/main").status_code == 401
    assert clean_display_name(name, "Guest") == "Guest"


def test_ordinary_guest_names_still_work(app):
    client = app.test_client()
    login_csrf(client)
    assert guest_sign_in(client, "Benedict").status_code == 302
    assert client.get("/api/nests/main").status_code == 200


def test_the_playing_song_cannot_be_queued_again_while_it_plays(r):
    db = DB(redis_client=r)
    song = track("hit")
    db.add_song(song, "a@x.io")
    db.advance(now=1000.0)
    assert db.now_playing(now=1001.0)["uri"] == song.uri
    assert song.uri in db.queued_uris()  # Bender will not pick it either
    with pytest.raises(EchoNestError) as refused:
        db.add_song(song, "b@x.io")
    assert refused.value.code == "already_queued" and refused.value.status == 409
    assert db.queue_items() == []
    json.dumps(db.queue_body(now=1001.0))
