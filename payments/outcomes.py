"""What a payment settles to: the MoMo sandbox test numbers first, then a seeded draw."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

SUCCESSFUL = "successful"
FAILED = "failed"

# MTN MoMo Collections reason codes, in words a customer understands.
REASONS: dict[str, str] = {
    "PAYER_NOT_FOUND": "The mobile money account for this number was not found.",
    "PAYEE_NOT_ALLOWED_TO_RECEIVE": "The merchant is not allowed to receive this payment.",
    "NOT_ALLOWED": "This payment is not allowed.",
    "NOT_ALLOWED_TARGET_ENVIRONMENT": "Payments are not allowed in this environment.",
    "INVALID_CALLBACK_URL_HOST": "The merchant's callback address is not allowed.",
    "INVALID_CURRENCY": "This currency is not supported for the account.",
    "SERVICE_UNAVAILABLE": "The mobile money service is unavailable. Please try again later.",
    "INTERNAL_PROCESSING_ERROR": "The mobile money provider had an internal error.",
    "NOT_ENOUGH_FUNDS": "There is not enough money in the account.",
    "PAYER_LIMIT_REACHED": "The account has reached its payment limit.",
    "PAYEE_NOT_FOUND": "The merchant account was not found.",
    "APPROVAL_REJECTED": "The payment was declined on the phone.",
    "EXPIRED": "The payment was not approved in time.",
    "TRANSACTION_CANCELED": "The payment was cancelled.",
    "RESOURCE_ALREADY_EXIST": "This payment was already submitted.",
    "COULD_NOT_PERFORM_TRANSACTION": "The transaction could not be completed.",
}
# The codes only money out (refunds, cash transfers) fails with.
OUT_REASONS: dict[str, str] = {
    "TRANSACTION_NOT_FOUND": "The payment to refund was not found.",
    "NOT_FOUND": "The transaction was not found.",
}
ALL_REASONS: dict[str, str] = {**REASONS, **OUT_REASONS}

RANDOM_FAILURE_REASONS = ["NOT_ENOUGH_FUNDS", "APPROVAL_REJECTED", "EXPIRED", "PAYER_LIMIT_REACHED"]

ONGOING_NUMBER = "46733123453"  # successful, but only at twice the timeout
PENDING_NUMBER = "46733123454"  # never settles by itself; expires

TEST_NUMBER_FAILURES: dict[str, str] = {
    "46733123450": "INTERNAL_PROCESSING_ERROR",
    "46733123451": "APPROVAL_REJECTED",
    "46733123452": "EXPIRED",
    "46733123455": "PAYER_NOT_FOUND",
    "46733123456": "PAYEE_NOT_ALLOWED_TO_RECEIVE",
    "46733123457": "NOT_ALLOWED",
    "46733123458": "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "46733123459": "INVALID_CALLBACK_URL_HOST",
    "46733123460": "INVALID_CURRENCY",
    "46733123461": "INTERNAL_PROCESSING_ERROR",
    "46733123462": "SERVICE_UNAVAILABLE",
    "46733123463": "COULD_NOT_PERFORM_TRANSACTION",
}


ONGOING = "ongoing"  # successful, at twice the timeout
DELAYED = "delayed"  # never settles by itself; expires

# Disbursement and remittance transfers, keyed on the payee's number (MTN's use-case table).
TRANSFER_NUMBER_CASES: dict[str, str] = {
    "46733123450": "INTERNAL_PROCESSING_ERROR",
    "46733123451": "APPROVAL_REJECTED",
    "46733123452": "EXPIRED",
    "46733123453": ONGOING,
    "46733123454": DELAYED,
    "46733123455": "NOT_ENOUGH_FUNDS",
    "46733123456": "PAYER_LIMIT_REACHED",
    "46733123457": "PAYEE_NOT_FOUND",
    "46733123458": "NOT_ALLOWED",
    "46733123459": "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "46733123460": "INVALID_CALLBACK_URL_HOST",
    "46733123461": "INVALID_CURRENCY",
    "46733123462": "INTERNAL_PROCESSING_ERROR",
    "46733123463": "SERVICE_UNAVAILABLE",
}
# Refunds and cash transfers, keyed on the externalId "1" ... "13".
REFUND_EXTERNAL_ID_CASES: dict[str, str] = dict(zip(map(str, range(1, 14)), [
    "TRANSACTION_NOT_FOUND", "INTERNAL_PROCESSING_ERROR", "APPROVAL_REJECTED", "EXPIRED", ONGOING, DELAYED,
    "NOT_ALLOWED", "NOT_ALLOWED_TARGET_ENVIRONMENT", "INVALID_CALLBACK_URL_HOST", "INVALID_CURRENCY",
    "INTERNAL_PROCESSING_ERROR", "SERVICE_UNAVAILABLE", "COULD_NOT_PERFORM_TRANSACTION",
]))
CASH_TRANSFER_EXTERNAL_ID_CASES: dict[str, str] = dict(zip(map(str, range(1, 14)), [
    "NOT_FOUND", "INTERNAL_PROCESSING_ERROR", "APPROVAL_REJECTED", "EXPIRED", "PAYEE_NOT_FOUND",
    "PAYEE_NOT_ALLOWED_TO_RECEIVE", "NOT_ALLOWED", "NOT_ALLOWED_TARGET_ENVIRONMENT", "INVALID_CALLBACK_URL_HOST",
    "INVALID_CURRENCY", "INTERNAL_PROCESSING_ERROR", "SERVICE_UNAVAILABLE", "COULD_NOT_PERFORM_TRANSACTION",
]))
REQUEST_NUMBER_CASES: dict[str, str] = {**TEST_NUMBER_FAILURES, ONGOING_NUMBER: ONGOING, PENDING_NUMBER: DELAYED}
MONEY_OUT_KINDS = ("transfer", "deposit", "refund", "remittance_transfer", "cash_transfer")


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str = ""


def reason_text(code: str) -> str:
    """A reason code in words ("" for none)."""
    return ALL_REASONS.get(code, code.replace("_", " ").capitalize()) if code else ""


def sandbox_case(phone_number: str, *, kind: str = "request_to_pay", external_id: str = "") -> str | None:
    """The fixed case of a sandbox test value for this kind of payment: a FAILED reason
    code, ONGOING or DELAYED; None for any other value. Request to pay, request to
    withdraw and deposit use the request-to-pay numbers; transfers their own; refunds and
    cash transfers are keyed on the externalId."""
    if kind == "refund":
        return REFUND_EXTERNAL_ID_CASES.get(external_id)
    if kind == "cash_transfer":
        return CASH_TRANSFER_EXTERNAL_ID_CASES.get(external_id)
    if kind in ("transfer", "remittance_transfer"):
        return TRANSFER_NUMBER_CASES.get(phone_number)
    return REQUEST_NUMBER_CASES.get(phone_number)


def is_test_number(phone_number: str, *, kind: str = "request_to_pay", external_id: str = "") -> bool:
    return sandbox_case(phone_number, kind=kind, external_id=external_id) is not None


def settle_at_for(
    phone_number: str, created_at: datetime, timeout: float, *, approval_mode: str = "timer",
    kind: str = "request_to_pay", external_id: str = "",
) -> datetime | None:
    """When the worker is due to settle a payment created now; None means never (it expires).

    In `phone` approval mode only the payer settles money in; test values keep their
    outcomes, and money out never waits for a payer.
    """
    case = sandbox_case(phone_number, kind=kind, external_id=external_id)
    if case == DELAYED:
        return None
    if approval_mode == "phone" and case is None and kind not in MONEY_OUT_KINDS:
        return None
    if case == ONGOING:
        timeout *= 2
    return created_at + timedelta(seconds=timeout)


def decide(
    phone_number: str, *, rng: random.Random, success_rate: float, kind: str = "request_to_pay", external_id: str = ""
) -> Outcome:
    """Test values decide by themselves; anything else is a draw from the seeded rng (and
    then the ledger's funds check, when it settles)."""
    case = sandbox_case(phone_number, kind=kind, external_id=external_id)
    if case == ONGOING:
        return Outcome(SUCCESSFUL)
    if case is not None and case != DELAYED:
        return Outcome(FAILED, case)
    if rng.random() < success_rate:
        return Outcome(SUCCESSFUL)
    return Outcome(FAILED, rng.choice(RANDOM_FAILURE_REASONS))


# The same test numbers on MoMo's account-holder calls (`/accountholder/.../active`,
# `.../basicuserinfo`): what each one means there. Any other number is an active account.
ACCOUNT_NOT_FOUND = "46733123450"
ACCOUNT_NOT_ACTIVE = "46733123451"
ACCOUNT_HOLDER_ERRORS: dict[str, str] = {
    "46733123450": "PAYER_NOT_FOUND",
    "46733123452": "NOT_ALLOWED",
    "46733123453": "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "46733123454": "INTERNAL_PROCESSING_ERROR",
    "46733123455": "SERVICE_UNAVAILABLE",
}
