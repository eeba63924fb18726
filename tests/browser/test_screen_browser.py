"""The projector screen in a real Chromium at 1920x1080 against the real demo server:
a card flips live when its payment settles, over the dashboard socket (no polling)."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.support.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREEN = {"width": 1920, "height": 1080}


def create(base_url: str, phone: str) -> str:
    body = json.dumps({"amount": "25.00", "currency": "EUR", "phone_number": phone}).encode()
    request = urllib.request.Request(f"{base_url}/api/payments/", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["reference"]


def test_a_card_flips_live_and_the_counters_follow(start_demo, browser, artifacts):
    server = start_demo(2, "--success-rate", "1")
    screen = browser.new_context(viewport=SCREEN).new_page()
    requests: list[str] = []
    screen.on("request", lambda r: requests.append(r.url))
    try:
        log_in(screen, server.base_url)
        screen.goto(server.base_url + "/dashboard/screen/")
        expect(screen.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        expect(screen.get_by_role("heading", name="Scan to pay")).to_be_visible()
        expect(screen.locator(".scan svg.qr")).to_be_visible()
        screen.evaluate("window.__sameDocument = true")
        for phone in ["46733123450", "46733123499", "46733123499"]:
            create(server.base_url, phone)
        reference = create(server.base_url, "46733123499")
        card = screen.locator(f"#row-{reference}")
        expect(card).to_have_attribute("data-status", "processing", timeout=5_000)
        requests.clear()
        # Settled by the worker after 2 s, pushed: the same card element flips.
        expect(card).to_have_attribute("data-status", "successful", timeout=10_000)
        expect(card).to_have_class(re.compile(r"\bflip\b"))
        expect(screen.locator('#stats [data-counter="successful"] .value')).to_have_text("3", timeout=10_000)
        expect(screen.locator('#stats [data-counter="failed"] .value')).to_have_text("1")
        expect(screen.locator('#stats [data-counter="ratio"] .value')).to_have_text("75%")
        assert screen.evaluate("window.__sameDocument === true"), "the screen was reloaded"
        assert not [url for url in requests if "/dashboard" in url or "/pay/" in url], requests  # no polling
        card.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")  # the flip done, for the picture

        # The screen's simulated phone answers the newest waiting payment ("pending": no timer).
        waiting = create(server.base_url, "46733123454")
        expect(screen.locator(f"#row-{waiting}")).to_have_attribute("data-status", "processing", timeout=5_000)
        screen.get_by_text("Simulated phone").click()
        phone = screen.frame_locator("iframe.sim-frame")
        phone.get_by_label("PIN").fill("1357")
        phone.get_by_role("button", name="Approve").click()
        expect(screen.locator(f"#row-{waiting}")).to_have_attribute("data-status", "successful", timeout=5_000)
        expect(screen.locator(f"#row-{waiting}")).to_have_class(re.compile(r"\bflip\b"))
        screen.screenshot(path=artifacts / "projector-screen.png")
    finally:
        screen.context.close()
