"""What the sockets take and what they give: frames from a page get an error or a close in
the socket's own format, snapshots stay bounded, readers see the phone number they may see,
and a dashboard socket closes (4401) as soon as its user loses the right to it."""

import json
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from consumers import access, rendering
from dashboard.asgi import application
from payments import services
from payments.models import Payment
from tests.support.clients import ORIGIN, headers_for, is_json_type, logged_in, open_dashboard, receive_until
from tests.support.factories import create_payment
from tests.support import async_wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_layer")]


async def checkout_socket(payment: Payment, query: str = "?format=json", headers=ORIGIN) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, f"/ws/payments/{payment.reference}/{query}", headers=headers)
    connected, code = await socket.connect(timeout=5)
    assert connected, code
    await socket.receive_from(timeout=5)  # the snapshot
    return socket


async def test_it_closes_on_a_binary_or_oversized_frame_and_answers_text_with_an_error():
    payment = await create_payment()
    socket = await checkout_socket(payment)
    await socket.send_to(text_data="hello")
    assert json.loads(await socket.receive_from(timeout=5)) == {
        "type": "error", "error": "This socket only sends; it accepts no messages."
    }
    await socket.send_to(bytes_data=b"\x00" * 10)
    assert (await socket.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4003}

    html = await checkout_socket(payment, query="")
    await html.send_to(text_data="x" * 5000)
    assert (await html.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4009}


async def test_it_answers_dashboard_frames_the_same_way(operator):
    client = await database_sync_to_async(logged_in)(operator)
    socket, connected, _ = await open_dashboard(client, "?format=json")
    assert connected
    await receive_until(socket, is_json_type("snapshot"))
    await socket.send_to(text_data='{"type": "force", "outcome": "successful"}')
    await receive_until(socket, is_json_type("error"), what="the error answer")
    await socket.send_to(text_data="y" * 2000)
    assert (await _close_code(socket)) == 4009


async def _close_code(socket: WebsocketCommunicator, timeout: float = 5) -> int:
    async def closed() -> dict | None:
        output = await socket.receive_output(timeout=timeout)  # async_wait_for's deadline bounds it
        return output if output["type"] == "websocket.close" else None

    return (await async_wait_for(closed, timeout=timeout, interval=0, what="the close")).get("code", 1000)


async def test_it_masks_the_phone_number_on_the_checkout_socket_except_for_staff(operator):
    payment = await create_payment()
    anonymous = WebsocketCommunicator(application, f"/ws/payments/{payment.reference}/?format=json", headers=ORIGIN)
    assert (await anonymous.connect(timeout=5))[0]
    assert json.loads(await anonymous.receive_from(timeout=5))["payment"]["phone_number"] == "467•••••499"
    client = await database_sync_to_async(logged_in)(operator)
    staff = WebsocketCommunicator(application, f"/ws/payments/{payment.reference}/?format=json", headers=headers_for(client))
    assert (await staff.connect(timeout=5))[0]
    assert json.loads(await staff.receive_from(timeout=5))["payment"]["phone_number"] == "46733123499"
    await anonymous.disconnect()
    await staff.disconnect()


async def test_it_keeps_the_json_dashboard_working_with_a_huge_legacy_row(operator):
    """A payment stored before the rules with 2.4 MB of booking details: the JSON dashboard
    still gets a small snapshot on connect (the details show as {}), not a 1011."""
    payment = await create_payment()
    await database_sync_to_async(
        lambda: Payment.objects.filter(pk=payment.pk).update(booking_details={"blob": "x" * 2_400_000})
    )()
    client = await database_sync_to_async(logged_in)(operator)
    socket, connected, _ = await open_dashboard(client, "?format=json")
    assert connected
    message, _ = await receive_until(socket, is_json_type("snapshot"))
    assert len(message) < 20_000
    [row] = json.loads(message)["payments"]
    assert row["booking_details"] == {}
    await socket.disconnect()


def test_it_bounds_the_render_cache_by_bytes(monkeypatch):
    monkeypatch.setattr(rendering, "CACHE_BYTES", 200_000)
    monkeypatch.setattr(rendering, "ENTRY_MAX_BYTES", 20_000)
    for version in range(1, 500):
        rendering.payment_json({"reference": "r", "version": version, "pad": "x" * 1000})
    assert 150_000 < rendering.cached_bytes() <= 200_000
    big = {"reference": "big", "version": 1, "pad": "x" * 50_000}
    assert len(rendering.payment_json(big)) > 50_000  # sent, but not kept
    assert ("json", "big", 1) not in rendering._cache and rendering.cached_bytes() <= 200_000


def test_it_never_reads_booking_details_for_the_dashboard_rows(operator):
    for _ in range(3):
        services.payment_create(
            amount=Decimal("1.00"), currency="EUR", phone_number="46733123499",
            booking_details={"item": "secret-ish"}, actor="test",
        )
    client = logged_in(operator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/dashboard/")
    assert response.status_code == 200 and response.content.decode().count('class="prow status-') == 3
    reads = [q["sql"] for q in queries if "payments_payment" in q["sql"] and q["sql"].startswith("SELECT")]
    assert reads and not any("booking_details" in sql for sql in reads), reads


# --- revocation -------------------------------------------------------------------------


@pytest.fixture
def fast_recheck(monkeypatch):
    monkeypatch.setattr(access, "RECHECK_EVERY", 0.2)


@pytest.fixture
def no_recheck(monkeypatch):
    """Only the event (the signal's layer message) can close the socket within the test."""
    monkeypatch.setattr(access, "RECHECK_EVERY", 600)


async def _open_json_dashboard(user) -> tuple[WebsocketCommunicator, Client]:
    client = await database_sync_to_async(logged_in)(user)
    socket, connected, code = await open_dashboard(client, "?format=json")
    assert connected, code
    await receive_until(socket, is_json_type("snapshot"))
    return socket, client


async def test_it_closes_the_dashboard_socket_with_4401_when_its_user_logs_out(operator, no_recheck):
    socket, client = await _open_json_dashboard(operator)
    other_browser, _ = await _open_json_dashboard(operator)  # the same operator, another session
    await database_sync_to_async(client.post)("/accounts/logout/")
    assert await _close_code(socket) == access.CLOSE_REVOKED
    # And it is refused when it comes back.
    again, connected, _ = await open_dashboard(client, "?format=json")
    assert not connected
    # The operator's other session is still signed in: its dashboard stays and keeps receiving.
    payment = await create_payment()
    message, _ = await receive_until(other_browser, is_json_type("payment"), what="the other session's push")
    assert json.loads(message)["payment"]["reference"] == str(payment.reference)
    await other_browser.disconnect()


@pytest.mark.parametrize("change", [{"is_staff": False}, {"is_active": False}])
async def test_it_closes_the_dashboard_socket_when_its_user_loses_staff(operator, no_recheck, change):
    socket, _ = await _open_json_dashboard(operator)

    def demote():
        user = get_user_model().objects.get(pk=operator.pk)
        for name, value in change.items():
            setattr(user, name, value)
        user.save()

    await database_sync_to_async(demote)()
    assert await _close_code(socket) == access.CLOSE_REVOKED


async def test_it_closes_on_the_periodic_recheck_when_no_signal_fires(operator, fast_recheck):
    """update() sends no signal, a session can be deleted behind Django's back: the recheck
    every RECHECK_EVERY seconds closes the socket anyway, and another operator's stays open."""
    other = await database_sync_to_async(get_user_model().objects.create_user)("olga", password="x-pass-123", is_staff=True)
    socket, _ = await _open_json_dashboard(operator)
    bystander, _ = await _open_json_dashboard(other)
    await database_sync_to_async(lambda: get_user_model().objects.filter(pk=operator.pk).update(is_staff=False))()
    assert await _close_code(socket, timeout=3) == access.CLOSE_REVOKED
    payment = await create_payment()
    message, _ = await receive_until(bystander, is_json_type("payment"), what="the bystander's push")
    assert json.loads(message)["payment"]["reference"] == str(payment.reference)
    await bystander.disconnect()
