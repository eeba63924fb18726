"""The payer's phone page over HTTP and its socket: the token is the only way in, a PIN
approves, 0000 is a wrong PIN (shown and counted), decline rejects, and it works once."""

from decimal import Decimal

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from payments import services
from payments.models import Payment, PaymentLog
from payments.selectors import mask_phone, payment_snapshot
from tests.support.clients import ORIGIN

PHONE = "46733123499"


def create(phone: str = PHONE) -> Payment:
    return services.payment_create(amount=Decimal("25.00"), currency="EUR", phone_number=phone)


def phone_url(payment: Payment, action: str = "") -> str:
    return f"/p/{payment.approval_token}/{action + '/' if action else ''}"


@pytest.fixture
def payer() -> Client:
    """Another device: no session, CSRF enforced like a browser."""
    return Client(enforce_csrf_checks=True)


def csrf_post(client: Client, url: str, data: dict[str, str] | None = None, **headers: str):
    """Load the phone page first (it sets the CSRF cookie), then post with the token, as htmx does."""
    page = client.get(url.rsplit("/", 2)[0] + "/")
    assert page.status_code == 200
    token = client.cookies["csrftoken"].value
    return client.post(url, data or {}, headers={"X-CSRFToken": token, "HX-Request": "true", **headers})


@pytest.mark.django_db
def test_it_shows_the_momo_prompt_for_the_token(payer, settings):
    settings.MERCHANT_NAME = "Virunga Treks"
    settings.WALLET_START_BALANCE = Decimal("10000.00")
    payment = create()
    page = payer.get(phone_url(payment))
    assert page.status_code == 200
    html = page.content.decode()
    # Like MoMo's own prompt: the merchant once, the amount, the masked payer, the fee.
    assert "Pay <strong>25.00 EUR</strong> to Virunga Treks" in html and html.count("Virunga Treks") == 1
    assert payment.phone_number not in html and mask_phone(payment.phone_number) in html
    assert "<dt>Fee</dt><dd>0.00 EUR</dd>" in html
    # A first-time payer's wallet opens with WALLET_START_BALANCE (10000.00).
    assert "<dt>Balance after</dt><dd data-balance-after>9975.00 EUR</dd>" in html
    assert "Enter your PIN to approve." in html
    assert f"/ws/phone/{payment.approval_token}/" in page.content.decode()


@pytest.mark.django_db
def test_the_prompt_shows_the_balance_after_from_the_payers_wallet(payer):
    from payments.services import ledger

    payment = create()
    ledger.wallet_set_balance(party_id=PHONE, currency="EUR", balance="100.00", actor="operator:alice")
    html = payer.get(phone_url(payment)).content.decode()
    assert '<dd data-balance-after>75.00 EUR</dd>' in html


@pytest.mark.django_db
def test_it_answers_404_to_the_reference_or_a_wrong_token(payer):
    payment = create()
    assert payer.get(f"/p/{payment.reference}/").status_code == 404
    assert payer.get("/p/" + "x" * 22 + "/").status_code == 404
    response = payer.post("/p/" + "x" * 22 + "/approve/", {"pin": "1234"})
    assert response.status_code in (403, 404)
    payment.refresh_from_db()
    assert payment.status == "processing"


@pytest.mark.django_db
def test_it_keeps_the_token_out_of_every_snapshot(payer):
    payment = create()
    assert payment.approval_token not in str(payment_snapshot(payment))
    assert payment.approval_token not in payer.get(f"/api/payments/{payment.reference}/").content.decode()


@pytest.mark.django_db
def test_it_approves_with_a_pin_once_and_a_replay_changes_nothing(payer):
    payment = create()
    response = csrf_post(payer, phone_url(payment, "approve"), {"pin": "12345"})
    assert response.status_code == 200 and "Payment successful" in response.content.decode()
    payment.refresh_from_db()
    assert (payment.status, payment.version) == ("successful", 2)
    log = PaymentLog.objects.get(payment=payment, event="approved")
    assert (log.actor, log.to_status) == ("payer", "successful")

    again = csrf_post(payer, phone_url(payment, "decline"))
    replay = csrf_post(payer, phone_url(payment, "approve"), {"pin": "12345"})
    assert again.status_code == replay.status_code == 409
    assert "already settled" in replay.content.decode()
    payment.refresh_from_db()
    assert (payment.status, payment.version, payment.reason) == ("successful", 2, "")
    assert PaymentLog.objects.filter(payment=payment).count() == 2


@pytest.mark.django_db
def test_it_declines_with_approval_rejected(payer):
    payment = create()
    response = csrf_post(payer, phone_url(payment, "decline"))
    assert response.status_code == 200 and "declined on the phone" in response.content.decode()
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", "APPROVAL_REJECTED")
    assert PaymentLog.objects.get(payment=payment, event="declined").actor == "payer"


@pytest.mark.django_db
def test_it_counts_wrong_pins_and_refuses_malformed_ones(payer):
    payment = create()
    first = csrf_post(payer, phone_url(payment, "approve"), {"pin": "0000"})
    second = csrf_post(payer, phone_url(payment, "approve"), {"pin": "0000"})
    assert "Wrong PIN. Try again (attempt 1)." in first.content.decode()
    assert "Wrong PIN. Try again (attempt 2)." in second.content.decode()
    for pin in ("123", "123456", "12a4", ""):
        bad = csrf_post(payer, phone_url(payment, "approve"), {"pin": pin})
        assert bad.status_code == 422 and "A PIN is 4 or 5 digits." in bad.content.decode()
    payment.refresh_from_db()
    assert (payment.status, payment.version) == ("processing", 1)
    assert PaymentLog.objects.filter(payment=payment, event="wrong_pin", actor="payer").count() == 2
    assert csrf_post(payer, phone_url(payment, "approve"), {"pin": "4321"}).status_code == 200


@pytest.mark.django_db
def test_it_refuses_a_post_without_csrf(payer):
    payment = create()
    response = payer.post(phone_url(payment, "approve"), {"pin": "1234"})
    assert response.status_code == 403
    payment.refresh_from_db()
    assert payment.status == "processing"


@pytest.mark.django_db
def test_the_waiting_checkout_page_links_the_phone_page_by_token(payer):
    payment = create()
    page = payer.get(f"/pay/{payment.reference}/").content.decode()
    assert f"http://testserver/p/{payment.approval_token}/" in page
    assert '<svg viewBox="0 0' in page and 'class="qr"' in page
    services.payment_force(payment=payment, outcome="successful", actor="operator:alice")
    assert 'class="qr"' not in payer.get(f"/pay/{payment.reference}/").content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_phone_socket_shows_a_settlement_by_anyone_else():
    from asgiref.sync import sync_to_async

    payment = await sync_to_async(create)()
    headers = ORIGIN
    socket = WebsocketCommunicator(application, f"/ws/phone/{payment.approval_token}/", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    assert "Enter your PIN to approve" in await socket.receive_from(timeout=5)
    await sync_to_async(services.payment_force)(payment=payment, outcome="failed", reason="NOT_ENOUGH_FUNDS", actor="operator:alice")
    pushed = await socket.receive_from(timeout=5)
    assert "Payment failed" in pushed and "not enough money" in pushed.lower()
    await socket.disconnect()

    refused = WebsocketCommunicator(application, f"/ws/phone/{payment.reference}/", headers=headers)
    assert (await refused.connect())[0] is False
