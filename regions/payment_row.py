"""A dashboard row (`#row-<reference>`), one per payment, the latest `ROWS` on the page."""

from typing import Any

from django.template.loader import render_to_string

from payments import outcomes
from payments.filters import Filter
from payments.models import Payment
from payments.selectors import dashboard_snapshot

PARTIAL = "dashboard/dashboard.html#row"
INSERT = "dashboard/dashboard.html#row_insert"  # a socket frame: `row` on top of the page
DELETE = "dashboard/dashboard.html#row_delete"  # a socket frame: row `reference` off the page
ROWS = 50  # rows on the page; older ones drop off the bottom as new ones arrive


def read(view: Filter, stats: dict[str, Any] | None = None, *, details: bool = False) -> dict[str, Any]:
    """The page's rows with its counters and settings, read at once (`dashboard_snapshot`).

    `details`: the booking details too (the JSON socket's payment JSON carries them; a row
    never shows them, so the page does not read them)."""
    return dashboard_snapshot(view, rows=ROWS, stats=stats, details=details)


def context(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "p": snapshot,
        "processing": snapshot["status"] == Payment.Status.PROCESSING,
        "reason_text": outcomes.reason_text(snapshot["reason"]),
    }


def render(snapshot: dict[str, Any], *, oob: bool = False) -> str:
    """`oob`: an htmx out-of-band swap by id, for HTTP answers (socket messages swap by id anyway)."""
    return render_to_string(PARTIAL, {**context(snapshot), "oob": oob})
