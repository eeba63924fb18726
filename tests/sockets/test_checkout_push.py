"""The payment page's WebSocket: snapshot first, then every change, never an older version.

These drive the real ASGI application (origin check, auth, routing, consumer) with Channels'
WebsocketCommunicator and the in-memory channel layer. Changes go through the services, so
what a client receives is what the broadcast really sends after commit.
"""

import asyncio
import json
from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db.backends import utils as db_utils

from consumers import rendering
from dashboard.asgi import application
from payments import services
from payments.events import payment_group
from payments.models import Payment
from payments.selectors import payment_snapshot
from regions import checkout_status
from tests.support.factories import create_payment

# Transactional: the consumer reads in another thread (its own connection) and the
# broadcast only happens on a real commit.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_layer")]

LOCAL = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


def settle(payment: Payment, outcome: str = "successful", reason: str = "") -> Payment:
    return services.payment_force(payment=payment, outcome=outcome, reason=reason, actor="operator:test")


async def connect(payment: Payment, query: str = "?format=json", headers=LOCAL) -> WebsocketCommunicator:
    client = WebsocketCommunicator(application, f"/ws/payments/{payment.reference}/{query}", headers=headers)
    connected, code = await client.connect()
    assert connected, f"refused with {code}"
    return client


async def receive_payment(client: WebsocketCommunicator) -> dict[str, Any]:
    message = await client.receive_json_from(timeout=2)
    assert message["type"] == "payment"
    return message["payment"]


async def test_it_sends_the_snapshot_first():
    payment = await create_payment()
    client = await connect(payment)
    first = await receive_payment(client)
    assert first["reference"] == str(payment.reference)
    assert first["status"] == "processing"
    assert first["version"] == 1
    assert first["amount"] == "25.00"
    assert first["booking_details"] == {"item": "Canopy walk", "guests": 2}
    await client.disconnect()


async def test_it_pushes_a_settlement_made_through_the_services():
    payment = await create_payment()
    client = await connect(payment)
    assert (await receive_payment(client))["version"] == 1
    await database_sync_to_async(settle)(payment, "failed", "APPROVAL_REJECTED")
    pushed = await receive_payment(client)
    assert (pushed["status"], pushed["reason"], pushed["version"]) == ("failed", "APPROVAL_REJECTED", 2)
    await client.disconnect()


async def test_it_does_not_lose_a_change_that_commits_during_connect():
    """Read v1, then the payment settles before the consumer has sent anything: v2 follows."""
    payment = await create_payment()
    read = checkout_status.read

    def read_then_settle(reference: str) -> dict[str, Any] | None:
        snapshot = read(reference)
        settle(payment)  # commits v2 and broadcasts it to the group the consumer already joined
        return snapshot

    with mock.patch.object(checkout_status, "read", read_then_settle):
        client = await connect(payment)
        versions = [(await receive_payment(client))["version"], (await receive_payment(client))["version"]]
    assert versions == [1, 2]
    await client.disconnect()


async def test_pages_of_many_payments_connecting_at_once_each_get_their_own_payments_push():
    """Through the page hub (consumers/pagehub.py), one layer channel for all of them: every
    page is in its group before its snapshot is read, and hears its payment and no other."""
    payments = [await create_payment() for _ in range(12)]
    clients = await asyncio.gather(*[connect(payment) for payment in payments])
    for payment, client in zip(payments, clients):
        assert (await receive_payment(client))["reference"] == str(payment.reference)
    settled = payments[::3]
    for payment in settled:
        await database_sync_to_async(settle)(payment)
    for payment in settled:
        pushed = await receive_payment(clients[payments.index(payment)])
        assert (pushed["reference"], pushed["status"], pushed["version"]) == (str(payment.reference), "successful", 2)
    # Every push has arrived where it belongs; nothing else comes to any page (one shared wait).
    assert all(await asyncio.gather(*[client.receive_nothing(timeout=0.3) for client in clients]))
    for client in clients:
        await client.disconnect()


async def test_a_group_join_that_fails_fails_only_its_own_pages_connect(monkeypatch):
    """The layer refusing one group's join: that page's connect fails, the pages joining
    with it connect and get their pushes."""
    broken, *healthy = [await create_payment() for _ in range(3)]
    layer = get_channel_layer()
    group_add = layer.group_add

    async def refuse_one(group: str, channel: str) -> None:
        if group == payment_group(str(broken.reference)):
            raise ConnectionError("the layer refused this join")
        await group_add(group, channel)

    monkeypatch.setattr(layer, "group_add", refuse_one)
    outcomes = await asyncio.gather(*[connect(payment) for payment in (broken, *healthy)], return_exceptions=True)
    assert isinstance(outcomes[0], ConnectionError), outcomes[0]
    for payment, client in zip(healthy, outcomes[1:]):
        assert (await receive_payment(client))["version"] == 1
        await database_sync_to_async(settle)(payment, "failed", "APPROVAL_REJECTED")
        assert (await receive_payment(client))["status"] == "failed"
        await client.disconnect()


async def test_it_never_sends_an_older_version_after_a_newer_one():
    """The payment settles between the group join and the snapshot read.

    The v2 broadcast is then queued for the consumer while it sends the v2 snapshot, and a
    late copy of the creation broadcast (v1) arrives after that. Neither may reach the
    client: it must see v2 once and then only newer versions.
    """
    payment = await create_payment()
    created = await database_sync_to_async(lambda: payment_snapshot(Payment.objects.get(pk=payment.pk)))()
    read = checkout_status.read

    def settle_then_read(reference: str) -> dict[str, Any] | None:
        settle(payment)
        return read(reference)

    with mock.patch.object(checkout_status, "read", settle_then_read):
        client = await connect(payment)
    layer = get_channel_layer()
    group = payment_group(str(payment.reference))
    await layer.group_send(group, {"type": "payment.updated", "payment": created})
    # A newer version as a barrier: the consumer handles messages in order, so once this
    # one arrives every earlier message has been handled (and had to be dropped).
    barrier = {**created, "version": 3, "status": "successful"}
    await layer.group_send(group, {"type": "payment.updated", "payment": barrier})
    received = [await receive_payment(client), await receive_payment(client)]
    assert [(p["version"], p["status"]) for p in received] == [(2, "successful"), (3, "successful")]
    await client.disconnect()


async def test_it_refuses_an_unknown_reference():
    client = WebsocketCommunicator(
        application, "/ws/payments/00000000-0000-4000-8000-000000000000/", headers=LOCAL
    )
    connected, _ = await client.connect()
    assert not connected


async def test_it_refuses_a_foreign_origin():
    payment = await create_payment()
    foreign = [(b"origin", b"http://evil.example"), (b"host", b"localhost")]
    client = WebsocketCommunicator(application, f"/ws/payments/{payment.reference}/", headers=foreign)
    connected, _ = await client.connect()
    assert not connected


async def test_it_sends_html_fragments_by_default():
    payment = await create_payment(phone="46733123451")
    client = await connect(payment, query="")
    waiting = await client.receive_from(timeout=2)
    assert f'id="payment-{payment.reference}"' in waiting
    assert "Waiting for payment authorization..." in waiting
    assert 'data-version="1"' in waiting
    await database_sync_to_async(settle)(payment, "failed", "APPROVAL_REJECTED")
    failed = await client.receive_from(timeout=2)
    assert f'id="payment-{payment.reference}"' in failed
    assert "Payment failed" in failed
    assert "The payment was declined on the phone." in failed
    await client.disconnect()


async def test_it_sends_the_contract_json_with_format_json():
    payment = await create_payment()
    client = await connect(payment, query="?format=json")
    message = json.loads(await client.receive_from(timeout=2))
    assert set(message) == {"type", "payment"}
    assert message["type"] == "payment"
    assert set(message["payment"]) == {
        "reference", "status", "reason", "amount", "currency", "phone_number", "external_id",
        "booking_details", "financial_transaction_id", "created_at", "settle_at", "settled_at",
        "version", "kind", "direction", "refunded_amount", "checkout_url",
    }
    await client.disconnect()


async def test_it_renders_once_per_version_and_never_queries_per_message(monkeypatch):
    payment = await create_payment()
    first, second = await connect(payment, query=""), await connect(payment, query="")
    await first.receive_from(timeout=2)
    await second.receive_from(timeout=2)

    queries: list[str] = []
    execute = db_utils.CursorWrapper.execute

    def counting_execute(self, sql, params=None):
        queries.append(sql)
        return execute(self, sql, params)

    renders: list[str] = []
    render = rendering.render_to_string

    def counting_render(template: str, context: dict) -> str:
        renders.append(template)
        return render(template, context)

    monkeypatch.setattr(db_utils.CursorWrapper, "execute", counting_execute)
    monkeypatch.setattr(rendering, "render_to_string", counting_render)
    # Pushed straight onto the layer, so any query counted here is the consumers' own.
    snapshot = await database_sync_to_async(lambda: payment_snapshot(Payment.objects.get(pk=payment.pk)))()
    queries.clear()
    settled = {**snapshot, "status": "successful", "financial_transaction_id": "1234567890", "version": 2}
    await get_channel_layer().group_send(
        payment_group(str(payment.reference)), {"type": "payment.updated", "payment": settled}
    )
    for client in (first, second):
        assert "Payment successful" in await client.receive_from(timeout=2)
    assert queries == []
    assert len(renders) == 1
    await first.disconnect()
    await second.disconnect()
