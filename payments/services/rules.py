"""The rules, each written once: live-setting ranges and the operator's outcome/reason pair.

Every service that takes one of these values calls its check here; forms, serializers and
flags only translate the `InvalidValue` into their own message.
"""

import math
from typing import Any

from payments import outcomes
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
