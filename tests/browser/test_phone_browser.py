"""The room pays from its own phones, in a real Chromium against the real demo server.

The test reads the checkout page's QR code like a phone camera would (a real decoder,
zxing-cpp, on a screenshot of the rendered code), opens that URL in a second, phone-sized
browser context, and answers the prompt; the checkout page and the dashboard row change
in the same documents.
"""

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from payments.models import Payment, PaymentLog
from tests.support.pages import expect_live, log_in, pay, scan_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE_VIEWPORT = {"width": 390, "height": 844}


def open_phone(browser: Browser, url: str) -> Page:
    phone = browser.new_context(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True).new_page()
    phone.goto(url)
    expect(phone.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
    return phone


def test_it_approves_from_the_scanned_phone_and_both_pages_flip_within_a_second(start_demo, browser, artifacts):
    server = start_demo(60, "--success-rate", "0")  # the timer would fail it, much later
    checkout = browser.new_context(viewport={"width": 600, "height": 1000}).new_page()
    operator = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    phone = None
    try:
        log_in(operator, server.base_url)
        payment = pay(checkout, server.base_url, amount="75.00", booking=False)
        expect_live(checkout)
        checkout.evaluate("window.__sameDocument = true")
        url = scan_qr(checkout)
        assert url == f"{server.base_url}/p/{payment.approval_token}/"
        row = operator.locator(f"#row-{payment.reference}")
        expect(row).to_have_attribute("data-status", "processing")

        phone = open_phone(browser, url)
        expect(phone.get_by_role("heading")).to_have_text(re.compile(r"Pay\s*75\.00 EUR\s*to Virunga Treks"))
        phone.screenshot(path=artifacts / "phone-prompt-scanned.png")
        phone.get_by_label("PIN").fill("2468")
        phone.get_by_role("button", name="Approve").click()
        expect(phone.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=5_000)
        approved_at = time.monotonic()
        # Within 1 s of the approval's answer, in the same documents.
        expect(checkout.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=1_000)
        expect(row).to_have_attribute("data-status", "successful", timeout=1_000)
        assert time.monotonic() - approved_at < 1.0
        assert checkout.evaluate("window.__sameDocument === true"), "the checkout page was reloaded"
        expect(checkout.locator("[data-phone-qr]")).to_be_hidden()
        phone.screenshot(path=artifacts / "phone-approved.png")

        payment.refresh_from_db()
        assert payment.status == "successful"
        assert PaymentLog.objects.get(payment=payment, event="approved").actor == "payer"
        # A replay from the phone changes nothing.
        replay = phone.request.post(url + "approve/", form={"pin": "2468"}, headers={"X-CSRFToken": phone.context.cookies()[0]["value"]})
        assert replay.status == 409
        payment.refresh_from_db()
        assert payment.version == 2
    finally:
        for page in (checkout, operator, phone):
            if page:
                page.context.close()


def test_in_phone_mode_a_wrong_pin_then_decline_and_the_simulated_phone(start_demo, browser, artifacts):
    server = start_demo(1, "--approval-mode", "phone")  # a 1 s timer that phone mode ignores
    checkout = browser.new_context(viewport={"width": 600, "height": 1100}).new_page()
    phone = None
    try:
        payment = pay(checkout, server.base_url, amount="75.00", booking=False)
        expect(checkout.get_by_text("Approve on your phone", exact=True)).to_be_visible()
        expect_live(checkout)
        checkout.evaluate("window.__sameDocument = true")
        phone = open_phone(browser, scan_qr(checkout))

        phone.get_by_label("PIN").fill("0000")
        phone.get_by_role("button", name="Approve").click()
        expect(phone.get_by_role("alert")).to_have_text("Wrong PIN. Try again (attempt 1).")
        phone.screenshot(path=artifacts / "phone-wrong-pin.png")
        assert PaymentLog.objects.filter(payment=payment, event="wrong_pin").count() == 1
        phone.get_by_role("button", name="Decline").click()
        expect(phone.get_by_role("heading", name="Payment failed")).to_be_visible(timeout=5_000)
        expect(checkout.get_by_role("heading", name="Payment failed")).to_be_visible(timeout=1_000)
        expect(checkout.get_by_text("The payment was declined on the phone.")).to_be_visible()
        assert checkout.evaluate("window.__sameDocument === true")
        payment.refresh_from_db()
        assert (payment.status, payment.reason) == ("failed", "APPROVAL_REJECTED")

        # No second device: the same phone page, embedded beside the checkout.
        second = pay(checkout, server.base_url, amount="75.00", booking=False)
        expect_live(checkout)
        checkout.get_by_text("Simulate the phone here").click()
        embedded = checkout.frame_locator("iframe.sim-frame")
        embedded.get_by_label("PIN").fill("13579")
        embedded.get_by_role("button", name="Approve").click()
        expect(checkout.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=5_000)
        expect(embedded.get_by_role("heading", name="Payment successful")).to_be_visible()
        checkout.screenshot(path=artifacts / "checkout-simulated-phone.png", full_page=True)
        second.refresh_from_db()
        assert second.status == "successful"
        assert Payment.objects.get(pk=payment.pk).version == 2  # nothing settled it twice
    finally:
        for page in (checkout, phone):
            if page:
                page.context.close()
