"""The ledger's invariants under random operations (a hypothesis state machine).

Create payments of every kind, settle them in the worker's batches, force them, refund
them (known, unknown and foreign references, any amount), top up floats, set wallets and
expire what is left; after every step the ledger sums to zero per currency, no balance is
negative, every balance equals the sum of its entries, each successful payment is booked
once and no payment is refunded beyond its amount. Small starting balances make
NOT_ENOUGH_FUNDS common.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings as hsettings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from payments import services
from payments.ledger_audit import ledger_discrepancies
from payments.models import LedgerAccount, LedgerEntry, MomoApiUser, Payment, PaymentLog
from payments.outcomes import Outcome
from payments.worker import SettlementWorker

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PARTIES = ["46733100011", "46733100012", "46733100013"]
CURRENCIES = ["EUR", "UGX"]
KINDS = [kind for kind in Payment.Kind.values if kind != Payment.Kind.REFUND]
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("150"), places=2)
OUTCOMES = st.sampled_from([
    Outcome(Payment.Status.SUCCESSFUL), Outcome(Payment.Status.FAILED, "APPROVAL_REJECTED"),
])


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        LedgerEntry.objects.all().delete()
        LedgerAccount.objects.all().delete()
        PaymentLog.objects.all().delete()
        Payment.objects.all().delete()
        MomoApiUser.objects.all().delete()
        self.users = [None, *(
            services.momo_user_create(user_id=uuid.uuid4(), provider_callback_host="localhost", actor="t")
            for _ in range(2)
        )]
        self.worker = SettlementWorker(seed=7, actor="worker:test")

    def _pick(self, data, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:50])
        return Payment.objects.get(pk=data.draw(st.sampled_from(ids))) if ids else None

    @rule(user=st.integers(0, 2), kind=st.sampled_from(KINDS), party=st.sampled_from(PARTIES),
          currency=st.sampled_from(CURRENCIES), amount=AMOUNTS)
    def create(self, user, kind, party, currency, amount) -> None:
        services.payment_create(amount=amount, currency=currency, phone_number=party, kind=kind,
                                momo_user=self.users[user], actor="t")

    @rule(success_rate=st.sampled_from([0.0, 0.7, 1.0]))
    def settle(self, success_rate) -> None:
        """The worker's batches: several movements of one account in one transaction."""
        services.payment_settle_all(older_than=timedelta(0), success_rate=success_rate, actor="t")

    @rule(data=st.data(), outcome=OUTCOMES)
    def force(self, data, outcome) -> None:
        payment = self._pick(data, Payment.objects.filter(status="processing"))
        if payment is not None:
            services.payment_force_many(decisions=[(payment.pk, outcome)], actor="t")

    @rule(data=st.data(), amount=AMOUNTS, user=st.integers(0, 2), unknown=st.booleans())
    def refund(self, data, amount, user, unknown) -> None:
        original = None if unknown else self._pick(data, Payment.objects.exclude(kind="refund"))
        refund = services.payment_refund(payment=original, amount=amount, momo_user=self.users[user], actor="t",
                                         currency=original.currency if original else "EUR")
        services.payment_force_many(decisions=[(refund.pk, Outcome(Payment.Status.SUCCESSFUL))], actor="t")

    @rule(user=st.integers(0, 2), product=st.sampled_from(["disbursement", "remittance"]),
          currency=st.sampled_from(CURRENCIES), amount=AMOUNTS, top_up=st.booleans())
    def change_float(self, user, product, currency, amount, top_up) -> None:
        if top_up:
            services.float_top_up(momo_user=self.users[user], product=product, currency=currency, amount=amount, actor="t")
        else:
            services.float_set(momo_user=self.users[user], product=product, currency=currency, balance=amount, actor="t")

    @rule(party=st.sampled_from(PARTIES), currency=st.sampled_from(CURRENCIES), amount=AMOUNTS)
    def set_wallet(self, party, currency, amount) -> None:
        services.wallet_set_balance(party_id=party, currency=currency, balance=amount, actor="t")

    @rule()
    def expire(self) -> None:
        ids = list(Payment.objects.filter(status="processing").values_list("pk", flat=True))
        if ids:
            services.payment_expire_many(payment_ids=ids, actor="t")

    @invariant()
    def ledger_adds_up(self) -> None:
        assert ledger_discrepancies() == []


def test_the_ledger_adds_up_after_every_step(settings):
    settings.WALLET_START_BALANCE = Decimal("100")
    settings.MOMO_DEFAULT_FLOAT = Decimal("200")
    run_state_machine_as_test(LedgerMachine, settings=hsettings(
        max_examples=12, stateful_step_count=15, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ))
