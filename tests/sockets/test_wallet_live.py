"""The payer's phone page shows its wallet, and money arriving as it lands (a refund)."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from payments import services
from payments.outcomes import Outcome
from tests.support.clients import ORIGIN

PAYER = "46733100051"



@pytest.fixture(autouse=True)
def _spec_balances(settings):
    settings.WALLET_START_BALANCE = Decimal("10000")
    settings.MERCHANT_NAME = "Virunga Treks"


def _paid():
    payment = services.payment_create(amount=Decimal("75"), currency="EUR", phone_number=PAYER, actor="t")
    return services.payment_force_many(decisions=[(payment.pk, Outcome("successful"))], actor="t")[0]


def _refund(payment, amount: str):
    refund = services.payment_refund(payment=payment, amount=amount, actor="operator:t", strict=True)
    return services.payment_force_many(decisions=[(refund.pk, Outcome("successful"))], actor="t")[0]


@pytest.mark.django_db
def test_the_phone_page_shows_the_wallet_balance():
    payment = _paid()
    html = Client().get(f"/p/{payment.approval_token}/").content.decode()
    assert "<strong data-wallet-balance>9925.00 EUR</strong>" in html
    assert f"/ws/phone/{payment.approval_token}/" in html  # open after the payment: money may arrive


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("empty_layer")
async def test_the_phone_page_shows_money_arriving_live():
    payment = await sync_to_async(_paid)()
    socket = WebsocketCommunicator(application, f"/ws/phone/{payment.approval_token}/", headers=ORIGIN)
    assert (await socket.connect())[0]
    assert "Payment successful" in await socket.receive_from(timeout=5)
    await sync_to_async(_refund)(payment, "30")
    seen = [await socket.receive_from(timeout=5) for _ in range(2)]  # the payment's new version, the wallet
    wallet = next(m for m in seen if 'id="wallet"' in m)
    assert "You have received 30.00 EUR from Virunga Treks" in wallet
    assert "<strong data-wallet-balance>9955.00 EUR</strong>" in wallet
    await socket.disconnect()
