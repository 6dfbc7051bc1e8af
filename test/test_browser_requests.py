"""What the page asks the server for: one snapshot per load, nothing the socket already pushes.

The socket's first frames are the page's queue and now playing; the page fetches over HTTP only
what the socket does not carry (the recent airhorns). A song change reaches every listener as
pushed frames (now_playing, then the queue it left) — with 1,000 listeners a refetch per song
would be 1,000 requests.
"""

from __future__ import annotations

import json
import time

import pytest
from browser_helpers import Visitor, expect
from servers import Guest, offline_track_uris, player_worker, web_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

STATE = ("/queue", "/playing", "/airhorns", "/api/queue", "/api/playing")


def _api_requests(page):
    seen = []
    page.on("request", lambda req: seen.append(req.url) if "/api/" in req.url else None)
    return seen


def test_load_and_song_change_fetch_nothing_the_socket_pushes(r, redis_url, chromium):
    exp = expect()
    with web_server(redis_url, {"USE_BENDER": False}) as srv:
        v = Visitor(chromium, srv.url, "Ines")
        code = v.build_nest("Quiet Wire")
        assert v.api_post(f"/api/nests/{code}/songs",
                          {"track_uri": "local:track:madonna-angel"})["status"] == 200
        assert v.api_post(f"/api/nests/{code}/songs",
                          {"track_uri": "local:track:queen-love-of-my-life"})["status"] == 200

        seen = _api_requests(v.page)
        v.goto(f"/nest/{code}")
        exp(v.row("Angel")).to_have_count(1)
        exp(v.row("Love of My Life")).to_have_count(1)
        time.sleep(1.0)  # anything late (a second snapshot) would show up by now
        state = [u for u in seen if u.split("?")[0].endswith(STATE)]
        assert [u.rsplit("/", 1)[-1] for u in state] == ["airhorns"], seen

        seen.clear()
        with player_worker(redis_url, USE_BENDER="false"):
            exp(v.page.locator("#now .now-title")).to_have_text("Angel")
            exp(v.row("Angel")).to_have_count(0)
            exp(v.row("Love of My Life")).to_have_count(1)
            time.sleep(1.0)
        assert seen == [], seen
        assert v.errors == [] and v.dialogs == []
        v.close()


def test_changes_by_others_arrive_as_patches_and_the_page_shows_the_queue_everyone_sees(
        r, redis_url, chromium):
    """Votes and an add by another guest and the host's removal reach the page as queue_patch frames
    (what changed, not the whole queue); the page's rows end up in the API's order and it asks
    for nothing over HTTP."""
    exp = expect()
    with web_server(redis_url, {"USE_BENDER": False}) as srv:
        v = Visitor(chromium, srv.url, "Ines")
        code = v.build_nest("Patch Wire")
        other = Guest(srv.url, "Olaf")
        for uri in offline_track_uris(8):  # the host has no per-person cap
            assert v.api_post(f"/api/nests/{code}/songs", {"track_uri": uri})["status"] == 200

        def queue_titles():
            return {item["id"]: item["title"] for item in
                    other.get(f"/api/nests/{code}/queue").json()["queue"]}

        titles = queue_titles()
        received = []
        v.page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda payload: received.append(payload)))
        v.goto(f"/nest/{code}")
        ids = list(titles)
        exp(v.row(titles[ids[0]])).to_have_count(1)
        seen = _api_requests(v.page)

        def shown(change):
            """Make one change and wait until the page's socket brought it: changes that
            land within one read of each other are sent as one (echonest/web/queue_pacing.py)."""
            assert change()
            version = other.get(f"/api/nests/{code}/queue").json()["version"]
            deadline = time.monotonic() + 10
            while not any((json.loads(p).get("data") or {}).get("version", 0) >= version
                          for p in received if isinstance(p, str)
                          and json.loads(p).get("event") in ("queue_update", "queue_patch")):
                assert time.monotonic() < deadline, received
                v.page.wait_for_timeout(10)

        shown(lambda: other.post_json(f"/api/nests/{code}/vote", {"id": ids[6], "up": True}).ok)
        shown(lambda: v.api_post(f"/api/nests/{code}/remove", {"id": ids[2]})["status"] == 200)
        shown(lambda: other.post_json(f"/api/nests/{code}/vote", {"id": ids[4], "up": False}).ok)
        shown(lambda: other.post_json(f"/api/nests/{code}/songs",
                                      {"track_uri": offline_track_uris(9)[-1]}).ok)
        want = list(queue_titles().values())
        assert titles[ids[2]] not in want and len(want) == 8
        exp(v.page.locator("#queue .qrow:not(.is-preview) .row-title")).to_have_text(want)
        events_seen = [json.loads(p).get("event") for p in received if isinstance(p, str)]
        assert events_seen.count("queue_patch") >= 3, events_seen
        time.sleep(0.5)
        assert [u for u in seen if u.split("?")[0].endswith(STATE)] == [], seen
        assert v.errors == [] and v.dialogs == []
        v.close()
