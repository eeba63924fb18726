"""The dashboard's callbacks panel in a real Chromium against the demo: a failing receiver's
attempts count up live; "Resend" delivers once the receiver has recovered."""

import pytest
from playwright.sync_api import expect
from werkzeug import Response

from payments import services
from payments.models import CallbackDelivery, PaymentLog
from tests.support.callback_receiver import api_user, momo_payment
from tests.support.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_it_counts_a_failing_receivers_attempts_live_and_resend_delivers(start_demo, page, receiver, artifacts):
    server = start_demo(1)
    services.callback_settings_update(actor="test", schedule="0.8,0.8,0.8")
    healthy = {"now": False}
    receiver.answer = lambda request, n: Response("ok" if healthy["now"] else "down", status=200 if healthy["now"] else 503)
    log_in(page, server.base_url)
    page.evaluate("window.__sameDocument = true")

    payment = momo_payment(api_user(), receiver.url(), external_id="order-7")
    delivery = CallbackDelivery.objects.none()
    row = page.locator("#callback-rows .crow").first
    expect(row.locator("[data-callback-state]")).to_have_text("failing", timeout=10_000)
    for attempts in ("1 attempt", "2 attempts", "3 attempts", "4 attempts"):
        expect(row.locator("[data-callback-attempts]")).to_have_text(attempts, timeout=10_000)
    expect(row.locator("[data-callback-state]")).to_have_text("failed")  # the schedule is spent
    expect(row).to_contain_text("HTTP 503")
    page.screenshot(path=artifacts / "callbacks-failing.png", full_page=True)

    healthy["now"] = True
    row.get_by_role("button", name="Resend").click()
    expect(page.locator("#toasts")).to_contain_text("resent now")
    expect(row.locator("[data-callback-state]")).to_have_text("delivered", timeout=10_000)
    expect(row.locator("[data-callback-attempts]")).to_have_text("5 attempts")
    assert page.evaluate("window.__sameDocument") is True  # all of it live, no reload
    delivery = CallbackDelivery.objects.get(payment=payment)
    assert delivery.status == CallbackDelivery.Status.DELIVERED and len(receiver.got) == 5
    resend = PaymentLog.objects.get(payment=payment, event="callback", details__resend=True)
    assert resend.actor == "operator:operator"
