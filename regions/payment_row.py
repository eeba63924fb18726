"""A dashboard row (`#row-<reference>`), one per payment, the latest `ROWS` on the page."""

from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from payments import outcomes
from payments.filters import Filter
from payments.models import Payment
from payments.selectors import dashboard_snapshot, mask_phone

PARTIAL = "dashboard/dashboard.html#row"
INSERT = "dashboard/dashboard.html#row_insert"  # a socket frame: `row` on top of the page
DELETE = "dashboard/dashboard.html#row_delete"  # a socket frame: row `reference` off the page
ROWS = 50  # rows on the page; older ones drop off the bottom as new ones arrive


def read(view: Filter, stats: dict[str, Any] | None = None, *, details: bool = False) -> dict[str, Any]:
    """The page's rows with its counters and settings, read at once (`dashboard_snapshot`).

    `details`: the booking details too (the JSON socket's payment JSON carries them; a row
    never shows them, so the page does not read them)."""
    return dashboard_snapshot(view, rows=ROWS, stats=stats, details=details)


KIND_LABELS = dict(Payment.Kind.choices)


def context(snapshot: dict[str, Any], *, room: bool = False) -> dict[str, Any]:
    """`room`: for a screen the audience reads (the projector), the phone number masked."""
    kind = snapshot.get("kind", Payment.Kind.REQUEST_TO_PAY)
    refunded = Decimal(snapshot.get("refunded_amount") or "0")
    successful = snapshot["status"] == Payment.Status.SUCCESSFUL
    return {
        "p": snapshot,
        "phone": mask_phone(snapshot["phone_number"]) if room else snapshot["phone_number"],
        "processing": snapshot["status"] == Payment.Status.PROCESSING,
        "reason_text": outcomes.reason_text(snapshot["reason"]),
        "settled_time": snapshot["settled_at"][11:19] if snapshot.get("settled_at") else "",
        "kind_label": KIND_LABELS.get(kind, kind).lower(),
        "refunded": refunded > 0,
        "fully_refunded": refunded >= Decimal(snapshot["amount"]),
        # A successful request to pay with something left to give back.
        "refundable": successful and kind == Payment.Kind.REQUEST_TO_PAY and refunded < Decimal(snapshot["amount"]),
    }


def room_context(snapshot: dict[str, Any]) -> dict[str, Any]:
    return context(snapshot, room=True)


def render(snapshot: dict[str, Any], *, oob: bool = False, room: bool = False) -> str:
    """`oob`: an htmx out-of-band swap by id, for HTTP answers (socket messages swap by id anyway)."""
    return render_to_string(PARTIAL, {**context(snapshot, room=room), "oob": oob})
