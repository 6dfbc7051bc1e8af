"""An action's side checks — rate-limit hits and the nest's activity touch — waiting to ride
along with the action's guarded write, so one user action costs one Redis round trip.

``echonest.actions.dispatch`` opens one ``Pending`` per action; the DB hands it to its next
guarded script (``echonest.atomic.PRE``), which runs the checks before the write in the same
step. Whatever no write took (a read, a refused lookup) is settled on its own afterwards, so a
limit is counted exactly as if it had been checked first.
"""

from __future__ import annotations

from typing import Any

from echonest import ratelimit


class Pending:
    def __init__(self, limits: list[dict | None] = (), touch: str | None = None,
                 meta: str | None = None, *, fold_limits: bool = True):
        self.fold_limits = fold_limits  # False (cluster): limits are checked at once
        self.limits = [spec for spec in limits if spec]
        self.touch = touch
        self.meta = meta    # the fingerprint the nest's metadata must still have (or None)
        self.taken = False

    def add_limit(self, client: Any, spec: dict | None) -> None:
        """Fold a hit into the coming write; after the write it is checked at once."""
        if spec is None:
            return
        ratelimit.refuse_if_remembered(spec)
        if self.taken or not self.fold_limits:
            ratelimit.check(client, spec)
        else:
            self.limits.append(spec)

    def take(self) -> dict | None:
        """The ``pre`` step for the first guarded write of the action (None afterwards)."""
        if self.taken:
            return None
        self.taken = True
        if not self.limits and not self.touch and not self.meta:
            return None
        pre: dict = {"limits": self.limits}
        if self.touch:
            pre["touch"] = self.touch
        if self.meta:
            pre["meta"] = self.meta
        return pre

    def refused(self, exc: Exception) -> None:
        """The write refused one of our limits: remember it (``ratelimit.remember_refusal``)."""
        index = getattr(exc, "limit_index", None)
        if isinstance(index, int) and 0 <= index < len(self.limits):
            ratelimit.remember_refusal(self.limits[index])

    def settle(self, client: Any, touch_nest: Any, succeeded: bool) -> None:
        """What no write took: count the limits (raising RateLimited) and touch on success."""
        if self.taken:
            return
        self.taken = True
        for spec in self.limits:
            ratelimit.check(client, spec)
        if succeeded and self.touch:
            touch_nest()
