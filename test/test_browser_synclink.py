"""The /sync/link and /tokens pages in a real headless Chromium: QR drawn, no CSP refusal."""

from __future__ import annotations

import re

import pytest
from browser_helpers import Visitor, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_the_link_page_draws_its_code_as_a_qr_and_counts_down(server, chromium):
    kim = Visitor(chromium, server.url, "Kim")
    kim.page.goto("/sync/link")
    code = kim.page.locator("#link-code")
    expect()(code).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))
    expect()(kim.page.locator("#link-expiry")).to_have_text(re.compile(r"Valid for [45]:\d\d"))
    size = kim.page.eval_on_selector("#link-qr", "c => [c.width, c.height]")
    assert size[0] > 100 and size[0] == size[1]
    dark = kim.page.eval_on_selector(
        "#link-qr", "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
        ".filter((v, i) => i % 4 === 0 && v < 50).length")
    assert dark > 100  # modules were drawn, not just a white square
    assert kim.errors == []


def test_the_tokens_page_makes_shows_once_and_revokes(server, chromium):
    kim = Visitor(chromium, server.url, "Kim")
    kim.page.goto("/tokens")
    kim.page.fill("#token-label", "Desk <b>")
    kim.page.locator("#token-form [type=submit]").click()
    expect()(kim.page.locator("#new-token")).to_have_text(re.compile(r"^ens_"))
    expect()(kim.page.locator("#token-list")).to_contain_text("Desk <b>")
    kim.page.locator("#token-list form [type=submit]").click()
    expect()(kim.page.locator("#token-list")).to_contain_text("No tokens yet")
    assert kim.errors == []
