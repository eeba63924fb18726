"""Pause on the dashboard stops settlement in every worker process; resume settles what is due at once.

Two real `auto_complete_daemon` processes work on the pytest database and share a Redis
channel layer with this test process, so the dashboard's resume wakes them up.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from payments.models import Payment, PaymentLog, WorkerHeartbeat
from tests.support import sqlite_url_of_test_db
from tests.support.factories import make_payment
from tests.support import CHANNEL_PREFIX, Process, child_env, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]

SWEEP = 3.0  # the workers' fallback sweep; resume must act well before it


@pytest.fixture
def redis_layer(redis_url, settings) -> str:
    # Channels drops its cached layers when CHANNEL_LAYERS changes.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"prefix": CHANNEL_PREFIX, "hosts": [{"address": redis_url, "socket_timeout": None}]},
        }
    }
    return redis_url


@pytest.fixture
def operator_post(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    client.get("/dashboard/")
    token = client.cookies["csrftoken"].value

    def post(url: str) -> None:
        response = client.post(url, HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 200, response.content

    return post


def beat_of(process: Process):
    beat = WorkerHeartbeat.objects.filter(worker_id__endswith=f"-{process.popen.pid}").first()
    return beat.seen_at if beat else None


def test_it_stops_every_worker_while_paused_and_settles_what_is_due_on_resume(redis_layer, operator_post, tmp_path):
    operator_post("/dashboard/pause/")
    env = child_env(DATABASE_URL=sqlite_url_of_test_db(), REDIS_URL=redis_layer)
    workers = [
        Process("manage.py", "auto_complete_daemon", "--interval", str(SWEEP), "--seed", str(i), env=env, log=tmp_path / f"worker-{i}.log")
        for i in range(2)
    ]
    try:
        wait_for(lambda: all(beat_of(w) for w in workers), timeout=30, what="both workers' first heartbeat")
        due = [make_payment(due_in=-1) for _ in range(10)]
        overdue = make_payment(age=3600)  # past its expiry too
        # A worker beats before each pass, at most every 2 s: a beat 2 s after the payments
        # fell due means a whole pass ran, paused, with them due.
        after = timezone.now() + timedelta(seconds=2.1)
        wait_for(
            lambda: all(beat_of(w) >= after for w in workers), timeout=30, what="two worker passes while paused"
        )
        assert all(w.alive() for w in workers), [w.output() for w in workers]
        assert Payment.objects.filter(status="processing").count() == 11
        assert not PaymentLog.objects.filter(event__in=["settled", "expired"]).exists()

        operator_post("/dashboard/resume/")
        wait_for(
            lambda: not Payment.objects.filter(status="processing").exists(),
            timeout=SWEEP - 0.5, what="every due payment to settle right after resume",
        )
        for payment in [*due, overdue]:
            (actor,) = PaymentLog.objects.filter(payment=payment, event__in=["settled", "expired"]).values_list("actor", flat=True)
            assert actor.startswith("worker:")
        assert PaymentLog.objects.get(payment=overdue, event="expired")
    finally:
        for worker in workers:
            worker.stop()
