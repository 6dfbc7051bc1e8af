"""The nest page in a real headless Chromium against real server processes: two guests, live.

Set ECHONEST_SCREENSHOTS=1 to (re)write docs/screenshots/*.png; otherwise the screenshot flow
still runs but writes into a temporary directory.
"""

from __future__ import annotations

import os
import re

import pytest
from browser_helpers import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    Visitor,
    expect,
)
from servers import Guest, player_worker, web_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
]

XSS = "<img src=x onerror=alert(1)>"

# For each theme: contrast ratios of the colour pairs people read, from the computed styles.
CONTRAST_JS = """() => {
  const probe = document.createElement('div');
  document.body.append(probe);
  const rgb = (v) => { probe.style.color = `var(${v})`;
    return getComputedStyle(probe).color.match(/[\\d.]+/g).slice(0, 3).map(Number); };
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  const out = {};
  const before = document.documentElement.dataset.theme;
  for (const t of ['midnight','neon','sunset','ocean','forest','ember','daylight','paper','bubblegum']) {
    document.documentElement.dataset.theme = t;
    out[`${t}: text/bg`] = ratio('--text', '--bg');
    out[`${t}: text/card`] = ratio('--text', '--surface-solid');
    out[`${t}: muted/bg`] = ratio('--muted', '--bg');
    out[`${t}: muted/card`] = ratio('--muted', '--surface-solid');
    out[`${t}: accent button`] = ratio('--accent-ink', '--accent');
    out[`${t}: accent/bg`] = ratio('--accent', '--bg');
    out[`${t}: error/card`] = ratio('--bad', '--surface-solid');
    out[`${t}: good/bg`] = ratio('--good', '--bg');
    out[`${t}: bender/card`] = ratio('--accent-2', '--surface-solid');
  }
  document.documentElement.dataset.theme = before;
  probe.remove();
  return out;
}"""


def test_two_guests_build_join_add_vote_jam_live(server, chromium):
    exp = expect()
    alice = Visitor(chromium, server.url, "Alice")
    bob = Visitor(chromium, server.url, "Bob", viewport=PHONE)

    code = alice.build_nest("Friday Funk")
    assert re.fullmatch(r"[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{5}", code)
    alice.page.click("#build-result .go-nest")
    alice.page.wait_for_url(f"**/nest/{code}")
    alice.wait_live()
    exp(alice.page.locator("#nest-name")).to_have_text("Friday Funk")
    exp(alice.listener_count()).to_have_text("1")

    # A mistyped code is refused in words before any navigation.
    bob.page.fill("#join-code", "O0I1L")
    bob.page.locator("#join-form [type=submit]").click()
    exp(bob.page.locator("#join-error")).to_contain_text("5 characters")
    bob.join_by_code(code)
    exp(alice.listener_count()).to_have_text("2")
    exp(bob.listener_count()).to_have_text("2")

    # Bob adds a song through type-ahead search; Alice sees it appear without reloading.
    added = bob.search_and_add("madonna", "Angel")
    exp(added.locator(".add-btn")).to_have_text("Added")
    exp(alice.row("Angel")).to_have_count(1)
    # Alice sees who added it by name (and initials), not as "Guest".
    exp(alice.row("Angel").locator(".row-who")).to_have_text("Bob")
    exp(alice.row("Angel").locator(".row-adder .avatar")).to_have_text("BO")
    bob.page.keyboard.press("Escape")
    alice.search_and_add("starboy", "Starboy")
    exp(bob.row("Starboy")).to_have_count(1)
    # Round robin: Bob's first song plays before Alice's first.
    exp(bob.page.locator("#queue .qrow .row-title")).to_have_text(["Angel", "Starboy"])

    # Remove buttons only where allowed: Bob (not the creator) only on his own song.
    exp(bob.row("Angel").locator(".remove-btn")).to_be_visible()
    exp(bob.row("Starboy").locator(".remove-btn")).to_be_hidden()
    exp(alice.row("Angel").locator(".remove-btn")).to_be_visible()

    # Alice votes Bob's song down: her vote shows as hers, and Bob sees the order change live.
    alice.row("Angel").locator(".vote-down").click()
    exp(alice.row("Angel").locator(".vote-down")).to_have_attribute("aria-pressed", "true")
    exp(bob.row("Angel").locator(".vote-count")).to_have_text("-1")
    exp(bob.page.locator("#queue .qrow .row-title")).to_have_text(["Starboy", "Angel"])
    exp(bob.row("Angel").locator(".vote-down")).to_have_attribute("aria-pressed", "false")
    # Her vote comes from the server, not this browser's storage: a fresh page still shows it.
    alice.page.evaluate("() => localStorage.clear()")
    alice.page.reload()
    alice.wait_live()
    exp(alice.row("Angel").locator(".vote-down")).to_have_attribute("aria-pressed", "true")
    exp(alice.row("Angel").locator(".vote-up")).to_have_attribute("aria-pressed", "false")

    # Bob jams Alice's song; the jam count reaches Alice.
    bob.row("Starboy").locator(".jam-btn").click()
    exp(bob.row("Starboy").locator(".jam-btn")).to_have_attribute("aria-pressed", "true")
    exp(alice.row("Starboy").locator(".jam-count")).to_have_text("1")

    # Adding a song that is already queued says so in words, inline.
    bob.page.fill("#search-input", "")
    res = bob.api_post(f"/api/nests/{code}/songs", {"track_uri": "local:track:madonna-angel"})
    assert res["status"] == 409 and res["body"]["error"] == "already_queued"

    # A comment full of markup stays text for everyone, and no script runs.
    alice.row("Angel").locator(".talk-btn").click()
    alice.row("Angel").locator(".comment-input").fill(XSS)
    alice.row("Angel").locator(".comment-form [type=submit]").click()
    exp(bob.row("Angel").locator(".talk-count")).to_have_text("1")
    bob.row("Angel").locator(".talk-btn").click()
    exp(bob.row("Angel").locator(".comment-text")).to_have_text(XSS)
    exp(bob.row("Angel").locator(".comment-who")).to_have_text("Alice")
    assert bob.page.locator("#queue img[src=x]").count() == 0

    # Only the creator gets the host tools; clearing takes a second tap and empties every screen.
    exp(bob.page.locator("#host-tools")).to_be_hidden()
    alice.page.click("#clear-btn")
    exp(alice.page.locator("#clear-btn")).to_have_text("Tap again to clear")
    alice.page.click("#clear-btn")
    exp(bob.page.locator("#queue .queue-empty")).to_be_visible()
    exp(bob.page.locator("#queue .qrow")).to_have_count(0)

    # Bob leaves: Alice's listener count drops back.
    bob.close()
    exp(alice.listener_count()).to_have_text("1")
    assert alice.dialogs == [] and bob.dialogs == []
    assert alice.errors == [] and bob.errors == []
    alice.close()


def test_markup_in_a_nest_name_renders_as_text(server, chromium):
    exp = expect()
    mallory = Visitor(chromium, server.url, XSS)
    code = mallory.build_nest(XSS)
    exp(mallory.page.locator("#build-result .built-name")).to_have_text(XSS)
    mallory.goto(f"/nest/{code}")
    exp(mallory.page.locator("#nest-name")).to_have_text(XSS)
    assert XSS in mallory.page.title()
    # The creator sees rename; the share dialog shows the code and a QR code.
    exp(mallory.page.locator("#rename-btn")).to_be_visible()
    mallory.page.click("#share-btn")
    exp(mallory.page.locator("#share-dialog .share-code")).to_have_attribute(
        "aria-label", f"Nest code {code}")
    exp(mallory.page.locator("#share-dialog .share-link")).to_have_value(
        re.compile(rf"/{code}$"))
    assert mallory.page.locator("#share-dialog canvas.qr").count() == 1
    mallory.page.keyboard.press("Escape")

    # Renaming to more markup: still text, and the live list in Main shows it as text too.
    mallory.page.click("#rename-btn")
    mallory.page.fill("#rename-name", "<b>bold</b> & <script>x</script>")
    mallory.page.locator("#rename-form [type=submit]").click()
    exp(mallory.page.locator("#nest-name")).to_have_text("<b>bold</b> & <script>x</script>")
    assert mallory.page.locator("#nestbar b:text('bold')").count() == 0

    visitor = Visitor(chromium, server.url, "Visitor")
    live = visitor.page.locator("#live-nests .live-nest").filter(has_text=code)
    exp(live.locator(".live-name")).to_have_text("<b>bold</b> & <script>x</script>")
    exp(visitor.page.locator("#rename-btn")).to_have_count(0)
    # The creator closes the nest: the open page says so and offers the way back to Main.
    status = mallory.page.evaluate(
        """async (code) => {
            const boot = JSON.parse(document.getElementById('echonest-boot').textContent);
            const res = await fetch(`/api/nests/${code}`, {method: 'DELETE',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': boot.csrf_token}});
            return res.status;
        }""",
        code,
    )
    assert status in (200, 204)
    exp(mallory.page.locator("#ended-screen")).to_be_visible()
    exp(mallory.page.locator("#ended-title")).to_have_text("This nest has ended")
    exp(mallory.page.locator("#ended-back")).to_have_attribute("href", "/")
    assert mallory.dialogs == [] and visitor.dialogs == []
    assert mallory.errors == [] and visitor.errors == []
    visitor.close()
    mallory.close()


def test_themes_rotate_and_persist(server, chromium):
    exp = expect()
    v = Visitor(chromium, server.url, "Theo")
    html = v.page.locator("html")
    first = html.get_attribute("data-theme")
    seen = {first}
    for _ in range(8):
        v.page.click("#theme-btn")
        seen.add(html.get_attribute("data-theme"))
    assert len(seen) == 9
    v.page.click("#theme-btn")
    exp(html).to_have_attribute("data-theme", first)
    # Every theme keeps text readable: WCAG AA (4.5:1) for body, muted, accent, error, "good"
    # and Bender text on the page and card backgrounds, and for the text on accent buttons.
    ratios = v.page.evaluate(CONTRAST_JS)
    low = {k: round(x, 2) for k, x in ratios.items() if x < 4.5}
    assert len(ratios) == 9 * 9 and not low, low
    v.page.click("#theme-btn")
    chosen = html.get_attribute("data-theme")
    v.goto("/")
    exp(html).to_have_attribute("data-theme", chosen)
    # Signing out (a CSRF-protected form post) lands on the sign-in page.
    exp(v.page.locator(".signout b")).to_have_text("Theo")
    v.page.locator(".signout [type=submit]").click()
    v.page.wait_for_url("**/login/**")
    v.close()


def test_screenshots_of_the_main_screens(r, redis_url, chromium, tmp_path):
    """Main nest, a temp nest with a queue, search open and the build modal, desktop and phone."""
    out = SCREENSHOTS if os.environ.get("ECHONEST_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    exp = expect()
    with web_server(redis_url) as srv, player_worker(redis_url):
        host = Guest(srv.url, "Priya")
        code = host.create_nest("Rooftop Party")
        for uri in ("local:track:madonna-angel", "local:track:madonna-like-a-prayer"):
            assert host.post_json(f"/api/nests/{code}/songs", {"track_uri": uri}).ok
        friend = Guest(srv.url, "Marco")
        for uri in ("local:track:the-weeknd-starboy", "local:track:madonna-sorry"):
            friend.post_json(f"/api/nests/{code}/songs", {"track_uri": uri})
        # Some life on the screen: jams, a vote and a comment thread.
        queue = host.get(f"/api/nests/{code}/queue").json()["queue"]
        starboy = next(i["id"] for i in queue if i["title"] == "Starboy")
        host.post_json(f"/api/nests/{code}/vote", {"id": starboy, "up": True})
        for who in (host, friend):
            who.post_json(f"/api/nests/{code}/jam", {"id": starboy})
            who.post_json(f"/api/nests/{code}/comments", {"id": starboy, "text": "Turn it up!"})

        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            v = Visitor(chromium, srv.url, "Sam", viewport=viewport)
            exp(v.page.locator("#now .now-title")).to_be_visible()
            v.page.screenshot(path=str(out / f"main-{label}.png"), animations="disabled")
            v.build_nest(f"Design Team {label}")
            exp(v.page.locator("#build-result canvas.qr")).to_be_visible()
            v.page.screenshot(path=str(out / f"build-modal-{label}.png"), animations="disabled")
            v.page.keyboard.press("Escape")
            v.goto(f"/nest/{code}")
            exp(v.page.locator("#now .now-title")).to_be_visible()
            exp(v.page.locator("#queue .qrow").first).to_be_visible()
            v.page.screenshot(path=str(out / f"nest-{label}.png"), animations="disabled")
            v.page.fill("#search-input", "love")
            exp(v.page.locator(".search-results .result").first).to_be_visible()
            v.page.screenshot(path=str(out / f"search-{label}.png"), animations="disabled")
            # Pause and resume by someone else freeze and restart the clock on this screen.
            host.post_json(f"/api/nests/{code}/pause")
            exp(v.page.locator("#now .now-status")).to_have_text("Paused")
            exp(v.page.locator("#now .progress")).to_have_attribute(
                "aria-valuetext", re.compile(r"^\d+:\d\d of \d+:\d\d$"))
            frozen = v.page.evaluate("""() => new Promise((done) => {
                const before = document.querySelector('#now .time-elapsed').textContent;
                setTimeout(() => done([before,
                  document.querySelector('#now .time-elapsed').textContent]), 1500);
            })""")
            assert frozen[0] == frozen[1]
            host.post_json(f"/api/nests/{code}/resume")
            exp(v.page.locator("#now .now-status")).to_have_text("Now playing")
            assert v.errors == [] and v.dialogs == []
            v.close()
    # Every main screen on both widths (docs/screenshots also holds other tests' pictures).
    assert {p.name for p in out.glob("*.png")} >= {
        f"{screen}-{label}.png" for screen in ("main", "build-modal", "nest", "search")
        for label in ("desktop", "phone")}
