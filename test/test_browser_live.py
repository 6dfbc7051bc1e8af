"""The page stays alive in a real Chromium: airhorns, reconnects, pasted links, songs starting."""

from __future__ import annotations

import pytest
from browser_helpers import (
    PHONE,
    Visitor,
    expect,
)
from servers import player_worker, web_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
]


def test_airhorns_reach_other_listeners_and_full_queue_is_explained(r, redis_url, chromium):
    exp = expect()
    with web_server(redis_url, {"USE_BENDER": False, "NEST_MAX_QUEUE_DEPTH": 1}) as srv:
        host = Visitor(chromium, srv.url, "Hana")
        code = host.build_nest("Horn Section")
        host.goto(f"/nest/{code}")
        guest = Visitor(chromium, srv.url, "Gus", viewport=PHONE)
        guest.goto(f"/nest/{code}")
        exp(host.listener_count()).to_have_text("2")

        # Every airhorn the server knows has a sound this browser can decode (small, mono).
        sounds = host.page.evaluate(
            """async () => {
                const boot = JSON.parse(document.getElementById('echonest-boot').textContent);
                const ctx = new OfflineAudioContext(1, 22050, 22050);
                const out = {};
                for (const name of boot.config.airhorn_names) {
                  const res = await fetch(`/static/audio/${name}.wav`);
                  const bytes = await res.arrayBuffer();
                  const buf = await ctx.decodeAudioData(bytes);
                  out[name] = [res.status, bytes.byteLength, buf.numberOfChannels, buf.duration];
                }
                return out;
            }"""
        )
        from echonest.airhorns import AIRHORN_NAMES

        assert sorted(sounds) == sorted(AIRHORN_NAMES)
        for name, (status, size, channels, seconds) in sounds.items():
            assert status == 200 and size < 60_000 and channels == 1 and 0.3 < seconds < 2, name

        # Sync audio is a real toggle (WebAudio starts on the click).
        guest.page.click("#sync-btn")
        exp(guest.page.locator("#sync-btn")).to_have_attribute("aria-pressed", "true")

        host.page.locator("#airhorns .horn-btn[data-horn=foghorn]").click()
        exp(guest.page.locator("#airhorns .horn-recent .horn-name")).to_have_text(["Foghorn"])
        exp(guest.page.locator("#airhorns .horn-recent .horn-who")).to_have_text(["Hana"])
        exp(host.page.locator("#airhorns .horn-recent .horn-name")).to_have_text(["Foghorn"])
        # Someone opening the page afterwards still sees who fired what.
        late = Visitor(chromium, srv.url, "Lou")
        late.goto(f"/nest/{code}")
        exp(late.page.locator("#airhorns .horn-recent .horn-who")).to_have_text(["Hana"])
        assert late.errors == [] and late.dialogs == []
        late.close()

        # The nest holds one song; the second add explains itself inline, in words.
        host.search_and_add("madonna", "Angel")
        exp(guest.row("Angel")).to_have_count(1)
        result = guest.search_and_add("starboy", "Starboy")
        exp(result.locator(".inline-error")).to_contain_text("queue is full")
        exp(result.locator(".add-btn")).to_have_text("Add")
        assert host.dialogs == [] and guest.dialogs == []
        assert host.errors == [] and guest.errors == []
        guest.close()
        host.close()


def test_socket_reconnects_and_refetches_what_it_missed(server, chromium):
    exp = expect()
    v = Visitor(chromium, server.url, "Rosa")
    code = v.build_nest("Flaky Wifi")
    v.goto(f"/nest/{code}")
    # Drop the socket, then change the queue while it is down: only a refetch can show it.
    status = v.page.evaluate(
        """async (code) => {
            window.echonest.socket.drop();
            const boot = JSON.parse(document.getElementById('echonest-boot').textContent);
            const res = await fetch(`/api/nests/${code}/songs`, {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': boot.csrf_token},
                body: JSON.stringify({track_uri: 'local:track:madonna-angel'})});
            return res.status;
        }""",
        code,
    )
    assert status == 200
    exp(v.page.locator("#conn-status")).to_have_attribute("data-state", "live")
    exp(v.row("Angel")).to_have_count(1)
    assert v.errors == []
    v.close()


def test_pasted_links_add_directly_and_bad_codes_never_navigate(server, chromium):
    exp = expect()
    v = Visitor(chromium, server.url, "Paula")
    parsed = v.page.evaluate(
        """async () => {
            const {parseTrackLink} = await import('/static/js/search.js');
            const {normalizeCode} = await import('/static/js/nestbar.js');
            return {
              web: parseTrackLink('https://open.spotify.com/intl-de/track/4uLU6hMCjMI75M1A2tKUQC?si=x'),
              uri: parseTrackLink('spotify:episode:4uLU6hMCjMI75M1A2tKUQC'),
              other: parseTrackLink('https://evil.example/track/4uLU6hMCjMI75M1A2tKUQC'),
              code: normalizeCode(' x7k2p '),
              badCode: normalizeCode('X7K2O'),
            };
        }"""
    )
    assert parsed == {"web": "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
                      "uri": "spotify:episode:4uLU6hMCjMI75M1A2tKUQC",
                      "other": None, "code": "X7K2P", "badCode": None}

    # Keyboard first: "/" jumps to search, and Escape closes it again.
    v.page.locator("body").press("/")
    exp(v.page.locator("#search-input")).to_be_focused()
    v.page.keyboard.type("madonna")
    exp(v.page.locator(".search-results .result").first).to_be_visible()
    v.page.keyboard.press("Escape")
    exp(v.page.locator(".search-panel")).to_be_hidden()

    # A pasted catalog URI skips the search and adds in one tap, straight into Main's queue.
    v.page.fill("#search-input", "local:track:madonna-sorry")
    result = v.page.locator(".search-results .result").first
    exp(result.locator(".row-artist")).to_have_text("local:track:madonna-sorry")
    result.locator(".add-btn").click()
    exp(result.locator(".add-btn")).to_have_text("Added")
    exp(v.row("Sorry")).to_have_count(1)
    # A link the catalog cannot resolve is refused in words.
    v.page.fill("#search-input", "spotify:track:4uLU6hMCjMI75M1A2tKUQC")
    bad = v.page.locator(".search-results .result").first
    bad.locator(".add-btn").click()
    exp(bad.locator(".inline-error")).to_be_visible()
    exp(bad.locator(".add-btn")).to_have_text("Add")

    # Unknown but well-formed codes are checked before leaving the page.
    v.page.fill("#join-code", "ZZZZZ")
    v.page.locator("#join-form [type=submit]").click()
    exp(v.page.locator("#join-error")).to_contain_text("No nest with code ZZZZZ")
    assert v.page.url.rstrip("/") == server.url
    assert v.errors == [] and v.dialogs == []
    v.close()


def test_a_song_that_starts_playing_leaves_the_queue(r, redis_url, chromium):
    exp = expect()
    with web_server(redis_url, {"USE_BENDER": False}) as srv:
        v = Visitor(chromium, srv.url, "Nia")
        code = v.build_nest("Live Room")
        v.goto(f"/nest/{code}")
        exp(v.page.locator("#now .now-idle")).to_be_visible()
        assert v.api_post(f"/api/nests/{code}/songs",
                          {"track_uri": "local:track:madonna-angel"})["status"] == 200
        exp(v.row("Angel")).to_have_count(1)
        # Only now does a player start: it moves the song from the queue to now playing and
        # publishes just one now_playing event. The page must follow both moves.
        with player_worker(redis_url, USE_BENDER="false"):
            exp(v.page.locator("#now .now-title")).to_have_text("Angel")
            exp(v.row("Angel")).to_have_count(0)
            exp(v.page.locator("#queue .queue-empty")).to_be_visible()
        assert v.errors == [] and v.dialogs == []
        v.close()


def test_signing_out_in_another_tab_takes_this_tab_to_sign_in(r, redis_url, chromium):
    """The socket of a signed-out session closes (4401); the page does not keep showing a nest
    it can no longer act in, it goes to the sign-in page and comes back to the nest after."""
    exp = expect()
    with web_server(redis_url, {"USE_BENDER": False, "MEMBER_HEARTBEAT_SECONDS": 0.5}) as srv:
        v = Visitor(chromium, srv.url, "Tab One")
        code = v.build_nest("Two Tabs")
        v.goto(f"/nest/{code}")
        other_tab = v.context.new_page()
        other_tab.goto("/")
        other_tab.locator("form.signout [type=submit]").click()
        other_tab.wait_for_url("**/login/**")
        v.page.wait_for_url(f"**/login/?next=%2Fnest%2F{code}")
        exp(v.page.locator("form[action*='guest']")).to_have_count(1)
        assert v.errors == []
        v.close()
