"""Playwright plumbing for the browser tests: Debian's Chromium, guest sign-in, page locators.

Never downloads a browser: the tests drive /usr/bin/chromium (installed by `make install`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("ECHONEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15000  # how long a live change may take to show up before the test fails
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # The browser tests are part of what `make test` proves: a missing browser is a failure
    # with a way out, never a silent skip.
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Visitor:
    """One person in their own browser context: a signed-in guest with one page.

    Every JavaScript dialog (alert/confirm/prompt) is recorded and dismissed, so a test can
    assert that no injected script ever ran.
    """

    def __init__(self, chromium: Any, base_url: str, name: str, viewport: dict | None = None):
        self.base_url = base_url
        self.name = name
        self.context = chromium.new_context(viewport=viewport or DESKTOP, base_url=base_url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._on_console)
        self.sign_in()

    def _on_console(self, message: Any) -> None:
        # A Content-Security-Policy refusal means part of the page silently did not run.
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_in(self) -> None:
        self.page.goto("/login/")
        self.page.fill("input[name=name]", self.name)
        self.page.locator("form:has(input[name=name]) [type=submit]").click()
        self.page.wait_for_url(lambda url: "/login" not in url)
        self.wait_live()

    def wait_live(self) -> None:
        self.page.locator("#conn-status[data-state=live]").wait_for()

    def goto(self, path: str) -> None:
        self.page.goto(path)
        self.wait_live()

    def close(self) -> None:
        self.context.close()

    # --- locators -------------------------------------------------------------------------
    def row(self, title: str) -> Any:
        """The queue row whose title is exactly ``title`` (text match, so markup stays text)."""
        return self.page.locator("#queue .qrow:not(.is-preview)").filter(
            has=self.page.locator(".row-title", has_text=title))

    def listener_count(self) -> Any:
        return self.page.locator("#listener-count")

    def search_and_add(self, query: str, title: str) -> Any:
        self.page.fill("#search-input", query)
        result = self.page.locator(".search-results .result").filter(
            has=self.page.locator(".row-title", has_text=title)).first
        result.locator(".add-btn").click()
        return result

    def build_nest(self, name: str) -> str:
        """Build a Nest from Main through the modal; returns the new code (modal left open)."""
        self.page.click("#build-btn")
        self.page.fill("#build-name", name)
        self.page.locator("#build-form [type=submit]").click()
        code_el = self.page.locator("#build-result .share-code")
        code_el.wait_for()
        return "".join(code_el.locator("span").all_inner_texts())

    def join_by_code(self, code: str) -> None:
        self.page.fill("#join-code", code.lower())
        self.page.locator("#join-form [type=submit]").click()
        self.page.wait_for_url(f"**/nest/{code}")
        self.wait_live()

    def api_post(self, path: str, body: dict | None = None) -> Any:
        """A JSON write from inside the page, with the page's own CSRF token (as app.js does)."""
        return self.page.evaluate(
            """async ([path, body]) => {
                const boot = JSON.parse(document.getElementById('echonest-boot').textContent);
                const res = await fetch(path, {method: 'POST', credentials: 'same-origin',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': boot.csrf_token},
                    body: JSON.stringify(body || {})});
                return {status: res.status, body: await res.json()};
            }""",
            [path, body or {}],
        )


def expect():
    """Playwright's auto-waiting assertions (imported late: playwright is a test extra)."""
    from playwright.sync_api import expect as pw_expect

    return pw_expect
