"""Refunds: a refund is a payment of kind refund, created here and settled by the one
transition like any other, which checks it against the refunded payment and the float
(payments/services/ledger.py)."""

import uuid
from decimal import Decimal
from typing import Any

from payments.errors import InvalidValue, PaymentError
from payments.models import MomoApiUser, Payment
from payments.services.ledger import check_money
from payments.services.lifecycle import payment_create


def payment_refund(
    *,
    payment: Payment | None,
    amount: Decimal,
    actor: str,
    reference: uuid.UUID | None = None,
    momo_user: MomoApiUser | None = None,
    currency: str | None = None,
    strict: bool = False,
    **fields: Any,
) -> Payment:
    """A refund of `payment` (None: a reference nobody knows): a processing payment of kind
    refund that pays `amount` back to its payer from `momo_user`'s disbursement account.

    It settles by the same rules as any payment; its transition checks, under the refunded
    payment's lock, that it names a successful request to pay of the same API user and
    currency and stays within what is left (else FAILED, TRANSACTION_NOT_FOUND or
    NOT_ALLOWED), and that the float can pay it (else NOT_ENOUGH_FUNDS).
    `strict` (an operator's refund, made for the payment's own merchant): refuse at once,
    with PaymentError, what would fail now. `fields`: the MoMo call's other fields.
    """
    if strict:
        amount = _refundable(payment, amount)
        momo_user = payment.momo_user
    return payment_create(
        amount=amount,
        currency=currency or (payment.currency if payment else "EUR"),
        phone_number=payment.phone_number if payment else "",
        party_id_type=payment.party_id_type if payment else Payment.PartyIdType.MSISDN,
        actor=actor,
        reference=reference,
        momo_user=momo_user,
        kind=Payment.Kind.REFUND,
        refund_of=payment,
        **fields,
    )


def _refundable(payment: Payment | None, amount: Any) -> Decimal:
    """The operator's refund, checked now (the transition checks it again, under its locks)."""
    amount = check_money(amount, allow_zero=False)
    if payment is None or payment.kind != Payment.Kind.REQUEST_TO_PAY or payment.status != Payment.Status.SUCCESSFUL:
        raise PaymentError("Only a successful request to pay can be refunded.")
    left = payment.amount - payment.refunded_amount
    if amount > left:
        raise InvalidValue("amount", f"At most {left:.2f} {payment.currency} is left to refund.", low=0, high=float(left))
    return amount
