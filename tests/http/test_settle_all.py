""""Settle all processing now" (and `auto_complete_demo_payments`) use the worker's batches.

They are the remedy for a dead worker, so no worker runs here: the request itself claims
batches, and each batch is one transaction and one push hop, not one per payment.
"""

import math
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test import Client

from payments import events, services
from payments.models import Payment, PaymentLog
from payments.services import payment_settle_all as settle_all
from payments.worker import SettlementWorker
from tests.support.factories import bulk_due, make_payment

pytestmark = pytest.mark.django_db(transaction=True)

COUNT = 2_000


@pytest.mark.slow
def test_it_settles_two_thousand_payments_once_each_in_pushed_batches(operator, monkeypatch):
    ids = bulk_due(COUNT, due_in=3600)  # not due: only "settle all" ends them
    layer = get_channel_layer()
    dashboard = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.DASHBOARD_GROUP, dashboard)
    hops: list[int] = []
    send = events.send_events
    def counted(sent):  # the payments' part of each hop (the balances they moved ride along)
        hops.append(sum(1 for _, message in sent if message["type"] == "payment.updated"))
        return send(sent)

    monkeypatch.setattr(events, "send_events", counted)
    commits: list[int] = []
    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: commits.append(1) or commit())
    client = Client()
    client.force_login(operator)
    commits.clear()

    response = client.post("/dashboard/settle-all/")

    assert response.status_code == 200
    assert f"Settled {COUNT} now" in response.content.decode()
    assert not Payment.objects.filter(pk__in=ids, status="processing").exists()
    assert set(Payment.objects.filter(pk__in=ids).values_list("version", flat=True)) == {2}
    forced = PaymentLog.objects.filter(payment_id__in=ids, event="forced")
    assert forced.count() == COUNT and forced.values("payment_id").distinct().count() == COUNT
    batches = math.ceil(COUNT / SettlementWorker().batch_size)
    # One push hop per batch (two sends per payment: its page's group and the dashboard).
    assert hops == [2 * len(chunk) for chunk in _chunks(ids, SettlementWorker().batch_size)]
    assert len(hops) == batches
    assert batches <= len(commits) <= batches + 2  # one per batch (+ the session's save)
    pushed = [async_to_sync(layer.receive)(dashboard)["payment"] for _ in range(COUNT)]
    assert sorted(p["reference"] for p in pushed) == sorted(
        str(r) for r in Payment.objects.filter(pk__in=ids).values_list("reference", flat=True)
    )
    assert {p["status"] for p in pushed} <= {"successful", "failed"}


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def test_it_settles_a_paused_simulator_too_and_leaves_newer_payments(operator):
    """The command's `--timeout N`: only payments older than N seconds; paused or not."""
    services.settings_update(actor="test", paused=True)
    old, new = make_payment(age=120), make_payment()
    counts = settle_all(older_than=timedelta(seconds=60), success_rate=1.0, actor="command")
    assert counts == {"successful": 1, "failed": 0}
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == ("successful", "processing")
    assert old.logs.get(event="forced").actor == "command"
