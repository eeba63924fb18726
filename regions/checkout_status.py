"""The checkout page's status (`#status` on /pay/<reference>/, pushed on /ws/payments/<reference>/)."""

from typing import Any

from payments import outcomes
from payments.selectors import payment_snapshot_by_reference

PARTIAL = "payments/pay.html#status"

read = payment_snapshot_by_reference  # the payment's snapshot, or None


def mask_phone(phone: str) -> str:
    return phone[:3] + "•" * max(0, len(phone) - 6) + phone[-3:]


def context(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Everything the status partial shows, derived from the snapshot alone."""
    return {
        "p": snapshot,
        "masked_phone": mask_phone(snapshot["phone_number"]),
        "reason_text": outcomes.reason_text(snapshot["reason"]),
    }
