"""Moderation's rules in the domain layer: checks inside the atomic step, secrets kept apart."""

from __future__ import annotations

import json

import pytest
from nest_support import events_of, subscribe

from echonest import keys, moderation
from echonest.errors import Banned, Forbidden, InvalidRequest, InviteRequired, Kicked, NotFound
from echonest.nest_value import Nest


class Person:
    def __init__(self, user_id, kind="google", is_admin=False):
        self.id, self.kind, self.is_admin = user_id, kind, is_admin


ANN, BO, CY = Person("ann@x.io"), Person("bo@x.io"), Person("guest:cy", kind="guest")


def nest_of(mgr, code):
    return Nest.from_meta(code, mgr.get_nest(code))


@pytest.fixture
def code(mgr):
    return mgr.create_nest(ANN.id)["code"]


def test_a_demoted_host_holding_a_stale_nest_value_is_refused_inside_the_step(mgr, r, code):
    moderation.promote(r, nest_of(mgr, code), ANN, BO.id)
    stale = nest_of(mgr, code)                 # Bo is a host in this copy
    moderation.demote(r, nest_of(mgr, code), ANN, BO.id)
    with pytest.raises(Forbidden):
        moderation.change_settings(r, stale, BO, {"skip_mode": "hosts"})
    with pytest.raises(Forbidden):
        moderation.kick(r, stale, BO, CY.id)
    assert nest_of(mgr, code).settings["skip_mode"] == "anyone"


def test_settings_changes_publish_one_nest_update_and_never_the_secrets(mgr, r, code):
    nest = nest_of(mgr, code)
    secret = moderation.host_link_secret(r, nest, ANN)
    invite = moderation.create_invite(r, nest, ANN)
    pubsub = subscribe(r, code)
    meta = moderation.change_settings(r, nest, ANN, {"visibility": "invite_only"})
    assert meta["settings"] == {"visibility": "invite_only"}
    published = events_of(pubsub)
    assert [e["event"] for e in published] == ["nest_update"]
    text = json.dumps(published) + json.dumps(mgr.get_nest(code))
    assert secret not in text and invite not in text
    pubsub.close()


def test_admission_rules(mgr, r, code):
    nest = nest_of(mgr, code)
    moderation.admit(r, nest, CY)              # a listed nest: anyone
    moderation.change_settings(r, nest, ANN, {"visibility": "invite_only"})
    nest = nest_of(mgr, code)
    with pytest.raises(InviteRequired):
        moderation.admit(r, nest, CY)
    with pytest.raises(InviteRequired):
        moderation.admit(r, nest, CY, invite="made-up")
    token = moderation.create_invite(r, nest, ANN)
    moderation.admit(r, nest, CY, invite=token)
    moderation.revoke_invite(r, nest, ANN, token)
    moderation.admit(r, nest, CY)              # admitted for good
    with pytest.raises(NotFound):
        moderation.revoke_invite(r, nest, ANN, token)
    moderation.admit(r, nest, ANN)             # hosts always

    moderation.kick(r, nest, ANN, CY.id, minutes=1, now=1000.0)
    nest = nest_of(mgr, code)
    assert nest.moderated
    with pytest.raises(Kicked) as kicked:
        moderation.admit(r, nest, CY, now=1030.0)
    assert kicked.value.extra["until"] == 1060.0 and "1 min" in kicked.value.message
    moderation.admit(r, nest, CY, now=1061.0)  # the kick ran out (and is forgotten)
    assert not r.hexists(keys.nest_key(code, keys.BLOCKED), CY.id)
    moderation.ban(r, nest, ANN, CY.id)
    with pytest.raises(Banned):
        moderation.admit(r, nest, CY, now=10**10)
    assert moderation.blocked(r, nest) == [{"user": CY.id, "ban": True, "until": None}]
    moderation.unban(r, nest, ANN, CY.id)
    moderation.admit(r, nest, CY)


def test_the_host_link_rotates_and_opening_it_lifts_a_block(mgr, r, code):
    nest = nest_of(mgr, code)
    first = moderation.host_link_secret(r, nest, ANN)
    with pytest.raises(Forbidden):
        moderation.host_link_secret(r, nest, CY)
    moderation.ban(r, nest, ANN, CY.id)
    assert moderation.claim_host(r, nest, CY, first) is True
    assert CY.id in nest_of(mgr, code).hosts and not moderation.blocked(r, nest)
    assert moderation.claim_host(r, nest_of(mgr, code), CY, first) is False  # already one
    second = moderation.rotate_host_link(r, nest, ANN)
    assert second != first
    for wrong in (first, "", None, "x" * 500):
        with pytest.raises(Forbidden):
            moderation.claim_host(r, nest, BO, wrong)


def test_home_nest_hosts_are_admins_and_the_operator(mgr, r):
    main = Nest.from_meta("main", mgr.ensure_main())
    admin, token = Person("boss@x.io", is_admin=True), Person("token:api", kind="token")
    with pytest.raises(Forbidden):
        moderation.change_settings(r, main, ANN, {"skip_mode": "vote"})
    moderation.change_settings(r, main, admin, {"skip_mode": "vote"})
    moderation.kick(r, main, token, CY.id)
    with pytest.raises(Kicked):
        moderation.admit(r, Nest.from_meta("main", mgr.get_nest("main")), CY)
    with pytest.raises(Forbidden):
        moderation.hand_over(r, main, admin, ANN.id)


@pytest.mark.parametrize("user", [None, 5, "", " ", "x" * 200])
def test_hostile_targets_are_refused_before_anything_is_written(mgr, r, code, user):
    nest = nest_of(mgr, code)
    for act in (moderation.promote, moderation.kick, moderation.ban, moderation.hand_over):
        with pytest.raises(InvalidRequest):
            act(r, nest, ANN, user)
    assert mgr.get_nest(code).get("hosts") is None
    assert not r.exists(keys.nest_key(code, keys.BLOCKED))
