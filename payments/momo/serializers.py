"""The MoMo wire format of a payment: the status call's body (and, later, a callback's).

Plain functions of a Payment, no HTTP: the domain may import this module.
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

# What the basicuserinfo call answers for any number without a test case of its own.
SANDBOX_PERSON = {
    "sub": "0",
    "name": "Sand Box",
    "given_name": "Sand",
    "family_name": "Box",
    "birthdate": "1976-08-13",
    "locale": "sv_SE",
    "gender": "MALE",
    "updated_at": 1700000000,
}


def amount_text(amount: Decimal) -> str:
    """As MoMo echoes amounts: "100", "100.5" (no exponent, no trailing zeros)."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def reason(code: str, reason_format: str) -> str | dict[str, str]:
    if reason_format == MomoApiUser.ReasonFormat.OBJECT:
        return {"code": code, "message": outcomes.reason_text(code)}
    return code


def status_json(payment: Payment, reason_format: str = MomoApiUser.ReasonFormat.STRING) -> dict[str, Any]:
    """Fields by state, as observed on MoMo: PENDING has neither financialTransactionId nor
    reason, SUCCESSFUL has financialTransactionId, FAILED has reason."""
    body: dict[str, Any] = {
        "amount": amount_text(payment.amount),
        "currency": payment.currency,
        "externalId": payment.external_id,
        "payer": {"partyIdType": payment.party_id_type, "partyId": payment.phone_number},
        "payerMessage": payment.payer_message,
        "payeeNote": payment.payee_note,
        "status": MOMO_STATUS[payment.status],
    }
    if payment.status == Payment.Status.SUCCESSFUL:
        body["financialTransactionId"] = payment.financial_transaction_id
    elif payment.status == Payment.Status.FAILED:
        body["reason"] = reason(payment.reason, reason_format)
    return body


def balance_json(total: Decimal, currency: str) -> dict[str, str]:
    return {"availableBalance": amount_text(total), "currency": currency}


def api_user_json(user: MomoApiUser) -> dict[str, str]:
    return {"providerCallbackHost": user.provider_callback_host, "targetEnvironment": user.target_environment}
