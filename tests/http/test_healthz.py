from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from payments.models import WorkerHeartbeat
from payments.worker import SettlementWorker

pytestmark = pytest.mark.django_db


def test_it_reports_ok_with_a_fresh_heartbeat(client):
    SettlementWorker(worker_id="w1").beat()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok", "worker": "ok"}


def test_it_reports_a_stale_worker_but_stays_up(client, settings):
    settings.WORKER_STALE_SECONDS = 30
    SettlementWorker(worker_id="w1").beat(now=timezone.now() - timedelta(seconds=31))
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["worker"] == "stale"
    WorkerHeartbeat.objects.all().delete()
    assert client.get("/healthz").json()["worker"] == "stale"


def test_it_answers_503_when_the_channel_layer_is_down(client, monkeypatch):
    class DownLayer:
        async def group_send(self, group, message):
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr("payments.events.get_channel_layer", lambda: DownLayer())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["channel_layer"].startswith("down")
    assert response.json()["database"] == "ok"


def test_it_answers_503_when_the_database_is_down(client, monkeypatch):
    def down():
        raise OperationalError("connection refused")

    monkeypatch.setattr("payments.health.worker_status", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("down")
