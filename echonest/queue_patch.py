"""Queue patches: the change from one queue body to the next, for listeners that hold the first.

A vote on a 1,000-song queue changes one item and maybe its place, yet a whole-queue frame
carries every item to every listener: the kernel copies it once per socket and the phone parses
it all. A listener that asked for patches (``/socket?patches=1``) and holds exactly the body a
patch starts from gets only what changed (docs/api.md, "queue_patch").

Shape (``version`` first, so a reader scanning for it finds the new one)::

    {"version": new, "base": old, "now": ..., "items": [changed or new items],
     "order": [[start, stop], "id", ...],   # only when the order changed
     "preview": ..., "users": ...}          # only when they changed

``order`` spells the new order as runs of the base queue's indices (half-open ``[start,
stop)``) and ids of items the base did not hold; items the base held and the order leaves out
are gone. Building a patch is O(queue) dict comparisons in the web process, once per version
per process; what goes to each listener is O(change).
"""

from __future__ import annotations

from typing import Any

QUEUE = "queue"
# Body keys a patch always carries or rebuilds; every other body key travels when it changed.
_BUILT = ("queue", "version")


def diff(old: dict, new: dict) -> dict | None:
    """The patch turning body ``old`` into body ``new``; None when only a whole body will do
    (ids not unique, or most items changed, so a patch would not be smaller)."""
    old_queue, new_queue = old.get(QUEUE) or [], new.get(QUEUE) or []
    index = {item["id"]: i for i, item in enumerate(old_queue)}
    if len(index) != len(old_queue) or len({item["id"] for item in new_queue}) != len(new_queue):
        return None
    changed = []
    segments: list[Any] = []
    start = stop = -1
    for item in new_queue:
        i = index.get(item["id"])
        # Bodies built incrementally (echonest.queue_revs) reuse unchanged item dicts.
        if i is None or (old_queue[i] is not item and old_queue[i] != item):
            changed.append(item)
        if i is not None and i == stop:
            stop += 1
            continue
        if start >= 0:
            segments.append([start, stop])
        if i is None:
            segments.append(item["id"])
            start = stop = -1
        else:
            start, stop = i, i + 1
    if start >= 0:
        segments.append([start, stop])
    if len(changed) * 2 > len(new_queue) + 1:
        return None
    patch: dict[str, Any] = {"version": new.get("version"), "base": old.get("version"),
                             "items": changed}
    if segments != ([[0, len(old_queue)]] if old_queue else []):
        patch["order"] = segments
    for key, value in new.items():
        if key not in _BUILT and (key == "now" or old.get(key) != value):
            patch[key] = value
    return patch


def apply(old: dict, patch: dict) -> dict | None:
    """The body ``patch`` leads to from ``old``; None if ``old`` is not the patch's base.

    The page does the same in static/js/queuepatch.js; this one is what the tests and the
    benchmark's clients check the server's patches with.
    """
    if old.get("version") != patch.get("base"):
        return None
    old_queue = old.get(QUEUE) or []
    by_id = {item["id"]: item for item in old_queue}
    by_id.update((item["id"], item) for item in patch.get("items") or [])
    if "order" in patch:
        queue = []
        for part in patch["order"]:
            if isinstance(part, list):
                queue.extend(by_id[item["id"]] for item in old_queue[part[0]:part[1]])
            elif part in by_id:
                queue.append(by_id[part])
            else:
                return None
    else:
        queue = [by_id[item["id"]] for item in old_queue]
    body = {**old, **{k: v for k, v in patch.items() if k not in ("base", "items", "order")}}
    body[QUEUE] = queue
    return body
