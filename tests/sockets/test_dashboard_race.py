"""An operator's force racing the worker's settlement of the same payment, 200 times.

Each round, the dashboard's force POST (the real view, CSRF and all) and a worker pass start
together on two threads. Exactly one of them ends the payment: one final log row, version 2,
one push per group; the loser is told "already settled" in a toast, not an error page.
"""

import asyncio
import json
import threading
from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client

from payments.events import DASHBOARD_GROUP, payment_group
from payments.models import Payment, PaymentLog
from payments.worker import SettlementWorker
from tests.support.clients import is_json_type, open_dashboard, receive_until
from tests.support.factories import make_payment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_layer"), pytest.mark.slow]

ROUNDS = 200


def operator_client(operator) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    client.get("/dashboard/")
    return client, client.cookies["csrftoken"].value


def count_group_sends(monkeypatch) -> Counter:
    """Payment pushes per (group, reference, version), counted at the layer."""
    layer = get_channel_layer()
    sent: Counter = Counter()
    original = layer.group_send

    async def counting(group: str, message: dict) -> None:
        if message["type"] == "payment.updated":
            sent[(group.split("-", 1)[0], message["payment"]["reference"], message["payment"]["version"])] += 1
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", counting)
    return sent


def payment_messages(messages: list[str], reference: str) -> list[dict]:
    found = []
    for message in messages:
        body = json.loads(message)
        if body["type"] == "payment" and body["payment"]["reference"] == reference:
            found.append(body["payment"])
    return found


async def test_it_ends_each_payment_once_when_operator_and_worker_race(operator, monkeypatch):
    client, token = await sync_to_async(operator_client)(operator)
    socket, connected, _ = await open_dashboard(client, "?format=json")
    assert connected
    await receive_until(socket, is_json_type("snapshot"))
    sent = count_group_sends(monkeypatch)
    worker = SettlementWorker(seed=7, worker_id="racer")
    winners: Counter = Counter()
    previous: str | None = None

    for _ in range(ROUNDS):
        payment = await database_sync_to_async(make_payment)(due_in=-1)
        reference = str(payment.reference)
        # The new payment's first push is the sentinel: everything about the previous
        # round was delivered before it, so the previous round's pushes are all in `before`.
        _, before = await receive_until(
            socket, lambda m: m.startswith("{") and reference in m and '"version": 1' in m, what="the new payment"
        )
        if previous:
            assert [p["version"] for p in payment_messages(before, previous)] == [2]

        start = threading.Barrier(2)

        def force():
            start.wait()
            return client.post(
                f"/dashboard/payments/{reference}/force/",
                {"outcome": "failed", "reason": "NOT_ENOUGH_FUNDS"},
                HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true",
            )

        def settle() -> int:
            start.wait()
            return worker.handle_one()

        response, settled = await asyncio.gather(
            sync_to_async(force, thread_sensitive=False)(), sync_to_async(settle, thread_sensitive=False)()
        )
        finals = await database_sync_to_async(
            lambda: list(PaymentLog.objects.filter(payment=payment, event__in=["settled", "forced"]).values_list("actor", flat=True))
        )()
        assert len(finals) == 1, finals
        assert await database_sync_to_async(lambda: Payment.objects.get(pk=payment.pk).version)() == 2
        body = response.content.decode()
        if finals[0] == "operator:operator":
            winners["operator"] += 1
            assert response.status_code == 200 and "forced failed (NOT_ENOUGH_FUNDS)" in body
            assert settled == 0
        else:
            winners["worker"] += 1
            assert response.status_code == 409
            assert "is already settled" in body and 'class="toast toast-warn"' in body and "<html" not in body
            assert settled == 1
        previous = reference

    sentinel = await database_sync_to_async(make_payment)()
    _, before = await receive_until(socket, lambda m: str(sentinel.reference) in m, what="the last sentinel")
    assert [p["version"] for p in payment_messages(before, previous)] == [2]
    finals = {key: n for key, n in sent.items() if key[2] == 2}
    assert len(finals) == 2 * ROUNDS and set(finals.values()) == {1}  # one push per group per payment
    assert {group for group, _, _ in finals} == {payment_group("x").split("-")[0], DASHBOARD_GROUP}
    print(f"race winners over {ROUNDS} rounds: {dict(winners)}")
    assert winners["operator"] + winners["worker"] == ROUNDS
    await socket.disconnect()
