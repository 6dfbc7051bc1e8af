"""One Redis round trip per user action, over HTTP and over the WebSocket (issue 10, item 2).

Counted with the connection wrapper the benchmarks use (bench/roundtrips.py): a command, a
pipeline or a script call is one round trip. What one action costs, exactly:

- the guarded write script, which also checks the action's rate limits (the user's bucket and,
  over HTTP, whether the caller's IP is blocked for code guessing) and moves the nest's
  ``last_activity`` — one round trip;
- over HTTP with a browser session, at most one more per session per process every
  ``SESSION_CHECK_SECONDS``: the session-revocation check (``EXISTS
  NESTS|session-revoked:<sid>``, echonest.web.session_revocation), whose "still signed in"
  answer a process trusts that long, so the same person acting again within it costs one round
  trip in all; with the setting at 0 every request makes it; a Bearer token request has none;
- nothing else: a nest code this process resolved before is reused by write routes together
  with its metadata, and the write checks in the same script that the nest still exists and
  its metadata is unchanged (else the route runs again on a fresh read); the offline catalog
  answers from memory, and the Spotify token and back-off are remembered in process.

The first action of a process also loads the scripts and resolves the code; the counts below
are for the steady state (the same person acting again, as a party does all evening).
"""

from __future__ import annotations

import json

import pytest
from fake_spotify import fake_spotify  # noqa: F401  (pytest fixture)
from web_support import ALICE, BOB, TOKEN, auth, create_nest, make_app, some_uris, user_client

from bench.roundtrips import Counter, counting_client
from echonest import keys
from echonest.errors import CatalogError
from echonest.web.auth import User

GET_LUCKY = "spotify:track:69kOkLUCkxIZYexIgSG8rq"

CAROL = "carol@example.com"


@pytest.fixture
def counted(r, redis_url):
    client = counting_client(redis_url)
    yield client
    client.connection_pool.disconnect()


@pytest.fixture
def app(counted):
    # A party's steady state: the same people acting again and again within the window in
    # which a process trusts its last "still signed in" answer.
    return make_app(counted, ECHONEST_API_TOKEN=TOKEN, SESSION_CHECK_SECONDS=3600)


@pytest.fixture
def people(app):
    return user_client(app, ALICE, name="Alice"), user_client(app, BOB, name="Bob")


@pytest.fixture
def uris(app):
    return some_uris(app, 12)


SESSION_CHECK = b"NESTS|session-revoked:"


def _post(client, path, body):
    """(reply, round trips besides the session check, what was sent)."""
    with Counter() as count:
        response = client.post(path, json=body)
    assert response.status_code == 200, response.get_json()
    checks = sum(SESSION_CHECK in sent for sent in count.log)
    return response.get_json(), count.trips - checks, count.log


def _measured(client, path, body):
    reply, trips, log = _post(client, path, body)
    assert not any(SESSION_CHECK in sent for sent in log), log  # trusted within the window
    return reply, trips, log


def _meta(r, nest_id):
    return json.loads(r.hget(keys.NESTS_REGISTRY, nest_id))


@pytest.mark.parametrize("where", ["temporary", "main"])
def test_http_add_vote_jam_comment_cost_one_round_trip_each(r, app, people, uris, where):
    alice, bob = people
    code = create_nest(alice, "Trips")["code"] if where == "temporary" else "main"
    nest_id = code
    base = f"/api/nests/{code}"
    # Warm up: scripts loaded, the code resolved, both people's names recorded.
    first, _, _ = _post(alice, f"{base}/songs", {"track_uri": uris[0]})
    _post(bob, f"{base}/vote", {"id": first["id"], "up": True})
    _post(bob, f"{base}/jam", {"id": first["id"]})
    _post(bob, f"{base}/comments", {"id": first["id"], "text": "warm"})

    before = _meta(r, nest_id)["last_activity"]
    item, trips, log = _measured(alice, f"{base}/songs", {"track_uri": uris[1]})
    assert trips == 1, log
    voted, trips, log = _measured(bob, f"{base}/vote", {"id": item["id"], "up": True})
    assert trips == 1, log
    assert voted["vote"] == 1
    _, trips, log = _measured(bob, f"{base}/jam", {"id": item["id"]})
    assert trips == 1, log
    _, trips, log = _measured(bob, f"{base}/comments", {"id": item["id"], "text": "tune"})
    assert trips == 1, log
    # The round trip did all of it: the song, the vote, and the nest's activity.
    queued = alice.get(f"{base}/queue").get_json()["queue"]
    mine = next(i for i in queued if i["id"] == item["id"])
    assert mine["vote"] == 1 and mine["jam"] == [BOB] and mine["comments"][0]["body"] == "tune"
    assert _meta(r, nest_id)["last_activity"] > before


def test_http_with_no_trust_window_every_request_checks_its_session_first(counted, uris):
    strict = make_app(counted, SESSION_CHECK_SECONDS=0)
    alice = user_client(strict, ALICE, name="Alice")
    _post(alice, "/api/nests/main/songs", {"track_uri": uris[0]})  # warm up
    for uri in uris[1:3]:
        _, trips, log = _post(alice, "/api/nests/main/songs", {"track_uri": uri})
        assert SESSION_CHECK in log[0] and trips == 1, log
        assert sum(SESSION_CHECK in sent for sent in log) == 1, log


def test_http_limits_still_count_inside_the_one_round_trip(r, app, people, uris):
    alice, _ = people
    code = create_nest(alice, "Limits")["code"]
    limited = make_app(r, RATE_LIMITS={"add_song_user": [2, 3600]})
    alice = user_client(limited, ALICE, name="Alice")
    for uri in uris[:2]:
        assert alice.post(f"/api/nests/{code}/songs", json={"track_uri": uri}).status_code == 200
    refused = alice.post(f"/api/nests/{code}/songs", json={"track_uri": uris[2]})
    assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    queued = alice.get(f"/api/nests/{code}/queue").get_json()["queue"]
    assert [i["uri"] for i in queued] == uris[:2]
    # A refused person is refused again without spending a catalog lookup or a round trip.
    with Counter() as count:
        again = alice.post(f"/api/nests/{code}/songs", json={"track_uri": uris[3]})
    assert again.status_code == 429 and count.trips == 0


def test_http_a_blocked_guesser_is_refused_on_a_code_another_user_warmed(r, app, people, uris):
    alice, _ = people
    code = create_nest(alice, "Guarded")["code"]
    blocked = make_app(r, RATE_LIMITS={"unknown_code_user": [1, 60], "unknown_code_ip": [1, 60]})
    alice = user_client(blocked, ALICE, name="Alice")
    # Alice's write leaves the code resolved in this process...
    assert alice.post(f"/api/nests/{code}/songs", json={"track_uri": uris[0]}).status_code == 200
    # ...and Bob, never in that nest, guesses until he is blocked: the remembered code must not
    # become an oracle for him (the deferred guessing check refuses inside the write).
    guesser = user_client(blocked, BOB, name="Bob")
    assert guesser.get("/api/nests/ZZZZZ/queue").status_code == 404
    refused = guesser.post(f"/api/nests/{code}/songs", json={"track_uri": uris[1]})
    assert refused.status_code == 429, refused.get_json()
    assert len(alice.get(f"/api/nests/{code}/queue").get_json()["queue"]) == 1


def test_http_a_deleted_nest_is_not_found_even_right_after_use(app, people, uris):
    alice, _ = people
    code = create_nest(alice, "Short")["code"]
    assert alice.post(f"/api/nests/{code}/songs", json={"track_uri": uris[0]}).status_code == 200
    assert alice.delete(f"/api/nests/{code}", json={}).status_code == 200
    gone = alice.post(f"/api/nests/{code}/songs", json={"track_uri": uris[1]})
    assert gone.status_code == 404 and gone.get_json()["error"] == "not_found"


def test_websocket_actions_cost_one_round_trip_each(r, app, people, uris):
    from echonest.web import context
    from echonest.web.stream import SocketSession

    alice, _ = people
    code = create_nest(alice, "Socket")["code"]
    bob = User(id=BOB, name="Bob", email=BOB, kind="google")
    with app.test_request_context(f"/socket/{code}"):
        session = SocketSession(code, bob, lambda: context.action_context(code, bob), None,
                                None, 30)

        def send(action, args):
            with Counter() as count:
                reply = json.loads(session.answer(json.dumps(
                    {"action": action, "args": args, "ref": 1})))
            assert reply["event"] == "ack", reply
            return reply["data"], count.trips, count.log

        first, _, _ = send("add_song", {"track_uri": uris[0]})  # warm up: scripts loaded
        for action, args in (("vote", {"id": first["id"], "up": False}),
                             ("jam", {"id": first["id"]}),
                             ("add_comment", {"id": first["id"], "text": "warm"}),
                             ("airhorn", {"name": "classic"})):
            send(action, args)
        alice.post(f"/api/nests/{code}/songs", json={"track_uri": uris[1]})
        theirs = alice.get(f"/api/nests/{code}/queue").get_json()["queue"][-1]
        before = _meta(r, code)["last_activity"]
        for action, args in (("add_song", {"track_uri": uris[2]}),
                             ("vote", {"id": theirs["id"], "up": True}),
                             ("jam", {"id": theirs["id"]}),
                             ("add_comment", {"id": theirs["id"], "text": "yes"}),
                             ("airhorn", {"name": "foghorn"})):
            data, trips, log = send(action, args)
            assert trips == 1, (action, log)
        assert _meta(r, code)["last_activity"] > before
        assert r.hget(keys.nest_key(code, keys.queue_votes(theirs["id"])), BOB) == "1"


def test_the_operator_token_acts_in_one_round_trip_too(app, people, uris):
    alice, _ = people
    client = app.test_client()
    client.post("/api/nests/main/songs", json={"track_uri": uris[0]}, headers=auth())
    with Counter() as count:
        added = client.post("/api/nests/main/songs", json={"track_uri": uris[1]},
                            headers=auth())
    assert added.status_code == 200 and count.trips == 1, count.log


def test_a_spotify_lookup_spends_no_round_trip_on_the_token_or_the_back_off(
        counted, fake_spotify):  # noqa: F811
    from echonest.catalog.spotify import SpotifyProvider

    provider = SpotifyProvider(fake_spotify.conf(), counted)
    provider.lookup(GET_LUCKY)  # fetches and stores the shared token
    with Counter() as count:
        assert provider.lookup(GET_LUCKY).uri == GET_LUCKY
    assert count.trips == 0, count.log
    # A back-off another process noted is still honoured once the short memo runs out.
    counted.set(keys.SPOTIFY_RATE_LIMITED, "1", ex=30)
    provider._backoff.clear_until = 0
    with pytest.raises(CatalogError, match="try again in"):
        provider.lookup(GET_LUCKY)


def test_a_settings_change_elsewhere_is_honoured_at_once_over_http_and_ws(r, app, people, uris):
    from echonest.web import context
    from echonest.web.stream import SocketSession

    alice, bob = people
    code = create_nest(alice, "Strict")["code"]
    elsewhere = user_client(make_app(r), ALICE, name="Alice")  # another web process
    assert bob.post(f"/api/nests/{code}/songs", json={"track_uri": uris[0]}).status_code == 200

    def settle(**settings):
        assert elsewhere.patch(f"/api/nests/{code}",
                               json={"settings": settings}).status_code == 200

    settle(adds_open=False)  # this process still remembers the nest open
    closed = bob.post(f"/api/nests/{code}/songs", json={"track_uri": uris[1]})
    assert closed.status_code == 403 and closed.get_json()["error"] == "adds_closed"
    settle(adds_open=True)   # ...and now remembers it closed
    assert bob.post(f"/api/nests/{code}/songs", json={"track_uri": uris[1]}).status_code == 200

    user = User(id=CAROL, name="Carol", email=CAROL, kind="google")  # Bob has 2 of 3 songs
    with app.test_request_context(f"/socket/{code}"):
        session = SocketSession(code, user, lambda: context.action_context(code, user), None,
                                None, 30)

        def add(uri):
            return json.loads(session.answer(json.dumps(
                {"action": "add_song", "args": {"track_uri": uri}, "ref": 1})))

        assert add(uris[2])["event"] == "ack"
        settle(adds_open=False)
        refused = add(uris[3])
        assert refused["event"] == "error" and refused["data"]["error"] == "adds_closed"
        settle(adds_open=True)
        again = add(uris[3])
        assert again["event"] == "ack", again
    queued = {i["uri"] for i in alice.get(f"/api/nests/{code}/queue").get_json()["queue"]}
    assert queued == set(uris[:4])
