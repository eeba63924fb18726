"""The schedule is the database: a worker that starts (or restarts) settles what is due, once."""

import signal

import pytest
from django.db.models import Count, Max, Min

from payments.models import Payment, PaymentLog, WorkerHeartbeat
from tests.support import sqlite_url_of_test_db
from tests.support.factories import bulk_due
from tests.support import Process, child_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FINAL_EVENTS = ["settled", "expired", "forced"]


def _worker(tmp_path, name: str) -> Process:
    env = child_env(DATABASE_URL=sqlite_url_of_test_db())
    return Process("manage.py", "auto_complete_daemon", "--interval", "1", env=env, log=tmp_path / f"{name}.log")


def _processing() -> int:
    return Payment.objects.filter(status="processing").count()


def assert_each_settled_exactly_once(expected: int) -> None:
    assert _processing() == 0
    per_payment = PaymentLog.objects.filter(event__in=FINAL_EVENTS).values("payment").annotate(n=Count("id"))
    assert per_payment.count() == expected
    assert {row["n"] for row in per_payment} == {1}
    assert set(Payment.objects.values_list("version", flat=True)) == {2}


def test_it_settles_everything_due_the_moment_a_worker_starts(tmp_path):
    bulk_due(300, due_in=-60)  # due while no worker ran
    worker = _worker(tmp_path, "late-worker")
    try:
        wait_for(lambda: _processing() == 0, timeout=20, what="every due payment to settle")
    finally:
        assert worker.stop() == 0, worker.output()
    assert_each_settled_exactly_once(300)
    started = WorkerHeartbeat.objects.aggregate(t=Min("started_at"))["t"]
    last = Payment.objects.aggregate(t=Max("settled_at"))["t"]
    assert (last - started).total_seconds() < 3, "a backlog of 300 should clear at once"
    assert "stopped cleanly" in worker.output()


def test_it_settles_each_payment_exactly_once_after_a_sigkill_mid_burst(tmp_path):
    total = 6000
    bulk_due(total)
    first = _worker(tmp_path, "killed-worker")
    wait_for(lambda: Payment.objects.exclude(status="processing").exists(), timeout=30, what="the burst to start")
    first.popen.send_signal(signal.SIGKILL)
    first.popen.wait(timeout=10)
    left = _processing()
    assert 0 < left < total, f"the kill should land mid-burst ({left} left)"
    second = _worker(tmp_path, "restarted-worker")
    try:
        wait_for(lambda: _processing() == 0, timeout=60, what="the restarted worker to finish")
    finally:
        second.stop()
    assert_each_settled_exactly_once(total)
