"""The dashboard's counters: what `dashboard_stats()` reports after real transitions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Payment, PaymentLog, WorkerHeartbeat
from payments.selectors import STATS_CHART_MINUTES, dashboard_stats, settlements_per_minute
from payments.services import payment_force
from tests.support.factories import make_payment

pytestmark = pytest.mark.django_db


def settle_after(payment: Payment, seconds: float, outcome: str = "successful") -> None:
    payment_force(payment=payment, outcome=outcome, reason="NOT_ENOUGH_FUNDS" if outcome == "failed" else "", actor="test")
    Payment.objects.filter(pk=payment.pk).update(settled_at=payment.created_at + timedelta(seconds=seconds))


def test_it_counts_statuses_ratio_and_median_time_to_settle():
    assert dashboard_stats()["success_ratio"] is None and dashboard_stats()["median_settle_seconds"] is None
    for seconds, outcome in [(2, "successful"), (4, "successful"), (10, "failed"), (30, "successful")]:
        settle_after(make_payment(), seconds, outcome)
    make_payment()
    stats = dashboard_stats()
    assert (stats["processing"], stats["successful"], stats["failed"]) == (1, 3, 1)
    assert stats["success_ratio"] == 0.75
    assert stats["median_settle_seconds"] == pytest.approx(7.0)  # between 4 and 10


def test_it_counts_settlements_per_minute_in_their_minute():
    now = timezone.now()
    for _ in range(3):
        settle_after(make_payment(), 1)
    earlier = make_payment()
    settle_after(earlier, 1)
    PaymentLog.objects.filter(payment=earlier, event="forced").update(created_at=now - timedelta(minutes=2))
    PaymentLog.objects.filter(payment=earlier, event="created").update(created_at=now - timedelta(minutes=2))
    chart = settlements_per_minute(now=now)
    assert len(chart) == STATS_CHART_MINUTES
    assert chart[-1]["count"] == 3 and chart[-3]["count"] == 1
    assert sum(m["count"] for m in chart) == 4  # creations and config changes are not settlements
    assert chart[-1]["minute"] == now.replace(second=0, microsecond=0).isoformat()


def test_it_reports_the_worker_alive_or_stale_from_the_heartbeat():
    assert dashboard_stats()["worker"] == "stale"
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="w1", seen_at=now, started_at=now)
    assert dashboard_stats()["worker"] == "ok"
    WorkerHeartbeat.objects.filter(worker_id="w1").update(seen_at=now - timedelta(minutes=5))
    assert dashboard_stats()["worker"] == "stale"
