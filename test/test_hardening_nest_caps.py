"""Caps on *active* temporary nests per person and per address; the operator is never refused
because guests took the slots."""

from __future__ import annotations

from web_support import ALICE, BOB, TOKEN, auth, make_app, user_client

import nests

CAROL = "carol@example.com"


def _create(client, ip="10.0.0.1", headers=None):
    return client.post("/api/nests", json={}, headers=headers or {},
                       environ_base={"REMOTE_ADDR": ip})


def test_one_person_holds_at_most_their_share_of_active_nests(r):
    app = make_app(r, NEST_MAX_ACTIVE=20, NEST_MAX_ACTIVE_PER_USER=2, NEST_MAX_ACTIVE_PER_IP=10,
                   RATE_LIMITS={})
    alice = user_client(app, ALICE)
    codes = [_create(alice).get_json()["code"] for _ in range(2)]
    refused = _create(alice)
    assert refused.status_code == 429 and refused.get_json()["error"] == "nest_limit_reached"
    assert _create(user_client(app, BOB)).status_code == 200  # others are not held back
    assert alice.delete(f"/api/nests/{codes[0]}", json={}).status_code == 200
    assert _create(alice).status_code == 200  # a slot frees when a nest goes away


def test_one_address_cannot_take_every_slot(r):
    app = make_app(r, NEST_MAX_ACTIVE=6, NEST_MAX_ACTIVE_PER_USER=10, NEST_MAX_ACTIVE_PER_IP=3,
                   RATE_LIMITS={})
    people = [user_client(app, f"user{i}@example.com") for i in range(5)]
    statuses = [_create(person, ip="203.0.113.9").status_code for person in people]
    assert statuses == [200, 200, 200, 429, 429]
    assert _create(user_client(app, CAROL), ip="198.51.100.4").status_code == 200


def test_the_operator_token_is_never_refused_because_guests_took_the_slots(r):
    app = make_app(r, NEST_MAX_ACTIVE=3, NEST_MAX_ACTIVE_PER_USER=3, NEST_MAX_ACTIVE_PER_IP=3,
                   ECHONEST_API_TOKEN=TOKEN, RATE_LIMITS={})
    guests = [user_client(app, f"guest{i}@example.com") for i in range(4)]
    assert [_create(g).status_code for g in guests] == [200, 200, 200, 429]
    operator = app.test_client()
    for _ in range(3):
        assert _create(operator, headers=auth()).status_code == 200


def test_caps_hold_in_the_domain_layer_too(r):
    from config import CONF

    manager = nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=10, NEST_MAX_ACTIVE_PER_USER=1,
                                                  NEST_MAX_ACTIVE_PER_IP=0))
    manager.create_nest(ALICE, ip="10.1.1.1")
    try:
        manager.create_nest(ALICE, ip="10.1.1.2")
    except nests.NestLimitReached:
        pass
    else:
        raise AssertionError("a second active nest for one person was allowed")
    manager.create_nest(ALICE, ip="10.1.1.2", exempt=True)
