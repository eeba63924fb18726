"""The rules, each written once: live-setting ranges and the operator's outcome/reason pair.

Every service that takes one of these values calls its check here; forms, serializers and
flags only translate the `InvalidValue` into their own message.
"""

import math
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from payments import outcomes, validation
from payments.errors import InvalidValue
from payments.models import ApprovalMode, Payment

PROCESSING = Payment.Status.PROCESSING
FINAL_STATUSES = (Payment.Status.SUCCESSFUL, Payment.Status.FAILED)

DEFAULT_FAIL_REASON = "APPROVAL_REJECTED"  # an operator's "Fail" without a reason
TIMEOUT_RANGE = (0, 86_400)  # seconds, up to a day
SUCCESS_RATE_RANGE = (0.0, 1.0)
EXPIRY_RANGE = (1, 7 * 86_400)  # seconds, up to a week


def _number(value: Any, *, whole: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) if whole else math.isfinite(value)


def check_timeout(value: Any) -> float:
    low, high = TIMEOUT_RANGE
    if not _number(value) or value < low:
        raise InvalidValue("timeout_seconds", "Timeout must be 0 seconds or more.", low=low, high=high)
    if value > high:
        raise InvalidValue("timeout_seconds", "Timeout must be at most 86400 seconds (a day).", low=low, high=high)
    return value


def check_success_rate(value: Any) -> float:
    low, high = SUCCESS_RATE_RANGE
    if not _number(value) or not low <= value <= high:
        message = "Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed."
        raise InvalidValue("success_rate", message, low=low, high=high)
    return value


def check_expiry(value: Any) -> int:
    low, high = EXPIRY_RANGE
    if not _number(value, whole=True) or value < low:
        raise InvalidValue("expiry_seconds", "Expiry must be at least 1 second.", low=low, high=high)
    if value > high:
        raise InvalidValue("expiry_seconds", "Expiry must be at most 604800 seconds (a week).", low=low, high=high)
    return value


def check_paused(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue("paused", "Paused must be true or false.")
    return value


def check_approval_mode(value: Any) -> str:
    if value not in ApprovalMode.values:
        raise InvalidValue("approval_mode", f"Approval mode must be one of {', '.join(ApprovalMode.values)}.")
    return value


SETTING_CHECKS = {
    "timeout_seconds": check_timeout,
    "success_rate": check_success_rate,
    "paused": check_paused,
    "expiry_seconds": check_expiry,
    "approval_mode": check_approval_mode,
}


def check_outcome(outcome: Any, reason: Any = "") -> outcomes.Outcome:
    """An operator's decision: successful, or failed with a MoMo reason (by default APPROVAL_REJECTED)."""
    if outcome not in FINAL_STATUSES:
        raise InvalidValue("outcome", "Choose an outcome: successful or failed.")
    if not isinstance(reason, str):
        raise InvalidValue("reason", "A reason is a MoMo reason code such as NOT_ENOUGH_FUNDS.")
    if outcome == Payment.Status.SUCCESSFUL:
        if reason:
            raise InvalidValue("reason", "A reason only goes with outcome 'failed'.")
        return outcomes.Outcome(str(outcome))
    reason = reason or DEFAULT_FAIL_REASON
    if reason not in outcomes.ALL_REASONS:
        raise InvalidValue("reason", f"Unknown MoMo reason code: {reason[:48]}.")
    return outcomes.Outcome(str(outcome), reason)


PARTY_RULES: dict[str, Callable[[Any], str]] = {
    Payment.PartyIdType.MSISDN: validation.clean_phone,
    Payment.PartyIdType.EMAIL: validation.clean_email_party,
    Payment.PartyIdType.PARTY_CODE: validation.clean_party_code,
    "ALIAS": validation.clean_party_code,  # a Disbursement payee's alias (MOMO.md)
}


def _rule(field: str, rule: Callable[[Any], Any], value: Any) -> Any:
    try:
        return rule(value)
    except ValidationError as exc:
        raise InvalidValue(field, exc.messages[0]) from None


def payment_check(
    *,
    amount: Any,
    currency: Any,
    phone_number: Any,
    party_id_type: str = Payment.PartyIdType.MSISDN,
    external_id: Any = "",
    booking_details: Any = None,
    payer_message: Any = "",
    payee_note: Any = "",
    party_required: bool = True,
) -> dict[str, Any]:
    """The values a payment is made of, cleaned by the shared rules, or InvalidValue naming
    the first bad one. `payment_create` runs it; a scenario file runs it when it loads.
    `party_required=False`: a refund of a reference nobody knows (it fails when it settles)."""
    if party_id_type not in PARTY_RULES:
        raise InvalidValue("party_id_type", f"The party id type must be one of {', '.join(PARTY_RULES)}.")
    return {
        "amount": _rule("amount", validation.clean_amount, amount),
        "currency": _rule("currency", validation.clean_currency, currency),
        "party_id_type": party_id_type,
        "phone_number": (
            _rule("phone_number", PARTY_RULES[party_id_type], phone_number) if phone_number or party_required else ""
        ),
        "external_id": _rule("external_id", validation.clean_external_id, external_id),
        "booking_details": _rule("booking_details", validation.clean_booking_details, booking_details or {}),
        "payer_message": _rule("payer_message", validation.clean_message, payer_message),
        "payee_note": _rule("payee_note", validation.clean_message, payee_note),
    }
