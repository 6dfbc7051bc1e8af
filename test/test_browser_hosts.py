"""A host and two guests in real Chromium: guest controls, a vote-skip, a kick, the host link
opened in another browser, and the ended-nest screen."""

from __future__ import annotations

import pytest
from browser_helpers import Visitor, expect
from servers import offline_track_uris, web_server

from db import DB

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def save_settings(visitor: Visitor, **values: str) -> None:
    """Change settings through the host's panel, as a host would."""
    page = visitor.page
    page.click("#settings-btn")
    for name, value in values.items():
        page.select_option(f"#setting-{name}", value)
    page.locator("#settings-form [type=submit]").click()
    expect()(page.locator("#settings-dialog")).not_to_be_visible()


def test_a_host_and_two_guests(r, redis_url, chromium):
    exp = expect()
    with web_server(redis_url, {"USE_BENDER": False}) as srv:
        host = Visitor(chromium, srv.url, "Hana")
        code = host.build_nest("Host Party")
        host.goto(f"/nest/{code}")
        gus, gia = Visitor(chromium, srv.url, "Gus"), Visitor(chromium, srv.url, "Gia")
        for guest in (gus, gia):
            guest.goto(f"/nest/{code}")
            exp(guest.page.locator("#settings-btn")).to_be_hidden()
        exp(host.listener_count()).to_have_text("3")
        exp(host.page.locator("#settings-btn")).to_be_visible()

        for uri in offline_track_uris(3):
            assert host.api_post(f"/api/nests/{code}/songs", {"track_uri": uri})["status"] == 200
        DB(code, redis_client=r).advance()  # the player's step: the first song starts
        exp(gus.page.locator("#now")).not_to_have_class("is-idle")

        # Hosts only: a guest's skip is refused, and the refusal names the setting.
        save_settings(host, skip_mode="hosts")
        gus.page.get_by_role("button", name="Skip this song").click()
        exp(gus.page.locator("#toasts .toast-error")).to_contain_text("Who may skip the playing song")
        exp(gus.page.locator("#now")).not_to_have_class("is-idle")

        # By vote: 3 listeners, half of them (at least 2) must ask.
        save_settings(host, skip_mode="vote")
        gus.page.get_by_role("button", name="Skip this song").click()
        exp(host.page.locator(".skip-votes")).to_have_text("1 of 2 want to skip")
        exp(gia.page.locator(".skip-votes")).to_have_text("1 of 2 want to skip")
        gia.page.get_by_role("button", name="Skip this song").click()
        exp(host.page.locator("#now")).to_have_class("now card is-idle")

        # A kick closes the guest's page for good, with the reason.
        host.page.click("#members-btn")
        gus_row = host.page.locator("#members-body .member").filter(has_text="Gus")
        gus_row.get_by_role("button", name="Kick").click()
        exp(gus.page.locator("#ended-screen")).to_be_visible()
        exp(gus.page.locator("#ended-title")).to_have_text("A host removed you from this nest")
        exp(host.listener_count()).to_have_text("2")

        # The host link, opened in another browser, makes that browser a host.
        link = host.page.locator("#members-body .link-box").first.input_value()
        assert "?host=" in link
        host.page.keyboard.press("Escape")
        laptop = Visitor(chromium, srv.url, "Hana on the laptop")
        laptop.goto(link)
        exp(laptop.page.locator("#settings-btn")).to_be_visible()
        exp(gia.page.locator("#settings-btn")).to_be_hidden()

        # Ending the nest: every open page shows the ended screen with a way back.
        host.page.click("#members-btn")
        end = host.page.locator("#end-nest-btn")
        end.click()
        end.click()
        for visitor in (gia, laptop, host):
            exp(visitor.page.locator("#ended-screen")).to_be_visible()
            exp(visitor.page.locator("#ended-title")).to_have_text("This nest has ended")
        gia.page.click("#ended-back")
        gia.page.wait_for_url(f"{srv.url}/")

        for visitor in (host, gus, gia, laptop):
            assert visitor.errors == [] and visitor.dialogs == [], visitor.name
            visitor.close()


def test_a_lost_connection_is_plain_and_recovers(r, redis_url, chromium):
    exp = expect()
    with web_server(redis_url, {"USE_BENDER": False}) as srv:
        host = Visitor(chromium, srv.url, "Hana")
        code = host.build_nest("Flaky Wifi")
        host.goto(f"/nest/{code}")
        host.context.set_offline(True)
        host.page.evaluate("window.echonest.socket.drop()")
        exp(host.page.locator("#conn-banner")).to_be_visible()
        exp(host.page.locator("#conn-banner")).to_contain_text("Connection lost")
        exp(host.page.locator("body")).to_have_class("nest-temp is-stale")
        host.context.set_offline(False)
        exp(host.page.locator("#conn-status")).to_have_attribute("data-state", "live")
        exp(host.page.locator("#conn-banner")).to_be_hidden()
        exp(host.page.locator("body")).to_have_class("nest-temp")
        assert host.errors == []
        host.close()
