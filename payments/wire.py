"""The MoMo wire format of a payment: the status call's body, which a callback also carries.

Plain functions of a Payment, no HTTP: the domain writes it into the callback outbox and
the MoMo API (momo/) answers with it.
"""

from decimal import Decimal
from typing import Any

from payments import outcomes
from payments.models import MomoApiUser, Payment

MOMO_STATUS = {
    Payment.Status.PROCESSING: "PENDING",
    Payment.Status.SUCCESSFUL: "SUCCESSFUL",
    Payment.Status.FAILED: "FAILED",
}

def amount_text(amount: Decimal) -> str:
    """As MoMo echoes amounts: "100", "100.5" (no exponent, no trailing zeros)."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def reason(code: str, reason_format: str) -> str | dict[str, str]:
    if reason_format == MomoApiUser.ReasonFormat.OBJECT:
        return {"code": code, "message": outcomes.reason_text(code)}
    return code


# What a status answer reads of a payment (status_json, and callbacks.status_lag_pending
# for the callback-before-status fault): a status read loads these columns only. Its
# six timestamps and two JSON blobs otherwise cost a MoMo status call a tenth of its CPU
# (docs/performance.md); a field read beyond them would cost a query of its own.
STATUS_FIELDS = (
    "reference", "amount", "currency", "external_id", "phone_number", "party_id_type", "payer_message",
    "payee_note", "kind", "direction", "wire_fields", "status", "reason", "financial_transaction_id",
    "callback_url", "momo_user",
)


def _captured_deposit(payment: Payment, readings: str) -> bool:
    """MTN's sandbox captures show a SUCCESSFUL deposit without financialTransactionId; its
    API pages give every SUCCESSFUL transfer one: the API user's `readings` picks."""
    return readings == MomoApiUser.Readings.CAPTURED and payment.kind == Payment.Kind.DEPOSIT


def status_json(
    payment: Payment,
    reason_format: str = MomoApiUser.ReasonFormat.STRING,
    readings: str = MomoApiUser.Readings.PAGES,
) -> dict[str, Any]:
    """The status body of the payment's own operation: fields by state, as observed on MoMo
    (PENDING has neither financialTransactionId nor reason, SUCCESSFUL has
    financialTransactionId, FAILED has reason). Money in names its `payer`, money out its
    `payee`; a cash transfer echoes the sender fields it was sent (`wire_fields`)."""
    party = "payer" if payment.direction == Payment.Direction.IN else "payee"
    body: dict[str, Any] = {
        "amount": amount_text(payment.amount),
        "currency": payment.currency,
        "externalId": payment.external_id,
        party: {"partyIdType": payment.party_id_type, "partyId": payment.phone_number},
        "payerMessage": payment.payer_message,
        "payeeNote": payment.payee_note,
    }
    if payment.kind == Payment.Kind.CASH_TRANSFER:
        body = {**body, **{k: v for k, v in (payment.wire_fields or {}).items() if k not in body}}
    body["status"] = MOMO_STATUS[payment.status]
    if payment.status == Payment.Status.SUCCESSFUL and not _captured_deposit(payment, readings):
        body["financialTransactionId"] = payment.financial_transaction_id
    elif payment.status == Payment.Status.FAILED:
        body["reason"] = reason(payment.reason, reason_format)
    return body
