"""The nest as one value: looked up once per request (or socket frame) and carried down.

``Nest.from_meta`` turns the registry's metadata (the seed's dict, which ``get_nest()`` still
returns) into who hosts it and every setting's current value, so no layer below re-reads the
registry to ask "is this user a host?" or "may guests skip?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from echonest import nest_settings

MAIN = "main"


@dataclass(frozen=True)
class Nest:
    id: str
    code: str
    name: str
    created_by: str
    co_hosts: tuple[str, ...]
    is_main: bool
    settings: dict[str, Any]
    meta: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_meta(cls, nest_id: str, meta: dict[str, Any] | None) -> Nest:
        meta = meta if isinstance(meta, dict) else {}
        is_main = nest_id == MAIN
        hosts = meta.get("hosts")
        co_hosts = tuple(h for h in hosts if isinstance(h, str) and h) if isinstance(
            hosts, list) else ()
        return cls(id=nest_id, code=str(meta.get("code") or nest_id),
                   name=str(meta.get("name") or nest_id),
                   created_by=str(meta.get("created_by") or ""),
                   co_hosts=co_hosts, is_main=is_main,
                   settings=nest_settings.resolve(meta.get("settings"), is_main), meta=meta)

    @property
    def hosts(self) -> list[str]:
        """The creator first, then co-hosts. On the Home Nest the creator is "system"."""
        first = [] if self.is_main or not self.created_by else [self.created_by]
        return first + [h for h in self.co_hosts if h not in first]

    @property
    def moderated(self) -> bool:
        """Someone was ever kicked or banned here: joining must consult the block list."""
        return bool(self.meta.get("moderated"))

    def setting(self, name: str) -> Any:
        return self.settings[name]

    def is_operator(self, user: Any) -> bool:
        """Above the hosts: the operator token anywhere, ADMIN_EMAILS on the Home Nest."""
        if getattr(user, "kind", "") == "token":
            return True
        return self.is_main and bool(getattr(user, "is_admin", False))

    def is_host(self, user: Any) -> bool:
        user_id = getattr(user, "id", None)
        if not user_id:
            return False
        return self.is_operator(user) or user_id in self.hosts

    def may(self, mode_setting: str, user: Any) -> bool:
        """A "who may …" setting (anyone / hosts) applied to this user."""
        return self.settings[mode_setting] == nest_settings.ANYONE or self.is_host(user)
