"""The dashboard's callbacks panel: one row per delivery (`#callback-<id>`), the latest
`CALLBACKS_SHOWN`, pushed in `callbacks.updated` messages (payments/events.py)."""

from typing import Any

from django.template.loader import render_to_string

from payments.models import CallbackDelivery
from payments.selectors import CALLBACKS_SHOWN  # noqa: F401 (the panel's size, for its users)

PARTIAL = "dashboard/dashboard.html#callback"
INSERT = "dashboard/dashboard.html#callback_insert"  # a socket frame: `row` on top of the panel
DELETE = "dashboard/dashboard.html#callback_delete"  # a socket frame: row `id` off the panel


def context(snapshot: dict[str, Any]) -> dict[str, Any]:
    """pending (not tried yet), failing (pending after a failed attempt), delivered, failed
    (gave up: schedule spent or too old) or dropped (fault injection)."""
    failing = snapshot["status"] == CallbackDelivery.Status.PENDING and snapshot["attempts"] > 0
    return {"c": snapshot, "failing": failing, "label": "failing" if failing else snapshot["status"]}


def render(snapshot: dict[str, Any], *, oob: bool = False) -> str:
    return render_to_string(PARTIAL, {**context(snapshot), "oob": oob})

