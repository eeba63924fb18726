"""Balances seen live: the dashboard's balances panel (each merchant's three accounts per
currency) follows the ledger cell by cell; an operator tops up and sets floats and wallets."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client

from payments import services
from payments.models import Payment, PaymentLog
from payments.outcomes import Outcome
from payments.selectors import product_balance, wallet_balance
from regions.balances import cell_id
from tests.support.clients import is_json_type, open_dashboard, receive_until

PAYER = "46733100041"


@pytest.fixture(autouse=True)
def _spec_balances(settings):
    settings.WALLET_START_BALANCE = Decimal("10000")
    settings.MOMO_DEFAULT_FLOAT = Decimal("100000")


def _collect_and_refund(user) -> None:
    paid = services.payment_create(amount=Decimal("75"), currency="EUR", phone_number=PAYER, momo_user=user, actor="t")
    paid = services.payment_force_many(decisions=[(paid.pk, Outcome("successful"))], actor="t")[0]
    refund = services.payment_refund(payment=paid, amount=Decimal("30"), momo_user=user, actor="t")
    services.payment_force_many(decisions=[(refund.pk, Outcome("successful"))], actor="t")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("empty_layer")
async def test_the_balances_panel_follows_the_ledger_cell_by_cell(operator):
    client = Client()
    await sync_to_async(client.force_login)(operator)
    user, _ = await database_sync_to_async(services.momo_credentials_create)(provider_callback_host="localhost", actor="t")
    socket, ok, _ = await open_dashboard(client)
    snapshot = await socket.receive_from(timeout=5)
    collection = cell_id(f"user:{user.pk}", "collection", "EUR")
    disbursement = cell_id(f"user:{user.pk}", "disbursement", "EUR")
    assert f'id="{disbursement}" class="num balance" data-balance="100000.00"' in snapshot

    await database_sync_to_async(_collect_and_refund)(user)
    message, before = await receive_until(socket, lambda m: f'id="{disbursement}"' in m and "99970.00" in m, what="the float")
    assert 'hx-swap-oob="true"' in message
    assert any(f'id="{collection}" class="num balance" data-balance="75.00"' in m for m in [*before, message])
    await socket.disconnect()

    as_json, ok, _ = await open_dashboard(client, "?format=json")
    first = json.loads(await as_json.receive_from(timeout=5))
    mine = {(a["kind"], a["balance"]) for a in first["balances"] if a["owner"] == f"user:{user.pk}"}
    assert mine == {("collection", "75.00"), ("disbursement", "99970.00"), ("remittance", "100000.00")}
    await database_sync_to_async(services.float_top_up)(
        momo_user=user, product="remittance", currency="EUR", amount="5", actor="t"
    )
    pushed, _ = await receive_until(as_json, is_json_type("balances"), what="the balances")
    assert json.loads(pushed)["balances"] == [
        {"owner": f"user:{user.pk}", "kind": "remittance", "currency": "EUR", "balance": "100005.00"}
    ]
    await as_json.disconnect()


@pytest.mark.django_db
def test_an_operator_tops_up_sets_floats_and_wallets_from_the_dashboard(staff):
    user, _ = services.momo_credentials_create(provider_callback_host="localhost", actor="t")
    answer = staff.post("/dashboard/balances/", {"merchant": str(user.pk), "product": "disbursement",
                                                 "currency": "EUR", "amount": "500", "action": "top_up"})
    assert answer.status_code == 200 and "100500.00 EUR" in answer.content.decode()
    staff.post("/dashboard/balances/", {"product": "remittance", "currency": "eur", "amount": "7", "action": "set"})
    staff.post("/dashboard/balances/", {"party_id": PAYER, "currency": "EUR", "amount": "12.50", "action": "wallet"})
    assert product_balance(user, "disbursement", "EUR") == Decimal("100500.00")
    assert product_balance(None, "remittance", "EUR") == Decimal("7.00")
    assert wallet_balance(PAYER, "EUR") == Decimal("12.50")
    assert PaymentLog.objects.filter(event="ledger", actor="operator:operator").count() == 3
    for bad in ({"amount": "-5", "action": "set", "product": "disbursement", "currency": "EUR"},
                {"amount": "5", "action": "set", "product": "collection", "currency": "EUR"},
                {"amount": "5", "action": "wallet", "party_id": "\x00", "currency": "EUR"},
                {"amount": "5", "action": "wallet", "party_id": PAYER, "currency": "XXX"}):
        refused = staff.post("/dashboard/balances/", bad)
        assert refused.status_code == 422 and "Not changed" in refused.content.decode()
    assert PaymentLog.objects.filter(event="ledger").count() == 3
    page = staff.get("/dashboard/").content.decode()
    assert f'id="{cell_id(f"user:{user.pk}", "disbursement", "EUR")}"' in page and "100500.00" in page
    assert not Payment.objects.exists()
