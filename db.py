"""DB: everything one nest's queue does — songs, fair order, votes, jams, comments, player state.

Ordering scheme (SPEC §5). The priority queue is a zset whose scores only encode the current
order; the rules live in the add/vote scripts (echonest/queue_scripts.py):
- Add (human): the new song is its adder's r-th queued song, r = 1 + their songs now queued. It
  goes right after the last human song that is its own adder's r-th song or earlier (round ≤ r),
  else at the head. That yields A1 B1 C1 A2 B2 A3 and, among equals, earlier adds first.
  Rounds are counted on the queue as it is now, so once A1 plays A2 counts as A's first.
- Add (Bender, ``auto``): always at the tail, after every human song.
- Score: midway between the two neighbours (integers spaced 2**20 apart); when no integer is
  left between them the script respaces the whole queue in the same atomic step.
- Vote: the item swaps scores with its neighbour in the vote's direction — exactly one slot —
  unless that neighbour is on the other side of the human/Bender boundary (then only the
  ``vote`` count changes), so Bender songs stay after every human song.

Player state lives in the ``MISC|now-playing`` hash (id, starttime, endtime, duration, paused,
pos; times are epoch seconds). The playing song's ``QUEUE|{id}`` hash, jams and comments stay
until ``advance`` finishes it. ``skip`` sets ``MISC|skip`` to the playing id; ``now_playing``
reports idle at once and the next ``advance`` (the player's next tick) moves on.

Events: queue changes publish ``queue_update``; play-state changes (advance, skip, pause,
resume, and jams/comments on the playing song) publish ``now_playing``. ``advance`` also pops
the queue but publishes only ``now_playing``: a listener must refresh the queue on it too.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from config import CONF
from echonest import keys, player_scripts, queue_revs, queue_scripts, skip_votes, user_names
from echonest.airhorns import AIRHORN_NAMES
from echonest.atomic import GuardedScript, apply, current_version
from echonest.catalog.library import audio_url
from echonest.catalog.track import Track
from echonest.errors import EchoNestError, InvalidRequest, RateLimited
from echonest.events import AIRHORN, NOW_PLAYING, QUEUE_UPDATE, VOLUME
from echonest.queue_shapes import (
    check_item_id,
    check_nest_id,
    check_uri,
    check_user,
    clean_comment,
    epoch,
    iso,
    item_from_entry,
    pairs,
    preview_item,
    track_fields,
)

BENDER_USER = "bender"  # the adder id of Bender's auto songs and of the preview row
DUE_BATCH = 5000        # nests per due_nests script call


class DB:
    """One nest's queue. Cheap to build (no I/O); every write is one guarded Lua step."""

    def __init__(self, nest_id: str = "main", init_history_to_redis: bool = True,
                 redis_client: redis.Redis | None = None):
        self.nest_id = check_nest_id(nest_id)
        self.init_history_to_redis = init_history_to_redis
        self._client = redis_client
        # Set by echonest.actions: the action's rate limits and activity touch, folded into
        # this DB's next guarded write so a user action costs one round trip.
        self.pending: Any = None

    @property
    def redis(self) -> redis.Redis:
        if self._client is None:
            from echonest.store import default_client

            self._client = default_client()
        return self._client

    def _key(self, key: str) -> str:
        return keys.nest_key(self.nest_id, key)

    # --- plumbing ----------------------------------------------------------------------------
    def _take_pre(self) -> dict | None:
        return self.pending.take() if self.pending is not None else None

    def _run(self, script: GuardedScript, args: list[Any], event: str = QUEUE_UPDATE):
        script_keys = [self._key(k) for k in (
            keys.PRIORITY_QUEUE, keys.NOW_PLAYING, keys.SKIP, keys.ITEM_COUNTER,
            keys.BENDER_PREVIEW, keys.AIRHORNS, keys.VOLUME, keys.PLAY_HISTORY,
            keys.QUEUE_URIS, keys.QUEUE_ADDERS, keys.QUEUE_INDEXED, keys.queue_by_adder(""))]
        prefixes = [self._key(f("")) for f in (
            keys.queue_item, keys.queue_votes, keys.queue_jams, keys.comments,
            keys.bender_filter, keys.free_horn)]
        return script(self.redis, self.nest_id, keys_=script_keys,
                      args=prefixes + [str(a) for a in args], event=event,
                      pre=self._take_pre())

    def _read(self, playing: bool = False, item_id: str = "") -> list:
        script_keys = [self._key(k) for k in (
            keys.PRIORITY_QUEUE, keys.NOW_PLAYING, keys.SKIP, keys.BENDER_PREVIEW, keys.VERSION,
            keys.SKIP_VOTES, keys.SKIP_VOTERS)]
        args = [self._key(f("")) for f in (keys.queue_item, keys.queue_jams, keys.comments)]
        args += ["1" if playing else "0", item_id, self._key(keys.queue_votes(""))]
        return queue_scripts.READ_STATE(self.redis, script_keys, args)

    # --- reads -------------------------------------------------------------------------------
    def queue_items(self) -> list[dict]:
        return self.queue_body()["queue"]

    def _with_audio(self, items: list[dict | None]) -> list[dict | None]:
        """Each item's ``audio_url``: the route that streams it here, or None (no audio)."""
        for item in items:
            if item is not None:
                item["audio_url"] = audio_url(item.get("uri"), self.redis)
        return items

    def names(self, user_ids: Any) -> dict[str, dict]:
        """{id: {name, avatar_url}} for these user ids (one HMGET on the global names hash)."""
        return user_names.lookup(self.redis, user_ids)

    def queue_body(self, now: Any = None) -> dict:
        """The whole queue as clients get it (echonest.queue_revs builds it, also for the
        fan-out's reads of only what changed)."""
        return queue_revs.queue_body(self, None, now)

    def now_playing(self, now: Any = None) -> dict:
        now_ts = epoch(now)
        _, _, (np_flat, skip, entry), _, votes = self._read(playing=True)
        state, item = pairs(np_flat), item_from_entry(entry)
        if item is None or not state.get("id") or skip == state["id"]:
            return {"paused": False, "now": iso(now_ts)}
        vote_hash, voters = votes if votes else ([], 0)
        duration = float(state.get("duration") or 0)
        paused = state.get("paused") == "1"
        if paused:
            pos = float(state.get("pos") or 0)
            start = now_ts - pos  # as if resumed now, so start/end stay consistent with pos
        else:
            start = float(state["starttime"])
            pos = min(max(now_ts - start, 0.0), duration)
        self._with_audio([item])
        return {**item, "starttime": iso(start), "endtime": iso(start + duration),
                "pos": pos, "paused": paused, "now": iso(now_ts),
                "skip_votes": skip_votes.tally(pairs(vote_hash), int(voters or 0), state["id"]),
                "users": self.names(user_names.ids_in([item]))}

    def get_item(self, item_id: Any) -> dict | None:
        try:
            item_id = check_item_id(item_id)
        except EchoNestError:
            return None
        return item_from_entry(self._read(item_id=item_id)[3])

    def queue_size(self) -> int:
        return int(self.redis.zcard(self._key(keys.PRIORITY_QUEUE)))

    def queued_uris(self) -> set[str]:
        """URIs queued or playing right now (neither may be queued again)."""
        return set(queue_scripts.READ_URIS(
            self.redis, [self._key(keys.PRIORITY_QUEUE), self._key(keys.NOW_PLAYING)],
            [self._key(keys.queue_item(""))]))

    def version(self) -> int:
        return current_version(self.redis, self.nest_id)

    def get_volume(self) -> int:
        raw = self.redis.get(self._key(keys.VOLUME))
        return int(raw) if raw is not None else int(CONF.DEFAULT_VOLUME)

    def is_filtered(self, uri: str) -> bool:
        return bool(self.redis.exists(self._key(keys.bender_filter(check_uri(uri)))))

    def recent_airhorns(self, now: Any = None) -> list[dict]:
        """Unexpired horns, newest first — but never fewer than AIRHORN_LIST_MIN_LEN."""
        cutoff = epoch(now) - CONF.AIRHORN_EXPIRE_SEC
        horns = []
        for raw in self.redis.lrange(self._key(keys.AIRHORNS), 0, -1):
            try:
                entry = json.loads(raw)
                fired = float(entry["t"])
            except (ValueError, KeyError, TypeError):
                continue
            if fired > cutoff or len(horns) < CONF.AIRHORN_LIST_MIN_LEN:
                horns.append({"name": entry.get("name"), "user": entry.get("user"),
                              "time": entry.get("time")})
        return horns

    # --- queue writes ------------------------------------------------------------------------
    def add_song(self, track: Track, user: str, *, auto: bool = False, now: Any = None,
                 max_per_person: int = 0, no_repeat_hours: float = 0) -> dict:
        """Queue a song. ``max_per_person`` / ``no_repeat_hours`` are the nest's hygiene
        settings (0 = off), checked in the same atomic step as the add (human adds only)."""
        fields = track_fields(track)
        user = check_user(user)
        if not isinstance(auto, bool):
            raise InvalidRequest("auto must be a boolean")
        fields["added_at"] = iso(epoch(now))
        depth = 0 if self.nest_id == "main" else int(CONF.NEST_MAX_QUEUE_DEPTH)
        flat = [v for pair in fields.items() for v in pair]
        repeat_since = epoch(now) - float(no_repeat_hours) * 3600 if no_repeat_hours else 0
        _, item_id = self._run(queue_scripts.ADD_SONG_SCRIPT, [
            fields["uri"], user, "1" if auto else "0", depth, int(CONF.BENDER_FILTER_SECONDS),
            int(max_per_person or 0), repr(float(repeat_since)), *flat])
        return {"id": str(item_id), **fields, "duration": float(fields["duration"]),
                "user": user, "vote": 0, "votes": {}, "jam": [], "comments": [], "auto": auto}

    def vote(self, item_id: Any, user: str, up: bool, *, floor: int = 0) -> dict | None:
        """Vote; returns the item, or None when the vote took it to ``floor`` (< 0) and the
        song left the queue in the same step."""
        item_id, user = check_item_id(item_id), check_user(user)
        if not isinstance(up, bool):
            raise InvalidRequest("up must be true or false")
        _, entry = self._run(queue_scripts.VOTE_SCRIPT,
                             [item_id, user, 1 if up else -1, int(floor or 0)])
        return item_from_entry(entry) if entry else None

    def jam(self, item_id: Any, user: str) -> bool:
        item_id, user = check_item_id(item_id), check_user(user)
        _, jammed = self._run(queue_scripts.JAM_SCRIPT, [item_id, user, int(CONF.FREE_AIRHORN)])
        return bool(jammed)

    def add_comment(self, item_id: Any, user: str, text: str, *, now: Any = None) -> dict:
        item_id, user = check_item_id(item_id), check_user(user)
        comment = {"user": user, "body": clean_comment(text, int(CONF.COMMENT_MAX_LENGTH)),
                   "time": iso(epoch(now))}
        self._run(queue_scripts.COMMENT_SCRIPT, [item_id, json.dumps(comment, ensure_ascii=False)])
        return comment

    def remove(self, item_id: Any, user: str, *, is_admin: bool = False,
               allowed: bool = False) -> None:
        """``allowed``: the caller already decided ``user`` may remove others' songs here
        (a host, or the nest's remove_mode says anyone)."""
        item_id, user = check_item_id(item_id), check_user(user)
        flag = "1" if allowed is True else self._admin(is_admin)
        self._run(queue_scripts.REMOVE_SCRIPT, [item_id, user, flag])

    def clear(self, user: str, *, is_admin: bool = False, allowed: bool = False) -> int:
        """Empty the queue (not the playing song); returns how many songs were removed."""
        args = [check_user(user), "1" if allowed is True else self._admin(is_admin)]
        _, removed = self._run(queue_scripts.CLEAR_SCRIPT, args)
        return int(removed)

    def _admin(self, is_admin: Any) -> str:
        # ADMIN_EMAILS rule the main nest only; a temporary nest belongs to its creator.
        return "1" if is_admin is True and self.nest_id == "main" else "0"

    def filter_uri(self, uri: str) -> None:
        self._run(queue_scripts.FILTER_SCRIPT, [check_uri(uri), int(CONF.BENDER_FILTER_SECONDS)])

    def set_preview(self, track: Track | None) -> None:
        raw = "" if track is None else json.dumps(preview_item(track, BENDER_USER),
                                                  ensure_ascii=False, sort_keys=True)
        self._run(queue_scripts.PREVIEW_SCRIPT, [raw])

    # --- player state ------------------------------------------------------------------------
    def skip(self, user: str) -> None:
        self._run(player_scripts.SKIP_SCRIPT, [check_user(user)], event=NOW_PLAYING)

    def pause(self, user: str, now: Any = None) -> None:
        check_user(user)
        self._run(player_scripts.PAUSE_SCRIPT, [repr(epoch(now))], event=NOW_PLAYING)

    def resume(self, user: str, now: Any = None) -> None:
        check_user(user)
        self._run(player_scripts.RESUME_SCRIPT, [repr(epoch(now))], event=NOW_PLAYING)

    def set_volume(self, volume: int) -> None:
        if isinstance(volume, bool) or not isinstance(volume, int) or not 0 <= volume <= 100:
            raise InvalidRequest("volume must be an integer from 0 to 100")
        apply(self.redis, self.nest_id, [["SET", self._key(keys.VOLUME), volume]],
              event=VOLUME, data={"volume": volume}, pre=self._take_pre())

    def airhorn(self, user: str, name: str, now: Any = None) -> dict:
        user = check_user(user)
        if not isinstance(name, str) or name not in AIRHORN_NAMES:
            raise InvalidRequest("unknown airhorn")
        now_ts = epoch(now)
        entry = {"name": name, "user": user, "time": iso(now_ts), "t": now_ts}
        _, (status, value, free) = self._run(player_scripts.AIRHORN_SCRIPT, [
            user, name, repr(now_ts), int(CONF.AIRHORN_MAX), int(CONF.AIRHORN_EXPIRE_SEC),
            int(CONF.AIRHORN_EXPIRE_COUNT), int(CONF.AIRHORN_LIST_MIN_LEN),
            int(CONF.DEFAULT_VOLUME), json.dumps(entry), json.dumps({**entry, "free": True})],
            event=AIRHORN)
        if status == "limited":
            retry = int(value)
            raise RateLimited(f"too many airhorns; try again in {retry} s", retry_after=retry)
        return {"name": name, "volume": int(value), "free": free == "1"}

    def advance(self, now: Any = None) -> dict | None:
        """Player step: end the song if over/skipped, start the next; returns the ended one."""
        _, flat = self._run(player_scripts.ADVANCE_SCRIPT, [repr(epoch(now))], event=NOW_PLAYING)
        if not flat:
            return None
        song = pairs(flat)
        return {"id": song.get("id", ""), "uri": song.get("uri", ""),
                "user": song.get("user", ""), "auto": song.get("auto") == "1",
                "title": song.get("title", ""), "artist": song.get("artist", ""),
                "album": song.get("album", ""), "duration": float(song.get("duration") or 0),
                "started": iso(float(song["started"])), "ended": iso(float(song["ended"]))}


def due_nests(client: redis.Redis, nest_ids: list[str], now: Any = None) -> list[str]:
    """The nests whose player must advance (song over, skip asked, or idle with a queue).

    One script call for any number of nests (batched so no call holds Redis for long), so
    10,000 idle nests cost a few round trips. Returns ids in the order given.
    """
    now_ts = repr(epoch(now))
    # Split a sample key around the nest id so the script builds keys exactly as keys.py does.
    head, _ = keys.nest_key("\0", keys.NOW_PLAYING).split("\0")
    tails = [keys.nest_key("\0", k).split("\0")[1]
             for k in (keys.NOW_PLAYING, keys.SKIP, keys.PRIORITY_QUEUE)]
    ids = [n for n in nest_ids if isinstance(n, str)]
    due: list[str] = []
    if keys.cluster_layout():
        from echonest import per_nest

        found = per_nest.run(client, player_scripts.DUE, [
            ([keys.nest_key(n, keys.NOW_PLAYING)], [now_ts, head, *tails, n]) for n in ids])
        return [n for n, hit in zip(ids, found, strict=True) if hit]
    for start in range(0, len(ids), DUE_BATCH):
        batch = ids[start:start + DUE_BATCH]
        due += player_scripts.DUE_SCRIPT(client, [], [now_ts, head, *tails, *batch])
    return due
