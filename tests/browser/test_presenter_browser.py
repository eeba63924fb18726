"""Play / Stop of a bundled scenario, the background-traffic toggle and Reset demo, from
the dashboard in a real Chromium against the real demo server."""

import re

import pytest
from playwright.sync_api import expect

from payments.models import Payment
from tests.support import wait_for
from tests.support.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_play_stop_and_background_traffic(start_demo, browser):
    server = start_demo(30)
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        log_in(page, server.base_url)
        panel = page.locator("#presenter-panel")
        panel.locator("li", has_text="Happy path").get_by_role("button", name="Play").click()
        expect(page.locator("#toasts")).to_contain_text("Playing Happy path: 5 payments.")
        expect(panel.locator("[data-playing]")).to_contain_text("Happy path")
        # Its first payment at t=0, pushed onto the dashboard.
        expect(page.locator("#payment-rows .prow")).to_have_count(1, timeout=5_000)
        assert Payment.objects.filter(logs__actor="scenario:Happy path").distinct().count() >= 1
        panel.get_by_role("button", name="Stop").click()
        expect(page.locator("#toasts")).to_contain_text("Scenario stopped.")
        expect(panel.locator("[data-playing]")).to_have_count(0)
        stopped_at = Payment.objects.count()

        panel.get_by_role("button", name="Start traffic").click()
        expect(panel).to_contain_text(re.compile(r"Background traffic: on"))
        wait_for(lambda: Payment.objects.filter(logs__actor="traffic").count() >= 3, timeout=10, what="traffic")
        panel.get_by_role("button", name="Stop traffic").click()
        expect(panel).to_contain_text("Background traffic: off")
        after = Payment.objects.count()
        assert after > stopped_at
        # The answer came after the task ended: nothing more is created.
        assert Payment.objects.filter(logs__actor="traffic").count() == after - stopped_at

        # Reset: the button asks first; the dashboard empties, an open checkout page says so.
        customer = browser.new_context(viewport={"width": 500, "height": 900}).new_page()
        waiting = Payment.objects.filter(status="processing").first()
        customer.goto(f"{server.base_url}/pay/{waiting.reference}/")
        expect(customer.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Reset demo").click()
        expect(page.locator("#toasts")).to_contain_text(f"Demo reset: {after} payments removed.")
        expect(page.locator("#payment-rows .prow")).to_have_count(0)
        expect(page.locator('#stats [data-counter="processing"] .value')).to_have_text("0")
        expect(customer.get_by_role("heading", name="The demo was reset")).to_be_visible(timeout=5_000)
        expect(customer.locator("body")).to_have_attribute("data-ws", "done")
        assert Payment.objects.count() == 0
        customer.context.close()
    finally:
        page.context.close()
