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


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str = ""


def reason_text(code: str) -> str:
    """A reason code in words ("" for none)."""
    return REASONS.get(code, code.replace("_", " ").capitalize()) if code else ""


def is_test_number(phone_number: str) -> bool:
    return phone_number in TEST_NUMBER_FAILURES or phone_number in (ONGOING_NUMBER, PENDING_NUMBER)


def settle_at_for(
    phone_number: str, created_at: datetime, timeout: float, *, approval_mode: str = "timer"
) -> datetime | None:
    """When the worker is due to settle a payment created now; None means never (it expires).

    In `phone` approval mode only the payer settles a payment; test numbers keep their outcomes.
    """
    if phone_number == PENDING_NUMBER:
        return None
    if approval_mode == "phone" and not is_test_number(phone_number):
        return None
    if phone_number == ONGOING_NUMBER:
        timeout *= 2
    return created_at + timedelta(seconds=timeout)


def decide(phone_number: str, *, rng: random.Random, success_rate: float) -> Outcome:
    """Test numbers decide by themselves; anything else is a draw from the seeded rng."""
    if phone_number in TEST_NUMBER_FAILURES:
        return Outcome(FAILED, TEST_NUMBER_FAILURES[phone_number])
    if phone_number == ONGOING_NUMBER:
        return Outcome(SUCCESSFUL)
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
