import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from payments.models import Payment, PaymentLog, WorkerHeartbeat
from payments.services import payment_force, settings_update
from payments.worker import SettlementWorker
from tests.support.factories import make_payment
from tests.support import async_wait_for

pytestmark = pytest.mark.django_db(transaction=True)


async def _wait_settled(pk: int, timeout: float) -> Payment:
    async def settled() -> Payment | None:
        payment = await Payment.objects.aget(pk=pk)
        return payment if payment.is_final else None

    return await async_wait_for(settled, timeout=timeout, interval=0.02, what=f"payment {pk} to settle")


async def _wait_first_pass(worker: SettlementWorker) -> None:
    await async_wait_for(
        WorkerHeartbeat.objects.filter(worker_id=worker.worker_id).aexists,
        timeout=5, interval=0.02, what="the worker's first pass",
    )


async def test_it_settles_within_a_second_of_settle_at_not_on_the_interval_grid():
    await sync_to_async(settings_update)(actor="test", timeout_seconds=1.5)
    # Something due much later makes the worker plan a long sleep first.
    await sync_to_async(make_payment)(due_in=8)
    worker = SettlementWorker(seed=1, interval=10)
    stop = asyncio.Event()
    task = asyncio.ensure_future(worker.run(stop))
    try:
        await _wait_first_pass(worker)  # it now sleeps towards the payment due in 8 s
        payments = []
        for _ in range(3):
            payments.append(await sync_to_async(make_payment)())
            await asyncio.sleep(0.3)
        for created in payments:
            payment = await _wait_settled(created.pk, timeout=5)
            lateness = (payment.settled_at - payment.settle_at).total_seconds()
            assert 0 <= lateness < 1.0, lateness
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_it_stops_cleanly_when_asked():
    worker = SettlementWorker(interval=10)
    stop = asyncio.Event()
    task = asyncio.ensure_future(worker.run(stop))
    await _wait_first_pass(worker)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - started < 2


def test_it_skips_a_bad_row_and_settles_the_rest():
    good = [make_payment(due_in=-1) for _ in range(3)]
    bad = make_payment(due_in=-1)
    with connection.cursor() as cursor:  # a row the ORM cannot load any more
        cursor.execute("UPDATE payments_payment SET amount = 'lots' WHERE id = %s", [bad.pk])
    worker = SettlementWorker(seed=1)
    assert worker.handle_one() == 3
    assert worker.handle_one() == 0  # the bad row is not retried in a loop
    assert all(Payment.objects.get(pk=p.pk).is_final for p in good)
    assert Payment.objects.filter(pk=bad.pk, status="processing").exists()
    skip = PaymentLog.objects.get(payment_id=bad.pk, event="skipped")
    assert skip.details["error"].startswith("TypeError")  # what broke, for the operator
    assert worker.seconds_until_next() == worker.interval  # and it does not busy-loop on it


def test_it_loses_the_race_to_an_operator_quietly():
    payment = make_payment(due_in=-1)
    payment_force(payment=payment, outcome="failed", reason="NOT_ENOUGH_FUNDS", actor="operator:alice")
    assert SettlementWorker(seed=1).handle_one() == 0
    payment.refresh_from_db()
    assert (payment.status, payment.reason, payment.version) == ("failed", "NOT_ENOUGH_FUNDS", 2)
    assert list(payment.logs.values_list("event", flat=True)) == ["created", "forced"]


def test_it_sleeps_until_the_next_due_payment():
    worker = SettlementWorker(interval=10)
    assert worker.seconds_until_next() == 10
    make_payment(due_in=3)
    assert 2.5 < worker.seconds_until_next() <= 3
    make_payment(due_in=-1)
    assert worker.seconds_until_next() == 0


def test_it_bumps_the_version_and_logs_each_settlement():
    payment = make_payment(due_in=-1)
    SettlementWorker(seed=1, worker_id="w1").handle_one()
    payment.refresh_from_db()
    assert payment.version == 2 and payment.settled_at is not None
    log = payment.logs.get(event="settled")
    assert log.actor == "worker:w1" and log.from_status == "processing" and log.to_status == payment.status


def test_it_settles_a_payment_only_once_even_when_asked_twice():
    payment = make_payment(due_in=-1)
    now = timezone.now() + timedelta(seconds=1)
    assert SettlementWorker(seed=1).handle_one(now=now) == 1
    assert SettlementWorker(seed=2).handle_one(now=now) == 0
    assert PaymentLog.objects.filter(payment=payment, event="settled").count() == 1
