"""An operator refunds from the dashboard in a real Chromium: the customer's checkout page
and the payer's phone page change on their own (no reload) within a second of the refund
settling, and the ledger adds up."""

import time

import pytest
from playwright.sync_api import expect

from checkout.phone import phone_path
from payments.ledger_audit import ledger_discrepancies
from payments.models import Payment
from tests.support.pages import expect_live, log_in, pay
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_operator_refund_reaches_the_checkout_and_phone_pages_within_a_second(start_demo, browser, artifacts):
    server = start_demo(1, "--success-rate", "1", WALLET_START_BALANCE="10000")
    operator = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    customer = browser.new_context(viewport={"width": 430, "height": 900}).new_page()
    phone = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
    try:
        payment = pay(customer, server.base_url, phone="46733100061", amount="75.00", booking=False)
        phone.goto(server.base_url + phone_path(payment))
        expect(customer.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=10_000)
        expect(phone.get_by_role("heading", name="Payment successful")).to_be_visible()
        expect_live(customer)
        for page in (customer, phone):
            page.evaluate("window.__sameDocument = true")

        log_in(operator, server.base_url)
        row = operator.locator(f"#row-{payment.reference}")
        operator.locator("#refund-amount").fill("30")
        row.get_by_role("button", name="Refund").click()
        expect(operator.locator("#toasts")).to_contain_text("Refund of 30.00 EUR")
        refund = wait_for(lambda: Payment.objects.filter(refund_of=payment, status="successful").first(),
                          timeout=10, interval=0.01, what="the refund to settle")
        settled = time.monotonic()
        expect(customer.get_by_text("30.00 of 75.00 EUR refunded")).to_be_visible(timeout=1000)
        expect(phone.get_by_text("You have received 30.00 EUR from Virunga Treks")).to_be_visible(timeout=1000)
        expect(phone.locator("[data-wallet-balance]")).to_have_text("9955.00 EUR", timeout=1000)
        print(f"both pages changed {time.monotonic() - settled:.2f} s after the refund settled")
        expect(row.locator("[data-refunded]")).to_have_text("30.00 refunded")
        expect(operator.locator(f"#row-{refund.reference} [data-kind]")).to_contain_text("refund")
        for page in (customer, phone):
            assert page.evaluate("window.__sameDocument === true"), "a page was reloaded"
        phone.screenshot(path=artifacts / "phone-refund-received.png")
        customer.screenshot(path=artifacts / "checkout-refunded.png")
        operator.screenshot(path=artifacts / "dashboard-refund.png", full_page=True)
        assert ledger_discrepancies() == []
    finally:
        for page in (operator, customer, phone):
            page.context.close()
