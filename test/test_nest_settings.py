"""The declared nest settings and the nest value: defaults, checks, repair, who is a host."""

from __future__ import annotations

import math

import pytest

from echonest import nest_settings
from echonest.errors import Forbidden, InvalidRequest
from echonest.nest_settings import BY_NAME, SETTINGS, check_changes, describe, resolve
from echonest.nest_value import Nest

REQUIRED = {"skip_mode", "skip_vote_fraction", "pause_mode", "max_per_person",
            "max_song_seconds", "no_repeat_hours", "allow_explicit", "adds_open", "visibility",
            "remove_mode", "clear_mode", "volume_mode", "bender_mode", "downvote_floor"}


class FakeUser:
    def __init__(self, user_id, kind="guest", is_admin=False):
        self.id, self.kind, self.is_admin = user_id, kind, is_admin


def test_every_setting_the_issue_names_is_declared_once():
    names = [s.name for s in SETTINGS]
    assert REQUIRED <= set(names) and len(names) == len(set(names))
    for setting in SETTINGS:
        assert setting.label and setting.help and setting.changed_by == "hosts"
        # the default passes its own check, on both kinds of nest
        assert setting.check(setting.default) == setting.default
        assert setting.check(setting.default_for(True)) == setting.default_for(True)


def test_party_defaults_differ_from_the_home_nest_where_it_matters():
    temporary, home = nest_settings.defaults(False), nest_settings.defaults(True)
    assert temporary["max_per_person"] == 3 and home["max_per_person"] == 0
    assert temporary["downvote_floor"] < 0 and home["downvote_floor"] == 0
    assert temporary["skip_mode"] == "anyone" and temporary["visibility"] == "listed"


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("skip_mode", ["anyone", "vote", "hosts"], ["everyone", "", None, 1, ["vote"]]),
    ("pause_mode", ["anyone", "hosts"], ["vote", True]),
    ("remove_mode", ["anyone", "hosts"], ["HOSTS"]),
    ("visibility", ["listed", "unlisted", "invite_only"], ["private", {"x": 1}]),
    ("skip_vote_fraction", [0.05, 0.5, 1, 1.0], [0, 0.01, 1.5, -1, "0.5", True, math.nan,
                                                 math.inf]),
    ("skip_vote_min", [1, 50], [0, 51, 2.5, "2", False]),
    ("max_per_person", [0, 3, 100], [-1, 101, 1.5, None]),
    ("max_song_seconds", [0, 600, 7200], [-5, 7201, "600"]),
    ("no_repeat_hours", [0, 0.5, 168], [-1, 169, "2"]),
    ("downvote_floor", [0, -3, -100], [1, -101, -2.5]),
    ("allow_explicit", [True, False], [1, 0, "true", None]),
    ("adds_open", [True, False], ["false"]),
    ("kick_minutes", [1, 1440], [0, 1441]),
])
def test_each_setting_accepts_its_values_and_refuses_the_rest(name, good, bad):
    setting = BY_NAME[name]
    for value in good:
        assert setting.check(value) == value
    for value in bad:
        with pytest.raises(InvalidRequest) as refused:
            setting.check(value)
        assert name in refused.value.message


def test_numbers_keep_their_declared_type():
    assert isinstance(BY_NAME["skip_vote_fraction"].check(1), float)
    assert isinstance(BY_NAME["max_per_person"].check(3.0), int)


def test_resolve_fills_defaults_and_repairs_junk_from_the_registry():
    stored = {"skip_mode": "vote", "max_per_person": "lots", "unknown": 1,
              "visibility": "invite_only", "no_repeat_hours": 2}
    values = resolve(stored, is_main=False)
    assert values["skip_mode"] == "vote" and values["no_repeat_hours"] == 2.0
    assert values["max_per_person"] == 3  # junk reads as the default
    assert "unknown" not in values and values["visibility"] == "invite_only"
    assert set(values) == set(BY_NAME)
    # The Home Nest is always listed, whatever the registry says.
    assert resolve({"visibility": "invite_only"}, is_main=True)["visibility"] == "listed"
    assert resolve(None, is_main=False) == nest_settings.defaults(False)
    assert resolve(["not", "a", "dict"], is_main=True) == nest_settings.defaults(True)


@pytest.mark.parametrize("changes", [{}, None, [], "skip_mode", {"nope": 1},
                                     {"skip_mode": "vote", "max_per_person": -1},
                                     {7: "x"}, {"x" * 10_000: 1}])
def test_a_bad_change_is_refused_whole(changes):
    with pytest.raises(InvalidRequest):
        check_changes(changes, is_main=False)


def test_the_home_nests_visibility_is_fixed():
    with pytest.raises(Forbidden):
        check_changes({"visibility": "unlisted"}, is_main=True)
    assert check_changes({"skip_mode": "hosts"}, is_main=True) == {"skip_mode": "hosts"}
    fixed = {d["name"]: d for d in describe(True)}["visibility"]
    assert fixed["fixed"] is True and "fixed" not in {d["name"]: d for d in describe(False)}[
        "visibility"]


def test_describe_is_what_the_panel_renders():
    rows = {row["name"]: row for row in describe(False)}
    assert rows["skip_mode"]["type"] == "choice"
    assert rows["skip_mode"]["choices"] == ["anyone", "vote", "hosts"]
    assert rows["max_per_person"]["min"] == 0 and rows["max_per_person"]["default"] == 3
    assert rows["allow_explicit"]["type"] == "bool"


def test_refusals_name_the_setting_by_its_label():
    assert "Songs one person may have queued" in nest_settings.refusal_words("max_per_person")


# --- the nest value --------------------------------------------------------------------------
def test_the_creator_and_co_hosts_are_hosts_guests_are_not():
    nest = Nest.from_meta("ABCDE", {"code": "ABCDE", "name": "Party", "created_by": "ann@x.io",
                                    "hosts": ["guest:co", 5, ""], "settings": {
                                        "pause_mode": "hosts"}})
    assert nest.hosts == ["ann@x.io", "guest:co"]
    assert nest.is_host(FakeUser("ann@x.io")) and nest.is_host(FakeUser("guest:co"))
    assert not nest.is_host(FakeUser("guest:other")) and not nest.is_host(FakeUser(""))
    # an admin is nobody special in someone's temporary nest; the operator token is
    assert not nest.is_host(FakeUser("boss@x.io", kind="google", is_admin=True))
    assert nest.is_host(FakeUser("token:api", kind="token"))
    assert nest.may("volume_mode", FakeUser("guest:other"))
    assert not nest.may("pause_mode", FakeUser("guest:other"))
    assert nest.may("pause_mode", FakeUser("guest:co"))


def test_on_the_home_nest_admins_host_and_system_is_nobody():
    nest = Nest.from_meta("main", {"created_by": "system", "is_main": True})
    assert nest.is_main and nest.hosts == []
    assert nest.is_host(FakeUser("boss@x.io", kind="google", is_admin=True))
    assert not nest.is_host(FakeUser("system"))
    assert nest.settings == nest_settings.defaults(True)


def test_the_api_docs_carry_the_generated_settings_table():
    from pathlib import Path

    from echonest.settings_doc import table

    docs = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    assert table() in docs, "regenerate with: python -m echonest.settings_doc"
