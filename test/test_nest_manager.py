"""NestManager against the real engine: codes, names, limits, vanity codes, delete."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from nest_support import NOW, events_of, subscribe

import nests
from config import CONF
from echonest import atomic, keys
from echonest.errors import Forbidden, InvalidRequest, NestGone, NestLimitReached, NotFound
from echonest.nest_names import CODE_ALPHABET, THEMED_NAMES


# --- create ------------------------------------------------------------------------------------
def test_create_stores_spec_metadata_and_code_lookup(mgr, r):
    meta = mgr.create_nest("ana@example.com", now=NOW)
    code = meta["code"]
    assert len(code) == 5 and set(code) <= set(CODE_ALPHABET) and meta["id"] == code
    assert meta["name"] in THEMED_NAMES and meta["genre_hint"] == THEMED_NAMES[meta["name"]]
    assert meta["created_by"] == "ana@example.com" and meta["is_main"] is False
    assert meta["created_at"] == meta["last_activity"] == "2026-03-02T12:00:00+00:00"
    assert meta["ttl_minutes"] == CONF.NEST_MAX_INACTIVE_MINUTES
    assert meta["bender_enabled"] is CONF.NEST_BENDER_DEFAULT
    assert json.loads(r.hget("NESTS|registry", code)) == meta
    assert r.get(f"NESTS|code:{code}") == code
    assert mgr.get_nest(code) == meta


def test_bender_default_comes_from_config(r):
    off = nests.NestManager(r, conf=CONF.copy(NEST_BENDER_DEFAULT=False))
    assert off.create_nest("a@x.io")["bender_enabled"] is False


def test_themed_names_are_unused_and_each_seeds_a_genre(mgr):
    assert len(THEMED_NAMES) >= 30 and all(THEMED_NAMES.values())
    names = [mgr.create_nest(f"u{i}@x.io")["name"] for i in range(len(THEMED_NAMES))]
    assert sorted(names) == sorted(THEMED_NAMES)
    extra = mgr.create_nest("late@x.io")["name"]
    assert extra not in names and extra.split(" ")[0] in THEMED_NAMES


@pytest.mark.parametrize("raw, clean", [
    ("  Friday \t\n  Jams  ", "Friday Jams"),
    ("Caf\u00e9\u200b Night\x00\x07", "Café Night"),
    ("<b>Party</b>", "<b>Party</b>"),  # stored as text; every page escapes it
    ("x" * 40, "x" * 40),
])
def test_names_are_cleaned(mgr, raw, clean):
    assert mgr.create_nest("a@x.io", name=raw)["name"] == clean


@pytest.mark.parametrize("bad", ["", "   ", "!!! ???", "\x00\x01", "x" * 41, 42, None.__class__,
                                 ["FunkNest"], "y" * 5000])
def test_bad_names_are_rejected_and_nothing_is_stored(mgr, r, bad):
    with pytest.raises(InvalidRequest) as err:
        mgr.create_nest("a@x.io", name=bad)
    assert err.value.status == 400 and err.value.to_dict()["error"] == "invalid_request"
    assert r.hlen("NESTS|registry") <= 1  # at most main


def test_explicit_themed_name_keeps_its_genre_and_seed_uri_is_kept(mgr):
    meta = mgr.create_nest("a@x.io", name="jazznest", seed_uri="local:track:abc")
    assert meta["genre_hint"] == "jazz" and meta["seed_uri"] == "local:track:abc"
    with pytest.raises(InvalidRequest):
        mgr.create_nest("a@x.io", seed_uri="<script>alert(1)</script>")


def test_bad_creator_is_rejected(mgr):
    for bad in ("", "   ", None, 7, "x" * 400):
        with pytest.raises(InvalidRequest):
            mgr.create_nest(bad)


def test_limit_counts_temporary_nests_only_and_offers_an_upgrade(r):
    mgr = nests.NestManager(r, conf=CONF.copy(NEST_MAX_ACTIVE=2))
    mgr.ensure_main()
    mgr.create_nest("a@x.io")
    mgr.create_nest("b@x.io")
    with pytest.raises(NestLimitReached) as err:
        mgr.create_nest("c@x.io")
    body = err.value.to_dict()
    assert err.value.status == 429 and body["error"] == "nest_limit_reached"
    assert "upgrade" in body["message"].lower() and body["upgrade_url"].startswith("https://")
    assert r.hlen("NESTS|registry") == 3


def test_code_claim_is_atomic_and_retries_on_collision(mgr, r, monkeypatch):
    first = mgr.create_nest("a@x.io")["code"]
    offered = iter([first, "BBBBB"])
    monkeypatch.setattr(mgr, "generate_code", lambda: next(offered))
    assert mgr.create_nest("b@x.io")["code"] == "BBBBB"
    assert json.loads(r.hget("NESTS|registry", first))["created_by"] == "a@x.io"


def test_generate_code_skips_codes_in_use_or_being_deleted(mgr, r, monkeypatch):
    r.set("NESTS|code:AAAAA", "AAAAA")
    r.set("NESTS|deleting:CCCCC", "1")
    offered = iter("AAAAA CCCCC DDDDD".split())
    monkeypatch.setattr(nests, "_random_code", lambda length: next(offered))
    assert mgr.generate_code() == "DDDDD"


# --- lookup ------------------------------------------------------------------------------------
def test_resolve_code_is_case_insensitive_and_hostile_input_is_unknown(mgr):
    code = mgr.create_nest("a@x.io")["code"]
    assert mgr.resolve_code(code.lower()) == code
    assert mgr.resolve_code(f"  {code} ") == code
    assert mgr.resolve_code("MAIN") == "main"
    for bad in ("ZZZZZ", "", None, 12345, "x" * 10_000, "<script>"):
        assert mgr.resolve_code(bad) is None


def test_main_exists_on_first_use_and_lists_first(mgr, r):
    assert r.hget("NESTS|registry", "main") is None
    code = mgr.create_nest("a@x.io")["code"]
    listed = mgr.list_nests()
    assert [nest_id for nest_id, _ in listed] == ["main", code]
    main = dict(listed)["main"]
    assert main["is_main"] is True and main["code"] == "main" and main["name"] == "Home Nest"
    assert mgr.get_nest("nope") is None and mgr.get_nest(None) is None


# --- update ------------------------------------------------------------------------------------
def test_update_is_creator_only_and_publishes_nest_update(mgr, r):
    code = mgr.create_nest("a@x.io", name="Old")["code"]
    with pytest.raises(Forbidden):
        mgr.update_nest(code, "mallory@x.io", name="Mine now")
    pubsub = subscribe(r, code)
    meta = mgr.update_nest(code, "a@x.io", name="  New   Name ", bender_enabled=False)
    assert meta["name"] == "New Name" and meta["bender_enabled"] is False
    assert mgr.get_nest(code) == meta
    [event] = events_of(pubsub)
    assert event["event"] == "nest_update" and event["nest"] == code and event["data"] == meta
    pubsub.close()


def test_main_and_unknown_nests_cannot_be_updated(mgr):
    with pytest.raises(Forbidden):
        mgr.update_nest("main", "system", name="Mine")
    with pytest.raises(NotFound):
        mgr.update_nest("ZZZZZ", "a@x.io", name="x")


@pytest.mark.parametrize("bad", ["ab", "9lives", "has space", "under_score", "x" * 25, "admin",
                                 "API", "main", "nést", 7])
def test_invalid_vanity_codes_are_rejected_without_change(mgr, bad):
    code = mgr.create_nest("a@x.io", name="Keep")["code"]
    with pytest.raises(InvalidRequest):
        mgr.update_nest(code, "a@x.io", name="Changed", vanity_code=bad)
    assert mgr.get_nest(code)["name"] == "Keep"


def test_vanity_codes_resolve_are_unique_and_move(mgr, r):
    one = mgr.create_nest("a@x.io")["code"]
    two = mgr.create_nest("b@x.io")["code"]
    assert mgr.update_nest(one, "a@x.io", vanity_code="Team-Party")["vanity_code"] == "team-party"
    assert mgr.resolve_code("TEAM-PARTY") == one
    with pytest.raises(InvalidRequest):
        mgr.update_nest(two, "b@x.io", vanity_code="team-party")
    with pytest.raises(InvalidRequest):  # would shadow another nest's code
        mgr.update_nest(two, "b@x.io", vanity_code=one.lower())
    mgr.update_nest(one, "a@x.io", vanity_code="friday")
    assert mgr.resolve_code("team-party") is None and mgr.resolve_code("friday") == one
    mgr.update_nest(two, "b@x.io", vanity_code="team-party")
    assert mgr.resolve_code("team-party") == two
    mgr.update_nest(one, "a@x.io", vanity_code="")
    assert mgr.resolve_code("friday") is None and "vanity_code" not in mgr.get_nest(one)


def test_bender_switch_must_be_boolean(mgr):
    code = mgr.create_nest("a@x.io")["code"]
    with pytest.raises(InvalidRequest):
        mgr.update_nest(code, "a@x.io", bender_enabled="yes")


# --- delete ------------------------------------------------------------------------------------
def test_delete_removes_everything_and_announces_it(mgr, r):
    code = mgr.create_nest("a@x.io")["code"]
    mgr.update_nest(code, "a@x.io", vanity_code="gone-soon")
    mgr.join_nest(code, "a@x.io")
    atomic.apply(r, code, [["SET", keys.nest_key(code, keys.VOLUME), 30],
                           ["ZADD", keys.nest_key(code, keys.PRIORITY_QUEUE), 1, "1"]])
    pubsub = subscribe(r, code)
    assert mgr.delete_nest(code) is True
    assert [e["event"] for e in events_of(pubsub)] == ["nest_deleted"]
    assert r.keys(f"NEST:{code}|*") == []
    assert r.hget("NESTS|registry", code) is None
    assert r.get(f"NESTS|code:{code}") is None and r.get("NESTS|code:gone-soon") is None
    assert r.get(f"NESTS|deleting:{code}") is None and r.smembers("NESTS|deleting") == set()
    assert mgr.resolve_code(code) is None and mgr.get_nest(code) is None
    pubsub.close()


def test_late_writers_cannot_resurrect_a_deleted_nest(mgr, r):
    code = mgr.create_nest("a@x.io")["code"]
    mgr.delete_nest(code)
    with pytest.raises(NestGone):
        mgr.join_nest(code, "late@x.io")
    with pytest.raises(NestGone):
        mgr.heartbeat(code, "late@x.io")
    assert mgr.leave_nest(code, "late@x.io") == 0
    assert mgr.touch_nest(code) is False
    assert mgr.member_count(code) == 0
    assert r.keys(f"NEST:{code}|*") == [] and r.hget("NESTS|registry", code) is None


def test_main_cannot_be_deleted_and_unknown_is_not_found(mgr):
    with pytest.raises(Forbidden):
        mgr.delete_nest("main")
    with pytest.raises(NotFound):
        mgr.delete_nest("ZZZZZ")


def test_writers_hammering_during_delete_leave_no_keys(mgr, r, redis_url):
    from echonest.store import connect

    code = mgr.create_nest("a@x.io")["code"]
    pipe = r.pipeline(transaction=False)
    for i in range(20_000):  # enough keys that the sweep takes many SCAN rounds
        pipe.set(keys.nest_key(code, keys.fill_info(f"local:track:{i}")), "x")
    pipe.execute()
    stop = threading.Event()
    refused = []

    def hammer(worker: int) -> None:
        own = nests.NestManager(connect(redis_url))
        while not stop.is_set():
            try:
                own.join_nest(code, f"w{worker}@x.io")
                own.heartbeat(code, f"w{worker}@x.io")
                atomic.apply(own.redis, code,
                             [["SET", keys.nest_key(code, keys.VOLUME), worker]])
            except NestGone:
                refused.append(worker)
                own.leave_nest(code, f"w{worker}@x.io")

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        assert mgr.delete_nest(code) is True
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert refused, "the writers should have been refused at least once"
    assert r.keys(f"NEST:{code}|*") == []
    assert r.hget("NESTS|registry", code) is None


def test_conditional_delete_spares_a_nest_that_woke_up(mgr, r):
    code = mgr.create_nest("a@x.io", now=NOW)["code"]
    seen = mgr.get_nest(code)["last_activity"]
    mgr.touch_nest(code, now=NOW + timedelta(minutes=1))
    assert mgr.delete_nest(code, only_if_idle_since=seen) is False
    fresh = mgr.get_nest(code)["last_activity"]
    mgr.join_nest(code, "b@x.io", now=NOW + timedelta(minutes=1))
    assert mgr.delete_nest(code, only_if_idle_since=fresh) is False
    mgr.leave_nest(code, "b@x.io")
    assert mgr.delete_nest(code, only_if_idle_since=fresh) is True


def test_deleted_code_can_be_reused(mgr, monkeypatch):
    code = mgr.create_nest("a@x.io")["code"]
    mgr.delete_nest(code)
    monkeypatch.setattr(mgr, "generate_code", lambda: code)
    assert mgr.create_nest("b@x.io")["created_by"] == "b@x.io"


def test_every_themed_genre_gives_bender_songs_offline():
    from echonest.catalog import get_catalog

    catalog = get_catalog(CONF.copy(CATALOG="offline"))
    empty = [name for name, genre in THEMED_NAMES.items() if not catalog.genre_tracks(genre, 5)]
    assert empty == []


def _crash_mid_delete(mgr, r, code, started_at):
    """The state a worker leaves when it dies after the delete step, before the sweep."""
    atomic.apply(r, code, [["SET", keys.nest_key(code, keys.VOLUME), 30]])
    r.hdel("NESTS|registry", code)
    r.delete(f"NESTS|code:{code}")
    r.set(f"NESTS|deleting:{code}", int(started_at.timestamp()))
    r.sadd("NESTS|deleting", code)


def test_cleanup_finishes_a_delete_a_crash_interrupted(mgr, r):
    import master_player

    stale, fresh = mgr.create_nest("a@x.io")["code"], mgr.create_nest("b@x.io")["code"]
    _crash_mid_delete(mgr, r, stale, NOW - timedelta(hours=1))
    _crash_mid_delete(mgr, r, fresh, NOW)  # maybe still sweeping elsewhere: leave it be
    master_player.cleanup_tick(NOW, redis_client=r)
    assert r.keys(f"NEST:{stale}|*") == [] and not r.exists(f"NESTS|deleting:{stale}")
    assert r.smembers("NESTS|deleting") == {fresh}
    assert r.exists(f"NEST:{fresh}|MISC|volume") and r.exists(f"NESTS|deleting:{fresh}")
    assert not r.exists(f"NESTS|deleting:{stale}")  # its code can be handed out again
    assert mgr.delete_nest(fresh) is True  # an explicit retry finishes at once
    assert r.smembers("NESTS|deleting") == set() and r.keys(f"NEST:{fresh}|*") == []


def test_names_survive_every_registry_rewrite_byte_for_byte(mgr):
    code = mgr.create_nest("a@x.io", name="Fiesta 🎉 Café")["code"]
    mgr.join_nest(code, "ü@x.io")  # rewrites last_activity inside Lua (cjson)
    assert mgr.get_nest(code)["name"] == "Fiesta 🎉 Café"
    mgr.update_nest(code, "a@x.io", name="Ñandú 🎉 / <b>")
    assert mgr.get_nest(code)["name"] == "Ñandú 🎉 / <b>"
    assert mgr.live_members(code) == ["ü@x.io"]
