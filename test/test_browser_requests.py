"""What the page asks the server for: one snapshot per load, nothing the socket already pushes.

The socket's first frames are the page's queue and now playing; the page fetches over HTTP only
what the socket does not carry (the recent airhorns). A song change reaches every listener as
pushed frames (now_playing, then the queue it left) — with 1,000 listeners a refetch per song
would be 1,000 requests.
"""

from __future__ import annotations

import time

import pytest
from browser_helpers import Visitor, expect
from servers import player_worker, web_server

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
