import math
import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from payments import outcomes
from payments.models import Payment
from payments.worker import SettlementWorker
from tests.support.factories import make_payment

EXPECTED_FAILURES = {
    "46733123450": "INTERNAL_PROCESSING_ERROR",
    "46733123451": "APPROVAL_REJECTED",
    "46733123452": "EXPIRED",
    "46733123455": "PAYER_NOT_FOUND",
    "46733123456": "PAYEE_NOT_ALLOWED_TO_RECEIVE",
    "46733123457": "NOT_ALLOWED",
    "46733123458": "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "46733123459": "INVALID_CALLBACK_URL_HOST",
    "46733123460": "INVALID_CURRENCY",
    "46733123461": "INTERNAL_PROCESSING_ERROR",
    "46733123462": "SERVICE_UNAVAILABLE",
    "46733123463": "COULD_NOT_PERFORM_TRANSACTION",
}


@pytest.mark.django_db
def test_it_settles_each_failing_test_number_with_its_reason_even_at_full_success_rate():
    from payments.services import settings_update

    settings_update(actor="test", success_rate=1.0)
    payments = {phone: make_payment(phone, due_in=-1) for phone in EXPECTED_FAILURES}
    SettlementWorker(seed=1).handle_one()
    for phone, reason in EXPECTED_FAILURES.items():
        payment = Payment.objects.get(pk=payments[phone].pk)
        assert (payment.status, payment.reason) == ("failed", reason), phone


@pytest.mark.django_db
def test_it_settles_the_ongoing_number_successfully_at_twice_the_timeout():
    from payments.services import settings_update

    settings_update(actor="test", timeout_seconds=10, success_rate=0.0)
    ongoing = make_payment("46733123453")
    ordinary = make_payment()
    assert ongoing.settle_at - ongoing.created_at == timedelta(seconds=20)
    assert ordinary.settle_at - ordinary.created_at == timedelta(seconds=10)
    worker = SettlementWorker(seed=1)
    worker.handle_one(now=ongoing.created_at + timedelta(seconds=15))
    ongoing.refresh_from_db()
    assert ongoing.status == "processing"
    worker.handle_one(now=ongoing.created_at + timedelta(seconds=20))
    ongoing.refresh_from_db()
    assert ongoing.status == "successful" and ongoing.financial_transaction_id


@pytest.mark.django_db
def test_it_never_settles_the_pending_number_but_expires_it():
    pending = make_payment("46733123454")
    assert pending.settle_at is None
    worker = SettlementWorker(seed=1)
    worker.handle_one(now=timezone.now() + timedelta(seconds=299))
    pending.refresh_from_db()
    assert pending.status == "processing"
    worker.handle_one(now=pending.created_at + timedelta(seconds=300))
    pending.refresh_from_db()
    assert (pending.status, pending.reason) == ("failed", "EXPIRED")
    assert pending.logs.filter(event="expired").count() == 1


def _settle_with_seed(seed: int) -> list[tuple[str, str]]:
    Payment.objects.all().delete()
    for _ in range(60):
        make_payment(age=60)
    call_command("auto_complete_demo_payments", "--timeout", "0", "--success-rate", "0.5", "--seed", str(seed))
    return list(Payment.objects.order_by("created_at", "id").values_list("status", "reason"))


@pytest.mark.django_db
def test_it_replays_the_same_outcomes_for_the_same_seed():
    first = _settle_with_seed(7)
    again = _settle_with_seed(7)
    other = _settle_with_seed(8)
    assert first == again
    assert first != other
    assert {status for status, _ in first} == {"successful", "failed"}
    assert {reason for status, reason in first if status == "failed"} <= set(outcomes.RANDOM_FAILURE_REASONS)


@pytest.mark.django_db
def test_it_succeeds_at_the_configured_rate_within_a_binomial_interval():
    n, rate = 2000, 0.9
    for _ in range(n):
        make_payment(due_in=-1)
    worker = SettlementWorker(seed=20261126, batch_size=500)
    while worker.handle_one():
        pass
    successes = Payment.objects.filter(status="successful").count()
    assert Payment.objects.filter(status="processing").count() == 0
    # 99.9 % two-sided normal approximation of the binomial (n large, p not extreme).
    half_width = 3.2905 * math.sqrt(n * rate * (1 - rate))
    assert abs(successes - n * rate) <= half_width, successes
    reasons = set(Payment.objects.filter(status="failed").values_list("reason", flat=True))
    assert reasons <= set(outcomes.RANDOM_FAILURE_REASONS) and len(reasons) >= 3


def test_it_explains_every_reason_in_words():
    for code in [*EXPECTED_FAILURES.values(), *outcomes.RANDOM_FAILURE_REASONS]:
        text = outcomes.reason_text(code)
        assert text and "_" not in text


def test_it_draws_from_the_given_generator_only():
    draws = [outcomes.decide("46733123499", rng=random.Random(3), success_rate=0.5) for _ in range(3)]
    assert len(set(draws)) == 1
