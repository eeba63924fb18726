"""The checkout page's status (`#status` on /pay/<reference>/, pushed on /ws/payments/<reference>/)."""

from decimal import Decimal
from typing import Any

from payments import outcomes, validation
from payments.selectors import mask_phone, payment_snapshot_by_reference, payment_snapshots_by_reference

PARTIAL = "payments/pay.html#status"

read = payment_snapshot_by_reference  # the payment's snapshot, or None
read_many = payment_snapshots_by_reference  # several, by reference, in one query


def context(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Everything the status partial shows, derived from the snapshot alone."""
    return {
        "p": snapshot,
        "masked_phone": mask_phone(snapshot["phone_number"]),
        # Pairs, not the dict: a key such as "items" must not shadow dict.items in a template.
        "booking": validation.booking_rows(snapshot.get("booking_details") or {}),
        "reason_text": outcomes.reason_text(snapshot["reason"]),
        # Its refunds, pushed as a new version of the payment when one settles.
        "refunded": Decimal(snapshot.get("refunded_amount") or "0") > 0,
        "fully_refunded": Decimal(snapshot.get("refunded_amount") or "0") >= Decimal(snapshot["amount"]),
    }
