"""The local stack's inbox page (`GET /_local/inbox`) in a real headless Chromium, driven by Playwright:
an in-app notification published over REST appears on the page live, through the WebSocket, and the
page's buttons mark items read through it.

The browser is Debian's Chromium at /usr/bin/chromium (`make browser`); Playwright never downloads one.
Everything is on loopback. The page itself: devstack/inbox_page.html; without a browser:
tests/unit/devstack/test_inbox_page.py.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Route, expect, sync_playwright

from devstack.process import LocalStackProcess
from tests.e2e.conftest import wait_for, wait_for_value

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine's network may be closed: without these Chromium keeps calling Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000
"""The longest any step may take: a notification published reaches the page well within it."""


class Chromium:
    """Chromium through Playwright, launched when a test first asks for a page, so that a missing
    browser fails that test saying what to do; `close` ends every page, the browser and Playwright."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self.console_errors: list[str] = []

    def new_page(self) -> Page:
        if self._browser is None:
            if not CHROMIUM.exists():
                pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium package)")
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=30_000
            )
        context = self._browser.new_context()
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def close(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    browser = Chromium()
    yield browser
    browser.close()


def recipient() -> str:
    return f"page-{uuid.uuid4().hex[:12]}"


def open_inbox(local: LocalStackProcess, chromium: Chromium, recipient_id: str) -> Page:
    page = chromium.new_page()
    page.goto(f"{local.url}/_local/inbox?recipient={recipient_id}")
    expect(page.get_by_test_id("recipient")).to_have_value(recipient_id)
    return page


def publish(local: LocalStackProcess, recipient_id: str, title: str, body: str) -> str:
    status, answer = local.request(
        "POST",
        "/api/v1/notifications/publish",
        {
            "recipientId": recipient_id,
            "type": "inapp",
            "priority": "critical",
            "messageBody": body,
            "title": title,
            "data": {"source": "test_inbox_page"},
        },
    )
    assert status == 202, answer
    return str(answer["notificationId"])


def rest_inbox(local: LocalStackProcess, recipient_id: str) -> dict[str, Any]:
    status, page = local.request("GET", f"/recipients/{recipient_id}/inbox?limit=100")
    assert status == 200, page
    return dict(page)


def read_at(local: LocalStackProcess, recipient_id: str, notification_id: str) -> str | None:
    [item] = [i for i in rest_inbox(local, recipient_id)["items"] if i["id"] == notification_id]
    return None if item["read_at"] is None else str(item["read_at"])


def test_a_notification_appears_live_and_the_page_marks_items_read(local, chromium):
    assert local.ws_url, "the local stack serves no WebSocket API (LocalStackProcess.ws_url is None)"
    recipient_id = recipient()
    page = open_inbox(local, chromium, recipient_id)
    config = json.loads(page.locator("#inbox-config").text_content() or "")
    assert config == {"apiKey": local.api_key, "webSocketUrl": local.ws_url}
    status, unread, unseen = (page.get_by_test_id(i) for i in ("status", "unread-count", "unseen-count"))
    items = page.get_by_test_id("items").get_by_test_id("item")

    page.get_by_test_id("connect").click()
    expect(status).to_have_text("connected", timeout=WAIT_MS)
    expect(unread).to_have_text("0")
    expect(items).to_have_count(0)

    # Markup in the data is shown as text, never rendered.
    title = '<b>Order</b> shipped & "on its way"'
    first = publish(local, recipient_id, title, "<img src=x> arrives Monday")
    item = page.locator(f'[data-testid="item"][data-id="{first}"]')
    expect(item).to_be_visible(timeout=WAIT_MS)
    expect(item.get_by_test_id("item-title")).to_have_text(title)
    expect(item.get_by_test_id("item-body")).to_have_text("<img src=x> arrives Monday")
    expect(item.locator("b, img")).to_have_count(0)
    expect(unread).to_have_text("1", timeout=WAIT_MS)
    expect(unseen).to_have_text("1", timeout=WAIT_MS)

    item.get_by_test_id("mark-read").click()  # a "mark" frame on the WebSocket
    expect(unread).to_have_text("0", timeout=WAIT_MS)
    expect(unseen).to_have_text("0", timeout=WAIT_MS)
    expect(item.get_by_test_id("mark-read")).to_be_disabled()
    assert wait_for(lambda: read_at(local, recipient_id, first), timeout=WAIT_MS / 1000)

    others = [publish(local, recipient_id, f"Item {n}", f"body {n}") for n in (2, 3)]
    for notification_id in others:
        expect(page.locator(f'[data-testid="item"][data-id="{notification_id}"]')).to_be_visible(
            timeout=WAIT_MS
        )
    expect(unread).to_have_text("2", timeout=WAIT_MS)

    page.get_by_test_id("mark-all-read").click()  # a "mark_all" frame
    expect(unread).to_have_text("0", timeout=WAIT_MS)
    wait_for_value(lambda: rest_inbox(local, recipient_id)["unread_count"], 0, timeout=WAIT_MS / 1000)
    assert all(i["read_at"] for i in rest_inbox(local, recipient_id)["items"])

    # Connecting again lists the inbox once more: each item once, all read.
    page.get_by_test_id("connect").click()
    expect(status).to_have_text("connected", timeout=WAIT_MS)
    expect(items).to_have_count(3, timeout=WAIT_MS)
    expect(page.locator(f'[data-testid="item"][data-id="{first}"]')).to_have_count(1)
    expect(page.locator('[data-testid="item"] [data-testid="mark-read"]:enabled')).to_have_count(0)
    expect(unread).to_have_text("0", timeout=WAIT_MS)
    assert chromium.console_errors == []  # a Content-Security-Policy violation would be one


def _forged(token: str, recipient_id: str) -> str:
    """The token with its subject rewritten to another recipient, its signature kept."""
    header, claims, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    rewritten = json.dumps({**decoded, "sub": recipient_id}, separators=(",", ":")).encode()
    return f"{header}.{base64.urlsafe_b64encode(rewritten).decode().rstrip('=')}.{signature}"


def test_a_forged_token_is_refused_at_the_handshake_and_the_page_says_so(local, chromium):
    assert local.ws_url, "the local stack serves no WebSocket API (LocalStackProcess.ws_url is None)"
    victim = recipient()
    publish(local, victim, "Private", "not for anyone else")
    page = open_inbox(local, chromium, recipient())

    def forge(route: Route) -> None:  # a client that rewrites its token to read another inbox
        answer = route.fetch()
        issued = answer.json()
        route.fulfill(response=answer, json={**issued, "token": _forged(issued["token"], victim)})

    page.route("**/inbox/token", forge)
    page.get_by_test_id("connect").click()

    expect(page.get_by_test_id("status")).to_have_text("refused", timeout=WAIT_MS)
    expect(page.get_by_test_id("detail")).to_contain_text("handshake")
    expect(page.get_by_test_id("items").get_by_test_id("item")).to_have_count(0)
    # Refused by the authorizer (the signature), not for want of a server.
    wait_for(
        lambda: any("$connect" in line and "401" in line for line in local.log().splitlines()), timeout=5
    )


def test_a_recipient_id_the_token_route_refuses_shows_refused(local, chromium):
    page = open_inbox(local, chromium, "not a recipient!")

    page.get_by_test_id("connect").click()

    expect(page.get_by_test_id("status")).to_have_text("refused", timeout=WAIT_MS)
    expect(page.get_by_test_id("detail")).to_contain_text("token: 400")
