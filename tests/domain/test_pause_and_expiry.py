from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Payment, PaymentLog
from payments.services import payment_force, settings_update
from payments.worker import SettlementWorker
from tests.support.factories import make_payment

pytestmark = pytest.mark.django_db


def test_it_settles_nothing_while_paused_and_everything_due_on_resume():
    worker = SettlementWorker(seed=1)
    settings_update(actor="operator:alice", paused=True)
    due = [make_payment(due_in=-5) for _ in range(5)]
    old = make_payment(age=3600)
    assert worker.handle_one() == 0
    assert worker.handle_one(now=timezone.now() + timedelta(hours=2)) == 0
    assert Payment.objects.filter(status="processing").count() == 6
    assert worker.seconds_until_next() == worker.interval  # no busy loop while paused

    settings_update(actor="operator:alice", paused=False)
    assert worker.handle_one() == 6
    assert all(Payment.objects.get(pk=p.pk).is_final for p in due)
    old.refresh_from_db()
    assert old.status != "processing"
    assert list(PaymentLog.objects.filter(event="config").values_list("details", flat=True)) == [
        {"paused": [False, True]},
        {"paused": [True, False]},
    ]


def test_it_still_lets_an_operator_force_while_paused():
    settings_update(actor="test", paused=True)
    payment = make_payment()
    payment_force(payment=payment, outcome="successful", actor="operator:alice")
    payment.refresh_from_db()
    assert payment.status == "successful"


def test_it_expires_a_payment_still_processing_after_the_expiry():
    settings_update(actor="test", expiry_seconds=60, timeout_seconds=600)
    stuck = make_payment(age=61)
    fresh = make_payment(age=30)
    assert SettlementWorker().handle_one() == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.status, stuck.reason) == ("failed", "EXPIRED")
    assert stuck.logs.get(event="expired").to_status == "failed"
    assert fresh.status == "processing"


def test_it_plans_its_sleep_around_the_next_expiry():
    settings_update(actor="test", expiry_seconds=60)
    make_payment("46733123454", age=55)  # never settles by itself; expires in ~5 s
    assert 4 < SettlementWorker(interval=30).seconds_until_next() <= 5


def test_it_applies_a_new_timeout_to_payments_created_after_it():
    before = make_payment()
    settings_update(actor="operator:alice", timeout_seconds=5)
    after = make_payment()
    before.refresh_from_db()
    assert before.settle_at - before.created_at == timedelta(seconds=30)
    assert after.settle_at - after.created_at == timedelta(seconds=5)


def test_it_logs_only_real_settings_changes():
    settings_update(actor="command", timeout_seconds=30, success_rate=None)
    assert not PaymentLog.objects.filter(event="config").exists()
    config = settings_update(actor="command", success_rate=0.5)
    assert config.version == 2
    log = PaymentLog.objects.get(event="config")
    assert (log.actor, log.details) == ("command", {"success_rate": [0.9, 0.5]})
