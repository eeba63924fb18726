"""The operator's dashboard and a customer's payment page side by side in a real Chromium.

Against the real demo server (Daphne + worker, one process): the operator force-fails the
customer's payment from the dashboard; both pages change without a reload and the
dashboard's counters move. Saves test-artifacts/dashboard.png (the README's screenshot).
"""

import re

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment, PaymentLog, SimulatorSettings
from payments.services import payment_force
from tests.support.pages import log_in, pay
from tests.support.factories import make_payment
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETTLING = ["46733123499"] * 4 + ["46733123451", "46733123455", "46733123462"]  # 4 succeed, 3 fail
WAITING = ["46733123499", "46733123453", "46733123454"]  # stay processing for the whole test


def counter(page: Page, name: str):
    return page.locator(f'#stats [data-counter="{name}"] .value')


def mid_demo() -> None:
    """Payments in every state: some due now (the worker settles them), some still waiting."""
    for phone in SETTLING:
        make_payment(phone, due_in=-1)
    for phone in WAITING:
        make_payment(phone)
    wait_for(
        lambda: Payment.objects.filter(status="processing").count() == len(WAITING),
        timeout=15, what="the worker to settle what is due",
    )


def test_it_force_fails_a_payment_and_both_pages_change_without_reload(start_demo, browser, artifacts):
    server = start_demo(120, "--success-rate", "1")
    mid_demo()
    operator = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    customer = browser.new_context(viewport={"width": 430, "height": 900}).new_page()
    try:
        log_in(operator, server.base_url)
        expect(counter(operator, "successful")).to_have_text("4")
        expect(counter(operator, "failed")).to_have_text("3")
        operator.evaluate("window.__sameDocument = true")

        payment = pay(customer, server.base_url, amount="75.00", booking=False)
        expect(customer.get_by_role("heading", name="Waiting for payment authorization...")).to_be_visible()
        customer.evaluate("window.__sameDocument = true")
        row = operator.locator(f"#row-{payment.reference}")
        expect(row.locator("[data-badge]")).to_have_text("processing")  # a new row, pushed
        expect(counter(operator, "processing")).to_have_text(str(len(WAITING) + 1))
        expect(row.locator("[data-due-at]")).to_have_text(re.compile(r"in \d+ (s|min)"))
        operator.screenshot(path=artifacts / "dashboard.png", full_page=True)

        operator.locator("#force-reason").select_option("NOT_ENOUGH_FUNDS")
        row.get_by_role("button", name="Fail").click()

        expect(row.locator("[data-badge]")).to_have_text("failed")
        expect(row).to_contain_text("NOT_ENOUGH_FUNDS")
        expect(operator.locator("#toasts")).to_contain_text("forced failed (NOT_ENOUGH_FUNDS)")
        expect(counter(operator, "failed")).to_have_text("4")
        expect(counter(operator, "processing")).to_have_text(str(len(WAITING)))
        expect(customer.get_by_role("heading", name="Payment failed")).to_be_visible()
        expect(customer.get_by_text("There is not enough money in the account.")).to_be_visible()
        assert operator.evaluate("window.__sameDocument === true"), "the dashboard was reloaded"
        assert customer.evaluate("window.__sameDocument === true"), "the payment page was reloaded"

        payment.refresh_from_db()
        assert (payment.status, payment.reason) == ("failed", "NOT_ENOUGH_FUNDS")
        assert PaymentLog.objects.get(payment=payment, event="forced").actor == "operator:operator"
        operator.screenshot(path=artifacts / "dashboard-forced.png", full_page=True)
        customer.screenshot(path=artifacts / "checkout-forced-failed.png")
    finally:
        operator.context.close()
        customer.context.close()


def test_it_answers_the_losing_click_with_already_settled(start_demo, browser):
    server = start_demo(120)
    payment = make_payment()
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        log_in(page, server.base_url)
        row = page.locator(f"#row-{payment.reference}")
        expect(row.get_by_role("button", name="Fail")).to_be_visible()
        # Another operator wins first. Settled from this test process, whose pushes do not
        # reach the server's sockets, so this page still offers the buttons: a stale click.
        payment_force(payment=payment, outcome="successful", actor="operator:alice")
        row.get_by_role("button", name="Fail").click()
        expect(page.locator("#toasts")).to_contain_text("is already settled (successful); nothing changed.")
        expect(row.locator("[data-badge]")).to_have_text("successful")  # the answer carries the winner's row
        # No more Succeed / Fail: a successful payment offers only its Refund.
        expect(row.get_by_role("button")).to_have_text(["Refund"])
        payment.refresh_from_db()
        assert (payment.status, payment.version) == ("successful", 2)
    finally:
        page.context.close()


def test_it_steers_the_simulator_and_filters_without_a_reload(start_demo, browser):
    server = start_demo(120)
    wanted, other = make_payment("46733123451"), make_payment("46733123499")
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        log_in(page, server.base_url)
        page.evaluate("window.__sameDocument = true")
        panel = page.locator("#settings-panel")

        page.locator("#settings-success_rate").fill("7")
        page.get_by_role("button", name="Apply").click()
        expect(panel.locator(".error")).to_have_text("Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed.")
        expect(page.locator("#toasts")).to_contain_text("Success rate must be between 0 and 1")
        page.locator("#settings-success_rate").fill("0.5")
        page.locator("#settings-timeout_seconds").fill("45")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#toasts")).to_contain_text("Settings saved")
        expect(page.locator("#settings-timeout_seconds")).to_have_value("45")
        expect(panel.locator(".error")).to_have_count(0)

        page.get_by_role("button", name="Pause auto-settlement").click()
        expect(panel).to_have_attribute("data-paused", "true")
        page.get_by_role("button", name="Resume auto-settlement").click()
        expect(panel).to_have_attribute("data-paused", "false")

        page.locator("#search").fill("+46733123451")
        expect(page.locator(f"#row-{other.reference}")).to_have_count(0)
        expect(page.locator(f"#row-{wanted.reference}")).to_be_visible()
        page.locator("#status-filter").select_option("successful")
        expect(page.locator("#payment-rows > [role=row]")).to_have_count(0)
        expect(page).to_have_url(re.compile(r"status=successful"))
        assert page.evaluate("window.__sameDocument === true"), "the dashboard was reloaded"

        config = SimulatorSettings.objects.get(pk=1)
        assert (config.success_rate, config.timeout_seconds, config.paused) == (0.5, 45, False)
        actors = set(PaymentLog.objects.filter(event="config").exclude(actor="command").values_list("actor", flat=True))
        assert actors == {"operator:operator"}
    finally:
        page.context.close()


def test_it_resyncs_after_a_server_restart_without_a_reload(start_demo, browser):
    server = start_demo(120)
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        log_in(page, server.base_url)
        page.evaluate("window.__sameDocument = true")
        server.stop()
        expect(page.locator("body")).to_have_attribute("data-ws", "closed", timeout=10_000)
        missed = make_payment("46733123454")  # created while no server could push it
        server.start()
        expect(page.locator(f"#row-{missed.reference}")).to_be_visible(timeout=20_000)
        expect(counter(page, "processing")).to_have_text("1")
        assert page.evaluate("window.__sameDocument === true"), "the dashboard was reloaded"
    finally:
        page.context.close()
