"""Incremental queue reads: a queue body rebuilt from the previous one plus what changed.

Every queue event makes each web process's fan-out refresh the nest's queue body. Reading the
whole queue costs four Redis commands and one item build per queued song (≈1,200 commands at
300 songs), although a vote changes one item. Guarded writes record, per item, the nest version
at which its shown content last changed (``keys.QUEUE_REVS``, written by echonest/atomic.py's
epilogue for any write to an item's keys). Given the body it holds at version V, the fan-out
asks only for the queue's id order and the entries changed after V, and reuses every other item
dict as it was: O(change) Redis commands and item builds (docs/decisions.md, "Incremental queue
reads").

The result equals what a full read (``db.DB.queue_body``) returns at that version, apart from
``now``. Whenever that cannot be vouched for — no base, a base from another marker (data from
before the revs set, a deleted set, a flushed database, a version some writer did not record),
a version gone backwards, an id in the order that neither the base nor the changes hold — the
read is a full one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from echonest import keys, user_names
from echonest.catalog.library import audio_url
from echonest.catalog.library.index import shared_index
from echonest.queue_scripts import ITEM_ENTRY, ReadScript
from echonest.queue_shapes import epoch, iso, item_from_entry, preview_from_raw

# KEYS: priority queue, preview, version, revs. ARGV: item, jam, comments, votes prefixes; the
# base version; the base's marker ('' = none: a full read). Returns {version, preview, marker,
# 1 if incremental, the queue's ids in order, id/entry pairs (changed since the base, or all)}.
READ_SINCE = """
local PQ, PREVIEW, VERSION, REVS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local P_ITEM, P_JAM, P_COMMENTS, P_VOTE = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local base, base_marker = tonumber(ARGV[5]) or 0, ARGV[6]
""" + ITEM_ENTRY + """
local version = tonumber(redis.call('GET', VERSION) or '0')
local order = redis.call('ZRANGE', PQ, 0, -1)
-- The set vouches for changes after ``base`` when its marker is the one the base was read
-- under and the newest version was recorded too (echonest/atomic.py, REVS_RECORD).
local marker = redis.call('ZRANGEBYSCORE', REVS, 0, 0)[1] or ''
local since = tonumber(string.match(marker, '^~(%d+):') or '')
local recorded = tonumber(redis.call('ZSCORE', REVS, '^') or '1') == -version
local incremental = base_marker ~= '' and marker == base_marker and since ~= nil
  and base >= since and version >= base and recorded
local entries = {}
local ids = order
if incremental then ids = redis.call('ZRANGEBYSCORE', REVS, '(' .. base, '+inf') end
for _, id in ipairs(ids) do
  if not incremental or redis.call('ZSCORE', PQ, id) then
    entries[#entries + 1] = id
    entries[#entries + 1] = item_entry(id)
  end
end
return {version, redis.call('GET', PREVIEW) or '', marker, incremental and 1 or 0, order, entries}
"""

_READ = ReadScript(READ_SINCE)
_NONE = object()  # no stored name entry held (None is one: "never signed in")


class QueueBody(dict):
    """A queue body (the dict clients get) plus what a read from it needs, never sent: the revs
    marker it was read under, the library index version its audio urls were resolved with, how
    many queued items mention each person, and the stored name entries its ``users`` show."""

    __slots__ = ("marker", "library", "mentions", "names")


def _library(client: Any) -> str | None:
    """The library index version audio urls resolve against now (None: unknown)."""
    try:
        return shared_index(client).data().version
    except Exception:  # audio_url then says "no audio"; the next read resolves again
        return None


def queue_body(db: Any, base: dict | None = None, now: Any = None) -> QueueBody:
    """The nest's queue body; built from ``base`` (a QueueBody this module returned for the
    same nest) plus what changed since it when the revs set vouches for that, else in full."""
    known = base if isinstance(base, QueueBody) and base.marker else None
    body = _read(db, known, now)
    if body is None:  # the changes did not add up to a queue: read it whole
        body = _read(db, None, now)
    return body


def _read(db: Any, known: QueueBody | None, now: Any) -> QueueBody | None:
    args = [db._key(f("")) for f in (keys.queue_item, keys.queue_jams, keys.comments,
                                      keys.queue_votes)]
    args += [str(int(known["version"])) if known else "0", known.marker if known else ""]
    script_keys = [db._key(k) for k in (keys.PRIORITY_QUEUE, keys.BENDER_PREVIEW, keys.VERSION,
                                        keys.QUEUE_REVS)]
    version, preview, marker, incremental, order, flat = _READ(db.redis, script_keys, args)
    library = _library(db.redis)
    fresh = {flat[i]: item_from_entry(flat[i + 1]) for i in range(0, len(flat), 2)}
    db._with_audio(list(fresh.values()))
    if incremental and known is not None:
        merged = _merged(known, order, fresh, library, db)
        if merged is None:
            return None
        items, mentions = merged
    else:
        items = [item for item in (fresh.get(i) for i in order) if item is not None]
        mentions = _count(Counter(), items, 1)
    preview_row = preview_from_raw(preview)
    db._with_audio([preview_row])
    people = [u for u, n in mentions.items() if n > 0]
    raws = user_names.stored(db.redis, [*people, *user_names.ids_in([preview_row])])
    held_raws, held_users = (known.names, known["users"]) if known else ({}, {})
    users = {u: held_users[u] if u in held_users and held_raws.get(u, _NONE) == raw
             else user_names.entry(u, raw) for u, raw in raws.items()}
    body = QueueBody(queue=items, preview=preview_row, version=int(version), now=iso(epoch(now)),
                     users=users)
    body.marker, body.library, body.mentions, body.names = marker, library, mentions, raws
    return body


def _count(mentions: Counter, items: Any, step: int) -> Counter:
    """``mentions`` with each item's people (user_names.ids_in) counted ``step`` more times."""
    for item in items:
        for user in user_names.ids_in([item]):
            mentions[user] += step
            if mentions[user] == 0:
                del mentions[user]
    return mentions


def _merged(known: QueueBody, order: list, fresh: dict, library: str | None,
            db: Any) -> tuple[list, Counter] | None:
    """The new order's items (changed ones fresh, the rest reused from ``known``, their audio
    url re-resolved only when the library changed) and who they mention; None if an id is in
    neither the changes nor ``known``."""
    held = {item["id"]: item for item in known["queue"]}
    same_library = library is not None and library == known.library
    items = []
    for item_id in order:
        if item_id in fresh:
            item = fresh[item_id]
            if item is not None:
                items.append(item)
            continue
        item = held.get(item_id)
        if item is None:
            return None
        if not same_library:
            item = {**item, "audio_url": audio_url(item.get("uri"), db.redis)}
        items.append(item)
    # Who the queue mentions: the held count, less the items gone or replaced, plus the fresh.
    leaving = held.keys() - set(order) | held.keys() & fresh.keys()
    mentions = _count(Counter(known.mentions), (held[i] for i in leaving), -1)
    return items, _count(mentions, (item for item in fresh.values() if item is not None), 1)
