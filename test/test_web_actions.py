"""The action dispatcher on its own (what HTTP and WebSocket share): names, types, touches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config import CONF
from echonest.actions import ACTIONS, ActionContext, dispatch
from echonest.errors import InvalidRequest, Unauthorized
from echonest.web.auth import User

SPEC_ACTIONS = {"add_song", "vote", "jam", "kill", "kill_playing", "nuke_queue", "pause",
                "unpause", "airhorn", "add_comment", "benderQueue", "benderFilter",
                "fetch_playlist", "fetch_now_playing", "change_volume", "ping"}
ANN = User(id="ann@example.com", name="Ann", email="ann@example.com", kind="google")


@pytest.fixture
def setup(r):
    from echonest.catalog import get_catalog
    from nests import NestManager

    conf = CONF.copy(CATALOG="offline")
    manager = NestManager(r, conf=conf)
    past = datetime.now(UTC) - timedelta(hours=1)
    code = manager.create_nest(ANN.id, name="Actions", now=past)["code"]
    catalog = get_catalog(conf, r)

    def ctx(user=ANN, nest_id=code):
        return ActionContext(nest_id=nest_id, user=user, redis=r, catalog=catalog,
                             nest_manager=manager, conf=conf, ip="127.0.0.1")

    return ctx, manager, code, catalog


def test_the_action_names_are_exactly_the_spec_list():
    assert set(ACTIONS) == SPEC_ACTIONS


@pytest.mark.parametrize("action", [None, 7, "drop_tables", "", "PING"])
def test_unknown_actions_are_invalid(setup, action):
    ctx, *_ = setup
    with pytest.raises(InvalidRequest):
        dispatch(ctx(), action, {})


@pytest.mark.parametrize("args", [[], "x", 5, True])
def test_args_must_be_an_object(setup, args):
    ctx, *_ = setup
    with pytest.raises(InvalidRequest):
        dispatch(ctx(), "ping", args)


def test_no_user_no_action(setup):
    ctx, *_ = setup
    with pytest.raises(Unauthorized):
        dispatch(ctx(user=None), "fetch_playlist", {})


def test_writes_touch_the_nest_and_reads_do_not(setup):
    ctx, manager, code, catalog = setup
    before = manager.get_nest(code)["last_activity"]
    assert dispatch(ctx(), "ping", None)["pong"] is True
    assert dispatch(ctx(), "fetch_playlist", {})["queue"] == []
    assert dispatch(ctx(), "fetch_now_playing", {})["paused"] in (True, False)
    assert manager.get_nest(code)["last_activity"] == before
    uri = catalog.search("love", limit=1)[0].uri
    item = dispatch(ctx(), "add_song", {"track_uri": uri})
    assert item["user"] == ANN.id
    assert manager.get_nest(code)["last_activity"] > before


def test_a_failed_action_changes_nothing(setup, r):
    ctx, manager, code, _ = setup
    before = {k: r.dump(k) for k in r.keys(f"NEST:{code}|*")}
    for action, args in (("vote", {"id": "nope", "up": True}), ("add_song", {"track_uri": 1}),
                         ("change_volume", {"volume": "max"}), ("airhorn", {"name": "nuke"})):
        with pytest.raises(Exception) as failed:
            dispatch(ctx(), action, args)
        assert getattr(failed.value, "status", 500) < 500
    assert {k: r.dump(k) for k in r.keys(f"NEST:{code}|*")} == before
