"""The host-set settings of a nest, declared once: name, type, default, bounds, who may change.

``SETTINGS`` drives everything else: ``resolve()`` fills defaults and repairs junk read back
from the registry, ``check_changes()`` validates a ``PATCH {"settings": {...}}`` body,
``describe()`` is what the page's settings panel and docs/api.md render. Adding a setting is
one ``Setting`` here plus its behaviour where the rule bites (actions.py, the Lua scripts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from echonest.errors import Forbidden, InvalidRequest

HOSTS = "hosts"          # who may change every setting below (hosts; on main: ADMIN_EMAILS/token)
ANYONE, VOTE = "anyone", "vote"
WHO = (ANYONE, HOSTS)    # the choices of every "who may …" setting
LISTED, UNLISTED, INVITE_ONLY = "listed", "unlisted", "invite_only"


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type                        # bool, int, float or str (a choice)
    default: Any                      # for temporary nests
    label: str                        # what the settings panel shows
    help: str                         # one line: what the value does, in the refusal's words
    main_default: Any = None          # the Home Nest's default, when it differs
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    on_main: bool = True              # False: fixed on the Home Nest (it is always listed)
    changed_by: str = HOSTS

    def default_for(self, is_main: bool) -> Any:
        return self.main_default if is_main and self.main_default is not None else self.default

    def check(self, value: Any) -> Any:
        """The value as stored, or InvalidRequest naming the setting and what it accepts."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise InvalidRequest(f"'{self.name}' must be true or false.")
            return value
        if self.kind is str:
            if not isinstance(value, str) or value not in self.choices:
                raise InvalidRequest(f"'{self.name}' must be one of: {', '.join(self.choices)}.")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise InvalidRequest(f"'{self.name}' must be a number.")
        if self.kind is int and value != int(value):
            raise InvalidRequest(f"'{self.name}' must be a whole number.")
        if not self.minimum <= value <= self.maximum:
            raise InvalidRequest(
                f"'{self.name}' must be from {_num(self.minimum)} to {_num(self.maximum)}.")
        return int(value) if self.kind is int else float(value)

    def describe(self, is_main: bool) -> dict[str, Any]:
        out = {"name": self.name, "type": {bool: "bool", int: "int", float: "float",
                                           str: "choice"}[self.kind],
               "default": self.default_for(is_main), "label": self.label, "help": self.help,
               "changed_by": self.changed_by}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["min"], out["max"] = self.minimum, self.maximum
        if is_main and not self.on_main:
            out["fixed"] = True
        return out


def _num(value: float | None) -> str:
    return f"{value:g}" if value is not None else ""


SETTINGS: tuple[Setting, ...] = (
    Setting("skip_mode", str, ANYONE, "Who may skip the playing song",
            "anyone skips at once; vote: guests ask and the song is skipped when enough "
            "listeners agree; hosts: only hosts skip", choices=(ANYONE, VOTE, HOSTS)),
    Setting("skip_vote_fraction", float, 0.5, "Share of listeners a skip vote needs",
            "with skip by vote, the song is skipped when this share of live listeners asks",
            minimum=0.05, maximum=1.0),
    Setting("skip_vote_min", int, 2, "Fewest votes a skip needs",
            "with skip by vote, never fewer asks than this (unless fewer people are listening)",
            minimum=1, maximum=50),
    Setting("pause_mode", str, ANYONE, "Who may pause and resume",
            "anyone, or hosts only", choices=WHO),
    Setting("remove_mode", str, HOSTS, "Who may remove other people's songs",
            "the adder may always remove their own song; others: anyone, or hosts only",
            choices=WHO),
    Setting("clear_mode", str, HOSTS, "Who may clear the queue", "anyone, or hosts only",
            choices=WHO),
    Setting("volume_mode", str, ANYONE, "Who may change the volume", "anyone, or hosts only",
            choices=WHO),
    Setting("bender_mode", str, HOSTS, "Who may switch Bender on or off",
            "anyone, or hosts only", choices=WHO),
    Setting("downvote_floor", int, -3, "Score that drops a song",
            "a queued song whose score falls to this is removed; 0 never drops",
            main_default=0, minimum=-100, maximum=0),
    Setting("max_per_person", int, 3, "Songs one person may have queued",
            "at most this many songs per person in the queue at once; 0 = no limit",
            main_default=0, minimum=0, maximum=100),
    Setting("max_song_seconds", int, 0, "Longest song allowed (seconds)",
            "songs longer than this are refused; 0 = any length", minimum=0, maximum=7200),
    Setting("no_repeat_hours", float, 0.0, "No-repeat window (hours)",
            "a song played (or playing) in the last this-many hours is refused; 0 = off",
            minimum=0.0, maximum=168.0),
    Setting("allow_explicit", bool, True, "Explicit songs allowed",
            "when off, songs the catalog marks explicit are refused"),
    Setting("adds_open", bool, True, "Guests may add songs",
            "when off, only hosts may add songs"),
    Setting("visibility", str, LISTED, "Who can find and join",
            "listed: in the nest list; unlisted: by code or link only; invite_only: only with "
            "an invite link", choices=(LISTED, UNLISTED, INVITE_ONLY), on_main=False),
    Setting("kick_minutes", int, 15, "Minutes a kicked person must wait to rejoin",
            "a kicked member cannot rejoin for this long", minimum=1, maximum=1440),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
MAX_CHANGES = len(SETTINGS)


def defaults(is_main: bool) -> dict[str, Any]:
    return {s.name: s.default_for(is_main) for s in SETTINGS}


def resolve(stored: Any, is_main: bool) -> dict[str, Any]:
    """Every setting's current value: stored ones that still pass their check, else defaults.

    The registry may hold values from an older declaration (a bound tightened, a choice
    renamed); those read as the default instead of breaking the nest.
    """
    values = defaults(is_main)
    if isinstance(stored, dict):
        for name, value in stored.items():
            setting = BY_NAME.get(name)
            if setting is None or (is_main and not setting.on_main):
                continue
            try:
                values[name] = setting.check(value)
            except InvalidRequest:
                continue
    return values


def check_changes(changes: Any, is_main: bool) -> dict[str, Any]:
    """A ``{"settings": {...}}`` body's object → checked values; nothing is partially applied."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidRequest("'settings' must be a non-empty object of setting: value.")
    if len(changes) > MAX_CHANGES:
        raise InvalidRequest("Too many settings in one change.")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        setting = BY_NAME.get(name) if isinstance(name, str) else None
        if setting is None:
            raise InvalidRequest(f"Unknown setting '{str(name)[:40]}'.")
        if is_main and not setting.on_main:
            raise Forbidden(f"The Home Nest's '{name}' cannot be changed.")
        checked[name] = setting.check(value)
    return checked


def describe(is_main: bool) -> list[dict[str, Any]]:
    return [s.describe(is_main) for s in SETTINGS]


def refusal_words(name: str) -> str:
    """How a refusal names the setting: its label, as the host sees it in the panel."""
    setting = BY_NAME.get(name)
    return f'the host\'s "{setting.label}" setting' if setting else "a nest setting"
