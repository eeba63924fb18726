"""The double-entry ledger, through the services: money moves when payments settle, and
only when the side that pays can; refunds stay within what was paid; it always adds up."""

import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from payments import outcomes, services
from payments.ledger_audit import ledger_discrepancies
from payments.models import LedgerAccount, LedgerEntry, Payment
from payments.outcomes import Outcome
from payments.selectors import merchant_balances, momo_balance, product_balance, wallet_balance, wallet_balances

pytestmark = pytest.mark.django_db

PAYER = "46733100001"
PAYEE = "46733100002"
OK = Outcome(Payment.Status.SUCCESSFUL)


@pytest.fixture(autouse=True)
def _spec_balances(settings):
    settings.WALLET_START_BALANCE = Decimal("10000")
    settings.MOMO_DEFAULT_FLOAT = Decimal("100000")


@pytest.fixture
def client_user():
    user, _ = services.momo_credentials_create(provider_callback_host="localhost", actor="test")
    return user


def _settle(payment: Payment, outcome: Outcome = OK) -> Payment:
    return services.payment_force_many(decisions=[(payment.pk, outcome)], actor="test")[0]


def _collect(user, amount: str, phone: str = PAYER) -> Payment:
    payment = services.payment_create(amount=Decimal(amount), currency="EUR", phone_number=phone, momo_user=user, actor="test")
    return _settle(payment)


def _refund(user, original: Payment | None, amount: str, **fields) -> Payment:
    refund = services.payment_refund(payment=original, amount=Decimal(amount), momo_user=user, actor="test", **fields)
    return _settle(refund)


def test_it_collects_then_refunds_within_the_payment_and_balances_are_exact(client_user):
    paid = _collect(client_user, "100")
    assert paid.status == "successful"
    first = _refund(client_user, paid, "30")
    second = _refund(client_user, paid, "80")

    assert (first.status, first.kind, first.direction) == ("successful", "refund", "out")
    assert (second.status, second.reason) == ("failed", "NOT_ALLOWED")
    paid.refresh_from_db()
    assert paid.refunded_amount == Decimal("30.00")
    assert momo_balance(client_user, "EUR") == Decimal("100.00")
    assert product_balance(client_user, "disbursement", "EUR") == Decimal("99970.00")
    assert product_balance(client_user, "remittance", "EUR") == Decimal("100000.00")
    assert wallet_balance(PAYER, "EUR") == Decimal("9930.00")
    assert wallet_balances(PAYER) == [{"currency": "EUR", "balance": "9930.00"}]
    assert merchant_balances(client_user) == [
        {"currency": "EUR", "collection": "100.00", "disbursement": "99970.00", "remittance": "100000.00"}
    ]
    assert LedgerEntry.objects.filter(payment=second).count() == 0
    assert ledger_discrepancies() == []


def test_it_fails_a_transfer_larger_than_the_float_and_moves_nothing(client_user):
    before = list(LedgerAccount.objects.exclude(kind="issuer").values_list("pk", "balance"))
    transfer = services.payment_create(
        amount=Decimal("100000.01"), currency="EUR", phone_number=PAYEE, momo_user=client_user,
        kind=Payment.Kind.TRANSFER, actor="test",
    )
    transfer = _settle(transfer)
    assert (transfer.status, transfer.reason) == ("failed", "NOT_ENOUGH_FUNDS")
    assert (transfer.product, transfer.direction) == ("disbursement", "out")
    wallet = LedgerAccount.objects.get(owner=f"party:{PAYEE}")  # opened at first sight
    after = dict(LedgerAccount.objects.values_list("pk", "balance"))
    assert all(after[pk] == balance for pk, balance in before) and wallet.balance == Decimal("10000.00")
    assert not LedgerEntry.objects.filter(payment=transfer).exists()

    paid_out = _settle(services.payment_create(
        amount=Decimal("100000"), currency="EUR", phone_number=PAYEE, momo_user=client_user,
        kind=Payment.Kind.TRANSFER, actor="test",
    ))
    assert paid_out.status == "successful"
    assert product_balance(client_user, "disbursement", "EUR") == Decimal("0.00")
    assert wallet_balance(PAYEE, "EUR") == Decimal("110000.00")
    assert ledger_discrepancies() == []


def test_it_fails_a_payment_its_payer_cannot_afford():
    payment = services.payment_create(amount=Decimal("10000.01"), currency="EUR", phone_number=PAYER, actor="test")
    assert (_settle(payment).status, Payment.objects.get(pk=payment.pk).reason) == ("failed", "NOT_ENOUGH_FUNDS")
    assert wallet_balance(PAYER, "EUR") == Decimal("10000.00")


def test_it_pays_remittances_from_the_remittance_float(client_user):
    for kind in (Payment.Kind.REMITTANCE_TRANSFER, Payment.Kind.CASH_TRANSFER):
        _settle(services.payment_create(amount=Decimal("250"), currency="EUR", phone_number=PAYEE,
                                        momo_user=client_user, kind=kind, actor="test"))
    assert product_balance(client_user, "remittance", "EUR") == Decimal("99500.00")
    assert product_balance(client_user, "disbursement", "EUR") == Decimal("100000.00")
    assert wallet_balance(PAYEE, "EUR") == Decimal("10500.00")


def test_it_refuses_refunds_of_unknown_foreign_or_unsuccessful_payments(client_user):
    other, _ = services.momo_credentials_create(provider_callback_host="localhost", actor="test")
    theirs = _collect(other, "50")
    failed = _settle(services.payment_create(amount=Decimal("5"), currency="EUR", phone_number=PAYER,
                                             momo_user=client_user, actor="test"),
                     Outcome(Payment.Status.FAILED, "APPROVAL_REJECTED"))
    assert _refund(client_user, None, "1", currency="EUR").reason == "TRANSACTION_NOT_FOUND"
    assert _refund(client_user, theirs, "1").reason == "TRANSACTION_NOT_FOUND"
    assert _refund(client_user, failed, "1").reason == "NOT_ALLOWED"
    mine = _collect(client_user, "20")
    assert _refund(client_user, mine, "5", currency="USD").reason == "NOT_ALLOWED"
    assert _refund(client_user, mine, "20").status == "successful"
    assert _refund(client_user, mine, "0.01").reason == "NOT_ALLOWED"
    assert ledger_discrepancies() == []


def test_the_operators_refund_is_checked_at_once_and_made_for_the_payments_merchant(client_user):
    paid = _collect(client_user, "75")
    with pytest.raises(services.PaymentError, match="At most 75.00 EUR"):
        services.payment_refund(payment=paid, amount=Decimal("75.01"), actor="operator", strict=True)
    refund = services.payment_refund(payment=paid, amount="30", actor="operator", strict=True)
    assert refund.momo_user_id == client_user.pk and refund.phone_number == PAYER
    assert _settle(refund).status == "successful"
    assert Payment.objects.get(pk=paid.pk).refunded_amount == Decimal("30.00")


def test_the_sandbox_values_of_each_kind_keep_their_outcomes(client_user):
    rng = random.Random(1)
    assert outcomes.decide("46733123455", rng=rng, success_rate=1, kind="transfer") == Outcome("failed", "NOT_ENOUGH_FUNDS")
    assert outcomes.decide("46733123455", rng=rng, success_rate=1) == Outcome("failed", "PAYER_NOT_FOUND")
    assert outcomes.decide("46733123455", rng=rng, success_rate=1, kind="deposit") == Outcome("failed", "PAYER_NOT_FOUND")
    assert outcomes.decide("x", rng=rng, success_rate=1, kind="refund", external_id="1") == Outcome("failed", "TRANSACTION_NOT_FOUND")
    assert outcomes.decide("x", rng=rng, success_rate=1, kind="cash_transfer", external_id="5") == Outcome("failed", "PAYEE_NOT_FOUND")
    delayed = services.payment_create(amount=Decimal("1"), currency="EUR", phone_number="46733123454",
                                      momo_user=client_user, kind="transfer", actor="test")
    assert delayed.settle_at is None
    refund = services.payment_create(amount=Decimal("1"), currency="EUR", phone_number=PAYER, external_id="6",
                                     momo_user=client_user, kind="refund", actor="test")
    assert refund.settle_at is None  # "delayed": never settles by itself


def test_an_operator_tops_up_and_sets_floats_and_wallets(client_user):
    services.float_top_up(momo_user=client_user, product="disbursement", currency="EUR", amount="500", actor="op")
    assert product_balance(client_user, "disbursement", "EUR") == Decimal("100500.00")
    services.float_set(momo_user=client_user, product="remittance", currency="EUR", balance="10", actor="op")
    services.float_set(momo_user=None, product="disbursement", currency="UGX", balance="0", actor="op")
    services.wallet_set_balance(party_id=PAYER, currency="EUR", balance="3", actor="op")
    assert product_balance(client_user, "remittance", "EUR") == Decimal("10.00")
    assert product_balance(None, "disbursement", "UGX") == Decimal("0.00")
    assert wallet_balance(PAYER, "EUR") == Decimal("3.00")
    for bad in ("-1", "1.001", "abc", True, None):
        with pytest.raises(services.InvalidValue):
            services.wallet_set_balance(party_id=PAYER, currency="EUR", balance=bad, actor="op")
    with pytest.raises(services.InvalidValue):
        services.float_top_up(momo_user=None, product="collection", currency="EUR", amount="1", actor="op")
    assert wallet_balance(PAYER, "EUR") == Decimal("3.00")
    assert ledger_discrepancies() == []


def test_a_new_api_user_opens_with_its_own_float():
    user, _ = services.momo_credentials_create(provider_callback_host="localhost", starting_float=Decimal("250"), actor="t")
    assert product_balance(user, "disbursement", "EUR") == Decimal("250.00")
    assert product_balance(user, "remittance", "UGX") == Decimal("250.00")  # what it will open with


def test_ledger_check_exits_non_zero_on_a_discrepancy(client_user, capsys):
    _collect(client_user, "10")
    call_command("ledger_check")
    assert "ledger ok" in capsys.readouterr().out
    LedgerAccount.objects.filter(owner=f"party:{PAYER}").update(balance=Decimal("1"))
    with pytest.raises(CommandError) as failure:
        call_command("ledger_check")
    assert failure.value.returncode == 1
    assert f"party:{PAYER}" in capsys.readouterr().err


def test_a_settled_payment_is_booked_once_whatever_is_retried(client_user):
    paid = _collect(client_user, "10")
    with pytest.raises(services.PaymentError):
        _settle(paid)
    entries = LedgerEntry.objects.filter(payment=paid)
    assert entries.count() == 2 and len({e.movement for e in entries}) == 1
    assert sum(e.amount for e in entries) == 0


def test_each_kind_has_its_operations_status_body(client_user):
    from payments.wire import status_json

    transfer = _settle(services.payment_create(
        amount=Decimal("5.50"), currency="EUR", phone_number=PAYEE, momo_user=client_user, kind="transfer", actor="t",
    ))
    body = status_json(transfer)
    assert body["payee"] == {"partyIdType": "MSISDN", "partyId": PAYEE} and "payer" not in body
    assert (body["amount"], body["status"]) == ("5.5", "SUCCESSFUL") and body["financialTransactionId"]
    cash = services.payment_create(
        amount=Decimal("1"), currency="EUR", phone_number=PAYEE, momo_user=client_user, kind="cash_transfer",
        wire_fields={"originalAmount": "1", "payerFirstName": "Ada", "status": "spoofed"}, actor="t",
    )
    body = status_json(cash)
    assert body["payerFirstName"] == "Ada" and body["status"] == "PENDING"
    assert "payer" in status_json(_collect(client_user, "1"))
