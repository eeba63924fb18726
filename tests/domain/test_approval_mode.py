"""Approval mode: `timer` (the worker settles at the timeout unless the payer answered
first) or `phone` (only the payer settles; expiry still ends a payment nobody answers).
Test numbers keep their outcomes in both."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from payments import services
from payments.selectors import simulator_settings
from payments.models import Payment
from payments.worker import SettlementWorker

pytestmark = pytest.mark.django_db


def create(phone: str = "46733123499") -> Payment:
    return services.payment_create(amount=Decimal("10.00"), currency="EUR", phone_number=phone)


def test_phone_mode_settles_nothing_by_timer_and_expiry_still_fails_it():
    services.settings_update(actor="test", approval_mode="phone", timeout_seconds=1, expiry_seconds=300)
    payment = create()
    assert payment.settle_at is None
    worker = SettlementWorker(seed=1)
    assert worker.handle_one(now=timezone.now() + timedelta(seconds=299)) == 0
    payment.refresh_from_db()
    assert payment.status == "processing"
    assert worker.handle_one(now=timezone.now() + timedelta(seconds=301)) == 1
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", "EXPIRED")


def test_phone_mode_keeps_the_test_numbers_outcomes():
    services.settings_update(actor="test", approval_mode="phone", timeout_seconds=1)
    fails, rejected = create("46733123450"), create("46733123451")
    SettlementWorker(seed=1).handle_one(now=timezone.now() + timedelta(seconds=2))
    fails.refresh_from_db(), rejected.refresh_from_db()
    assert (fails.status, fails.reason) == ("failed", "INTERNAL_PROCESSING_ERROR")
    assert (rejected.status, rejected.reason) == ("failed", "APPROVAL_REJECTED")


def test_phone_mode_checkout_page_says_approve_on_your_phone():
    services.settings_update(actor="test", approval_mode="phone")
    page = Client().get(f"/pay/{create().reference}/").content.decode()
    assert "Approve on your phone" in page and "data-settle-at" not in page


def test_timer_mode_the_payer_answering_first_wins_over_the_worker():
    services.settings_update(actor="test", timeout_seconds=1, success_rate=0.0)
    payment = create()
    assert payment.settle_at is not None
    services.payment_approve(payment=payment, pin="1234")
    assert SettlementWorker(seed=1).handle_one(now=timezone.now() + timedelta(seconds=2)) == 0
    payment.refresh_from_db()
    assert (payment.status, payment.version) == ("successful", 2)


def test_an_unknown_mode_is_refused_and_nothing_changes():
    with pytest.raises(services.PaymentError, match="Approval mode must be one of timer, phone."):
        services.settings_update(actor="test", approval_mode="carrier-pigeon")
    assert simulator_settings().approval_mode == "timer"


def test_the_dashboard_toggle_switches_the_mode(operator):
    client = Client()
    client.force_login(operator)
    response = client.post("/dashboard/approval/", {"approval_mode": "phone"})
    assert response.status_code == 200 and "Approval on the phone" in response.content.decode()
    assert simulator_settings().approval_mode == "phone"
    assert client.post("/dashboard/approval/", {"approval_mode": "x"}).status_code == 422
    outsider = Client()
    assert outsider.post("/dashboard/approval/", {"approval_mode": "timer"}).status_code in (302, 403)
    assert simulator_settings().approval_mode == "phone"
