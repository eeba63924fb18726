"""The "MoMo clients" panel in a real Chromium: one click, three values, Copy puts them on the clipboard."""

import re

import pytest
from playwright.sync_api import expect

from tests.support.momo_client import SUBSCRIPTION_KEY, HttpMomoClient

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_it_creates_a_momo_client_with_a_click_and_copies_its_key(start_demo, browser):
    server = start_demo(30, MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    page = context.new_page()
    try:
        page.goto(server.base_url + "/dashboard/")
        page.get_by_label("Username").fill("operator")
        page.get_by_label("Password").fill("op-pass-123")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(server.base_url + "/dashboard/")

        panel = page.locator("#momo-clients")
        panel.locator(":scope > summary").click()
        expect(panel.locator("#momo-subscription-key")).to_be_hidden()  # on a projector: only on request
        panel.locator("#momo-key-reveal summary").click()
        expect(panel.locator("#momo-subscription-key")).to_be_visible()
        expect(panel.locator("#momo-subscription-key")).to_have_text(SUBSCRIPTION_KEY)
        panel.get_by_label("Callback host").fill("shop.example")
        panel.get_by_role("button", name="Create MoMo client").click()

        api_key = page.locator("#momo-api-key")
        expect(api_key).to_have_text(re.compile(r"^[0-9a-f]{32}$"), timeout=10_000)
        expect(page.locator("#toasts")).to_contain_text("shown once")
        api_user = page.locator("#momo-api-user").inner_text()
        expect(page.locator(f'tr[data-api-user="{api_user}"]')).to_contain_text("shop.example")

        copy = page.locator('[data-copy="momo-api-key"]')
        copy.click()
        expect(copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == api_key.inner_text()

        # The values the operator copied work for a MoMo client.
        momo = HttpMomoClient(server.base_url)
        momo.user_id, momo.api_key = api_user, api_key.inner_text()
        momo.get_token()
        assert momo.call("GET", "/collection/v1_0/account/balance").status == 200
    finally:
        context.close()
