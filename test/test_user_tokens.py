"""echonest.user_tokens: tokens kept only as digests, owners' lists, revocation, link codes."""

from __future__ import annotations

import pytest

from config import CONF
from echonest import keys, user_tokens
from echonest.errors import Conflict, InvalidRequest

ALICE = {"id": "alice@example.com", "name": "Alice", "email": "alice@example.com",
         "kind": "google"}
BOB = {"id": "bob@example.com", "name": "Bob", "email": "bob@example.com", "kind": "google"}


def everything_stored(r) -> str:
    """Every key, field and value in the database, as one string to search."""
    parts = []
    for key in r.scan_iter("*"):
        parts.append(key)
        kind = r.type(key)
        if kind == "hash":
            parts += [f"{k}={v}" for k, v in r.hgetall(key).items()]
        elif kind == "string":
            parts.append(r.get(key))
    return "\n".join(parts)


def test_a_token_is_stored_only_as_its_digest(r):
    token, record = user_tokens.mint_user_token(r, ALICE, "Laptop", now=1_000)
    assert token.startswith("ens_") and len(token) > 40
    assert token not in everything_stored(r)
    assert r.exists(keys.api_token(user_tokens.digest(token)))
    assert record == {"id": record["id"], "label": "Laptop", "scope": "user",
                      "created_at": 1000}
    found = user_tokens.lookup(r, token)
    assert found["owner"] == ALICE["id"] and found["email"] == ALICE["email"]


def test_owners_list_and_revoke_only_their_own_tokens(r):
    first, one = user_tokens.mint_user_token(r, ALICE, "one", now=1)
    second, two = user_tokens.mint_user_token(r, ALICE, None, now=2)
    bobs, _ = user_tokens.mint_user_token(r, BOB, "bob's", now=3)
    listed = user_tokens.list_tokens(r, ALICE["id"])
    assert [t["id"] for t in listed] == [two["id"], one["id"]]  # newest first
    assert listed[0]["label"] == "API token"
    assert all(set(t) == {"id", "label", "scope", "created_at"} for t in listed)

    assert user_tokens.revoke(r, BOB["id"], one["id"]) is False  # not Bob's to revoke
    assert user_tokens.lookup(r, first) is not None
    assert user_tokens.revoke(r, ALICE["id"], one["id"]) is True
    assert user_tokens.lookup(r, first) is None
    assert user_tokens.revoke(r, ALICE["id"], one["id"]) is False
    assert user_tokens.revoke(r, ALICE["id"], "../../etc") is False
    assert user_tokens.revoke_all(r, ALICE["id"]) == 1
    assert user_tokens.lookup(r, second) is None and user_tokens.lookup(r, bobs) is not None
    assert user_tokens.list_tokens(r, ALICE["id"]) == []


def test_a_person_may_hold_a_bounded_number_of_tokens(r):
    for n in range(user_tokens.MAX_TOKENS_PER_OWNER):
        user_tokens.mint_user_token(r, ALICE, f"t{n}")
    with pytest.raises(Conflict) as refused:
        user_tokens.mint_user_token(r, ALICE, "one too many")
    assert refused.value.code == "too_many_tokens"
    assert len(user_tokens.list_tokens(r, ALICE["id"])) == user_tokens.MAX_TOKENS_PER_OWNER


@pytest.mark.parametrize("label", [42, ["x"], "x" * 41])
def test_labels_must_be_short_text(r, label):
    with pytest.raises(InvalidRequest):
        user_tokens.mint_user_token(r, ALICE, label)
    assert user_tokens.list_tokens(r, ALICE["id"]) == []


def test_labels_lose_invisible_and_control_characters(r):
    _, record = user_tokens.mint_user_token(r, ALICE, "Work\u200b\x00 laptop")
    assert record["label"] == "Work laptop"


def test_labels_with_direction_overrides_are_refused_and_mint_nothing(r):
    # The one text check (echonest/validation.py) refuses bidi overrides everywhere.
    with pytest.raises(InvalidRequest):
        user_tokens.mint_user_token(r, ALICE, "\u202eWork laptop")
    assert user_tokens.list_tokens(r, ALICE["id"]) == []


@pytest.mark.parametrize("presented", [None, 7, "", "ens_", "ens_" + "x" * 200, "Bearer x",
                                       "not-ours-at-all"])
def test_malformed_or_unknown_tokens_find_nothing(r, presented):
    user_tokens.mint_user_token(r, ALICE)
    assert user_tokens.lookup(r, presented) is None


def test_sync_tokens_belong_to_nobody_and_remember_only_which_invite(r):
    token, record = user_tokens.mint_sync_token(r, "futureofmusic")
    found = user_tokens.lookup(r, token)
    assert found["scope"] == "sync" and found["owner"].startswith("sync:")
    assert "futureofmusic" not in everything_stored(r)
    conf = CONF.copy(SYNC_INVITE_CODES=["futureofmusic"])
    assert found["invite"] in user_tokens.live_invites(conf)
    assert found["invite"] not in user_tokens.live_invites(CONF.copy(SYNC_INVITE_CODES=["new"]))


def test_invite_codes_come_from_a_list_or_a_comma_string():
    assert user_tokens.invite_codes(CONF.copy(SYNC_INVITE_CODES=[])) == []
    assert user_tokens.invite_codes(CONF.copy(SYNC_INVITE_CODES=" a, b ,")) == ["a", "b"]
    conf = CONF.copy(SYNC_INVITE_CODES=["alpha", "beta"])
    assert user_tokens.matching_invite(conf, " beta ") == "beta"
    assert user_tokens.matching_invite(conf, "Beta") is None
    assert user_tokens.matching_invite(conf, {"x": 1}) is None


def test_a_link_code_is_one_use_and_a_new_one_replaces_the_last(r):
    first = user_tokens.new_link_code(r, ALICE)
    assert len(first) == 6 and set(first) <= set(user_tokens.LINK_ALPHABET)
    assert 0 < r.ttl(keys.sync_link_code(first)) <= user_tokens.LINK_CODE_SECONDS
    second = user_tokens.new_link_code(r, ALICE)
    assert user_tokens.redeem_link_code(r, first) is None  # replaced
    bobs = user_tokens.new_link_code(r, BOB)
    assert user_tokens.redeem_link_code(r, f" {second.lower()} ")["id"] == ALICE["id"]
    assert user_tokens.redeem_link_code(r, second) is None  # used
    assert user_tokens.redeem_link_code(r, bobs)["name"] == "Bob"


def test_an_expired_link_code_is_gone(r):
    code = user_tokens.new_link_code(r, ALICE)
    r.pexpire(keys.sync_link_code(code), 1)
    r.pexpire(keys.sync_link_of(ALICE["id"]), 1)
    import time

    time.sleep(0.01)
    assert user_tokens.redeem_link_code(r, code) is None


@pytest.mark.parametrize("code", ["", "ABC", "ABCDEFG", "ABCDE0", "<b>xx</b>", "ABCDE\u200b"])
def test_malformed_link_codes_find_nothing(r, code):
    assert user_tokens.redeem_link_code(r, code) is None


def test_a_link_code_must_be_text(r):
    with pytest.raises(InvalidRequest):
        user_tokens.redeem_link_code(r, 123456)
