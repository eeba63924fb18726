"""Refunds and balances over HTTP: the dashboard's Refund action (staff, CSRF, logged, full
or partial), its kind column and filter, the wallet API and the payment JSON."""

from decimal import Decimal

import pytest

from payments import services
from payments.models import Payment, PaymentLog
from payments.outcomes import Outcome
from tests.support.clients import logged_in

pytestmark = pytest.mark.django_db

PAYER = "46733100021"


@pytest.fixture(autouse=True)
def _spec_balances(settings):
    settings.WALLET_START_BALANCE = Decimal("10000")


def _paid(amount: str = "75") -> Payment:
    payment = services.payment_create(amount=Decimal(amount), currency="EUR", phone_number=PAYER, actor="test")
    return services.payment_force_many(decisions=[(payment.pk, Outcome("successful"))], actor="test")[0]


def _settle_refunds() -> list[Payment]:
    refunds = list(Payment.objects.filter(kind="refund", status="processing"))
    return services.payment_force_many(decisions=[(r.pk, Outcome("successful")) for r in refunds], actor="test")


def test_an_operator_refunds_part_then_the_rest_and_the_payment_shows_it(staff):
    paid = _paid()
    answer = staff.post(f"/dashboard/payments/{paid.reference}/refund/", {"refund_amount": "30"})
    assert answer.status_code == 200 and "Refund of 30.00 EUR" in answer.content.decode()
    refund = Payment.objects.get(kind="refund")
    assert (refund.refund_of_id, refund.amount, refund.phone_number, refund.direction) == (paid.pk, Decimal("30.00"), PAYER, "out")
    assert PaymentLog.objects.filter(payment=refund, event="created", actor="operator:operator").exists()
    _settle_refunds()
    body = staff.get(f"/api/payments/{paid.reference}/").json()
    assert (body["kind"], body["refunded_amount"]) == ("request_to_pay", "30.00")
    assert "30.00 of 75.00 EUR refunded" in staff.get(f"/pay/{paid.reference}/").content.decode()

    staff.post(f"/dashboard/payments/{paid.reference}/refund/", {"refund_amount": ""})  # all that is left
    _settle_refunds()
    assert Payment.objects.get(pk=paid.pk).refunded_amount == Decimal("75.00")
    assert "Refunded" in staff.get(f"/pay/{paid.reference}/").content.decode()
    wallet = staff.get(f"/api/wallets/{PAYER}/")
    assert wallet.json() == {"party_id": PAYER, "balances": [{"currency": "EUR", "balance": "10000.00"}]}


@pytest.mark.parametrize(("amount", "words", "code"), [
    ("75.01", "At most 75.00 EUR is left to refund.", 422),
    ("-1", "An amount is more than 0", 422),
    ("abc", "An amount is more than 0", 422),
])
def test_a_bad_refund_is_refused_in_words_and_changes_nothing(staff, amount, words, code):
    paid = _paid()
    answer = staff.post(f"/dashboard/payments/{paid.reference}/refund/", {"refund_amount": amount})
    assert answer.status_code == code and words in answer.content.decode()
    assert not Payment.objects.filter(kind="refund").exists()


def test_only_successful_payments_are_refunded_and_only_by_staff(staff, customer, operator):
    pending = services.payment_create(amount=Decimal("5"), currency="EUR", phone_number=PAYER, actor="test")
    answer = staff.post(f"/dashboard/payments/{pending.reference}/refund/", {})
    assert answer.status_code == 409 and "Only a successful request to pay" in answer.content.decode()
    paid = _paid()
    assert logged_in(customer).post(f"/dashboard/payments/{paid.reference}/refund/", {}).status_code == 403
    with_csrf = logged_in(operator, csrf=True)
    assert with_csrf.post(f"/dashboard/payments/{paid.reference}/refund/", {}).status_code == 403
    assert not Payment.objects.filter(kind="refund").exists()
    assert logged_in(customer).get(f"/api/wallets/{PAYER}/").status_code == 403
    assert staff.get("/api/wallets/46700000000/").status_code == 404


def test_the_table_shows_kind_and_direction_and_filters_by_kind(staff):
    paid = _paid()
    staff.post(f"/dashboard/payments/{paid.reference}/refund/", {"refund_amount": "10"})
    html = staff.get("/dashboard/").content.decode()
    assert 'data-kind="refund" data-direction="out"' in html and 'data-kind="request_to_pay" data-direction="in"' in html
    refunds = staff.get("/dashboard/?kind=refund").content.decode()
    rows = refunds[refunds.index('id="payment-rows"'):]
    assert 'data-kind="refund"' in rows and 'data-kind="request_to_pay"' not in rows
    row = html[html.index(f'id="row-{paid.reference}"'):]
    assert "data-refund" in row[: row.index("</div>")]
