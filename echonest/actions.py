"""The one action dispatcher behind the HTTP API and the WebSocket (SPEC §7 action names).

``dispatch(ctx, action, args)`` validates argument types, applies rate limits and
permissions, calls the nest's DB, touches the nest, and returns a JSON-ready dict. Domain
rules (fair order, vote rules, queue limits) live in DB; this module only decides *who* may
do *what* and turns hostile input into ``InvalidRequest`` before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from echonest import keys, metrics, nest_settings, ratelimit, skip_votes
from echonest.airhorns import AIRHORN_NAMES
from echonest.errors import (
    AddsClosed,
    EchoNestError,
    Forbidden,
    InvalidRequest,
    NotFound,
    SongTooLong,
    StaleNest,
    Unauthorized,
)
from echonest.nest_registry import iso, utc_now
from echonest.nest_value import Nest
from echonest.pending import Pending
from echonest.validation import require_text

MAIN = "main"
MAX_ID_LENGTH = 128
MAX_URI_LENGTH = 512


@dataclass
class ActionContext:
    nest_id: str
    user: Any                      # echonest.web.auth.User
    redis: Any
    catalog: Any
    nest_manager: Any
    conf: Any
    ip: str = ""
    is_api_token: bool = False
    db_factory: Callable[[str], Any] | None = field(default=None, repr=False)
    nest: Nest | None = None       # the nest as looked up once for this request / frame
    # Rate-limit hits the web layer wants checked with the action (echonest.pending).
    deferred: list = field(default_factory=list, repr=False)
    # Fingerprint of the metadata ``nest`` was built from when that came from a cache: the
    # action's write then checks it is still current (echonest.atomic.PRE) or raises StaleNest.
    expected_meta: str | None = field(default=None, repr=False)
    _db: Any = field(default=None, init=False, repr=False)
    _pending: Pending | None = field(default=None, init=False, repr=False)

    def the_nest(self) -> Nest:
        """The nest value, read from the registry at most once per context."""
        if self.nest is None:
            meta = self.nest_manager.get_nest(self.nest_id)
            if meta is None:
                raise NotFound("That nest does not exist.")
            self.nest = Nest.from_meta(self.nest_id, meta)
        return self.nest

    def db(self) -> Any:
        if self._db is None:
            if self.db_factory is not None:
                self._db = self.db_factory(self.nest_id)
            else:
                from db import DB

                self._db = DB(nest_id=self.nest_id, init_history_to_redis=False,
                              redis_client=self.redis)
            self._db.pending = self._pending
        return self._db

    def begin(self, touch: str | None) -> Pending:
        """A fresh Pending for one action, handed to this context's DB."""
        limits, self.deferred = self.deferred, []
        if keys.cluster_layout():
            # Rate-limit keys live outside the nest's slot: a script may not touch them there.
            for spec in limits:
                ratelimit.check(self.redis, spec)
            self._pending = Pending([], touch, fold_limits=False)
        else:
            self._pending = Pending(limits, touch,
                                    meta=self.expected_meta if self.nest is not None else None)
        if self._db is not None:
            self._db.pending = self._pending
        return self._pending


# --- argument checks ---------------------------------------------------------------------
def _text(args: dict, name: str, max_length: int) -> str:
    return require_text(args.get(name), f"'{name}'", max_length)


def _item_id(args: dict) -> str:
    return _text(args, "id", MAX_ID_LENGTH)


def _flag(args: dict, name: str) -> bool:
    value = args.get(name)
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be true or false.")
    return value


def _volume(args: dict) -> int:
    value = args.get("volume")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidRequest("'volume' must be a number from 0 to 100.")
    if not 0 <= value <= 100:
        raise InvalidRequest("'volume' must be a number from 0 to 100.")
    return int(round(value))


# --- permissions ---------------------------------------------------------------------------
def is_moderator(ctx: ActionContext) -> bool:
    """A host of this nest (creator, co-host), the operator token, or on main an admin."""
    if not getattr(ctx.user, "id", None):
        return False
    if ctx.is_api_token:
        return True
    return ctx.the_nest().is_host(ctx.user)


def _refuse_unless(ctx: ActionContext, setting: str, doing: str) -> None:
    """A "who may …" setting set to hosts refuses everyone else, naming the setting."""
    if not ctx.is_api_token and not ctx.the_nest().may(setting, ctx.user):
        raise Forbidden(f"Only hosts may {doing} here ({nest_settings.refusal_words(setting)}).",
                        setting=setting)


def _limit(ctx: ActionContext, bucket: str) -> None:
    if not ctx.is_api_token:
        spec = ratelimit.spec(ctx.conf, bucket, ctx.user.id)
        if ctx._pending is not None:
            ctx._pending.add_limit(ctx.redis, spec)
        else:
            ratelimit.check(ctx.redis, spec)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- actions (each returns a JSON-ready dict) ---------------------------------------------
def _add_song(ctx: ActionContext, args: dict) -> dict:
    uri = _text(args, "track_uri", MAX_URI_LENGTH)
    nest, host = ctx.the_nest(), is_moderator(ctx)
    if not host and not nest.setting("adds_open"):
        raise AddsClosed("Adding songs is closed for now "
                         f"({nest_settings.refusal_words('adds_open')}).", setting="adds_open")
    _limit(ctx, "add_song_user")
    track = ctx.catalog.lookup(uri)
    check_track(nest, track, host=host)
    try:
        return ctx.db().add_song(
            track, ctx.user.id,
            max_per_person=0 if host else nest.setting("max_per_person"),
            no_repeat_hours=nest.setting("no_repeat_hours"))
    except Exception as exc:
        _explain(exc, nest)
        raise


def check_track(nest: Nest, track: Any, *, host: bool = False) -> None:
    """The nest's rules about the song itself (length, explicit), before anything is written."""
    limit = nest.setting("max_song_seconds")
    if limit and float(getattr(track, "duration", 0) or 0) > limit:
        raise SongTooLong(
            f"That song is longer than {_minutes(limit)}, the longest this nest takes "
            f"({nest_settings.refusal_words('max_song_seconds')}).", setting="max_song_seconds")
    if getattr(track, "explicit", False) is True and not nest.setting("allow_explicit"):
        raise Forbidden("This nest does not take explicit songs "
                        f"({nest_settings.refusal_words('allow_explicit')}).",
                        setting="allow_explicit")


def _minutes(seconds: float) -> str:
    whole, rest = divmod(int(seconds), 60)
    return f"{whole}:{rest:02d} min" if rest else f"{whole} min"


def _explain(exc: Exception, nest: Nest) -> None:
    """A Lua refusal carries terse words; re-raise it in the page's words, naming the setting."""
    from echonest.errors import EchoNestError, PerPersonLimit, RecentlyPlayed

    if not isinstance(exc, EchoNestError):
        return
    if exc.code == "per_person_limit":
        raise PerPersonLimit(
            f"You already have {nest.setting('max_per_person')} songs queued, as many as one "
            "person may; add more when one has played "
            f"({nest_settings.refusal_words('max_per_person')}).",
            setting="max_per_person") from None
    if exc.code == "recently_played":
        when = ("is playing right now" if "playing now" in exc.message else
                f"played here in the last {nest.setting('no_repeat_hours'):g} h")
        raise RecentlyPlayed(f"That song {when} "
                             f"({nest_settings.refusal_words('no_repeat_hours')}).",
                             setting="no_repeat_hours") from None


def _vote(ctx: ActionContext, args: dict) -> dict:
    item_id, up = _item_id(args), _flag(args, "up")
    floor = ctx.the_nest().setting("downvote_floor")
    item = ctx.db().vote(item_id, ctx.user.id, up, floor=floor)
    if item is None:
        return {"id": item_id, "removed": True,
                "message": f"The song's score reached {floor}, so it left the queue."}
    return item


def _jam(ctx: ActionContext, args: dict) -> dict:
    item_id = _item_id(args)
    jammed = ctx.db().jam(item_id, ctx.user.id)
    return {"id": item_id, "jammed": bool(jammed)}


def _kill(ctx: ActionContext, args: dict) -> dict:
    item_id = _item_id(args)
    allowed = is_moderator(ctx) or ctx.the_nest().may("remove_mode", ctx.user)
    try:
        ctx.db().remove(item_id, ctx.user.id, allowed=allowed)
    except EchoNestError as exc:
        if exc.code != Forbidden.code:
            raise
        raise Forbidden("Only the person who added it or a host may remove this song "
                        f"({nest_settings.refusal_words('remove_mode')}).",
                        setting="remove_mode") from None
    return {"removed": item_id}


def _kill_playing(ctx: ActionContext, args: dict) -> dict:
    mode = ctx.the_nest().setting("skip_mode")
    if is_moderator(ctx) or mode == nest_settings.ANYONE:
        ctx.db().skip(ctx.user.id)
        return {"skipped": True}
    if mode == nest_settings.HOSTS:
        raise Forbidden("Only hosts may skip songs here "
                        f"({nest_settings.refusal_words('skip_mode')}).", setting="skip_mode")
    tally = skip_votes.ask_to_skip(ctx.redis, ctx.nest_id, ctx.user.id)
    return {**tally, "voted": True}


def _nuke_queue(ctx: ActionContext, args: dict) -> dict:
    if not is_moderator(ctx):
        _refuse_unless(ctx, "clear_mode", "clear the queue")
    ctx.db().clear(ctx.user.id, allowed=True)
    return {"cleared": True}


def _pause(ctx: ActionContext, args: dict) -> dict:
    _refuse_unless(ctx, "pause_mode", "pause")
    ctx.db().pause(ctx.user.id)
    return {"paused": True}


def _unpause(ctx: ActionContext, args: dict) -> dict:
    _refuse_unless(ctx, "pause_mode", "resume playback")
    ctx.db().resume(ctx.user.id)
    return {"paused": False}


def _airhorn(ctx: ActionContext, args: dict) -> dict:
    name = _text(args, "name", 64)
    if name not in AIRHORN_NAMES:
        raise InvalidRequest(f"Unknown airhorn '{name[:40]}'.")
    _limit(ctx, "airhorn_user")
    return ctx.db().airhorn(ctx.user.id, name)


def _add_comment(ctx: ActionContext, args: dict) -> dict:
    item_id = _item_id(args)
    text = _text(args, "text", int(ctx.conf.COMMENT_MAX_LENGTH or 500))
    _limit(ctx, "comment_user")
    return ctx.db().add_comment(item_id, ctx.user.id, text)


def _bender_queue(ctx: ActionContext, args: dict) -> dict:
    from echonest.bender import queue_preview

    uri = _text(args, "uri", MAX_URI_LENGTH)
    _limit(ctx, "add_song_user")
    meta = ctx.nest_manager.get_nest(ctx.nest_id)
    return queue_preview(ctx.db(), ctx.catalog, ctx.user.id, uri, nest_meta=meta)


def _bender_filter(ctx: ActionContext, args: dict) -> dict:
    from echonest.bender import filter_preview

    uri = _text(args, "uri", MAX_URI_LENGTH)
    meta = ctx.nest_manager.get_nest(ctx.nest_id)
    filter_preview(ctx.db(), ctx.catalog, ctx.user.id, uri, nest_meta=meta)
    return {"filtered": uri}


def _fetch_playlist(ctx: ActionContext, args: dict) -> dict:
    return ctx.db().queue_body()


def _fetch_now_playing(ctx: ActionContext, args: dict) -> dict:
    return ctx.db().now_playing()


def _change_volume(ctx: ActionContext, args: dict) -> dict:
    volume = _volume(args)
    _refuse_unless(ctx, "volume_mode", "change the volume")
    ctx.db().set_volume(volume)
    return {"volume": volume}


def _ping(ctx: ActionContext, args: dict) -> dict:
    return {"pong": True, "now": _now_iso()}


# name → (handler, touches the nest). Reads and pings do not count as nest activity.
ACTIONS: dict[str, tuple[Callable[[ActionContext, dict], Any], bool]] = {
    "add_song": (_add_song, True),
    "vote": (_vote, True),
    "jam": (_jam, True),
    "kill": (_kill, True),
    "kill_playing": (_kill_playing, True),
    "nuke_queue": (_nuke_queue, True),
    "pause": (_pause, True),
    "unpause": (_unpause, True),
    "airhorn": (_airhorn, True),
    "add_comment": (_add_comment, True),
    "benderQueue": (_bender_queue, True),
    "benderFilter": (_bender_filter, True),
    "fetch_playlist": (_fetch_playlist, False),
    "fetch_now_playing": (_fetch_now_playing, False),
    "change_volume": (_change_volume, True),
    "ping": (_ping, False),
}


def dispatch(ctx: ActionContext, action: str, args: dict | None) -> dict:
    """Run one named action for ``ctx.user`` in ``ctx.nest_id``; raise EchoNestError on refusal."""
    if not isinstance(action, str) or action not in ACTIONS:
        raise InvalidRequest(f"Unknown action '{str(action)[:40]}'.")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise InvalidRequest("'args' must be a JSON object.")
    if ctx.user is None or not getattr(ctx.user, "id", None):
        raise Unauthorized("Sign in first.")
    handler, touches = ACTIONS[action]
    # Limits and the activity touch ride along with the action's write (echonest.pending).
    pending = ctx.begin(iso(utc_now()) if touches else None)

    def touch() -> None:
        ctx.nest_manager.touch_nest(ctx.nest_id)

    with metrics.action_outcome(action):
        try:
            result = handler(ctx, args)
        except Exception as exc:
            if (pending.meta and not pending.taken and not isinstance(exc, StaleNest)
                    and (isinstance(exc, Forbidden) or "setting" in getattr(exc, "extra", {}))):
                # Refused on metadata nobody has checked yet: the caller re-runs on a fresh read.
                raise StaleNest("refused on cached nest metadata") from exc
            pending.refused(exc)
            pending.settle(ctx.redis, touch, succeeded=False)
            raise
        pending.settle(ctx.redis, touch, succeeded=True)
    return result if isinstance(result, dict) else {"result": result}
