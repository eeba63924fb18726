"""The payer's phone prompt (`#phone-prompt` on /p/<token>/, pushed on /ws/phone/<token>/).

Rendered from a snapshot alone: its forms post to paths relative to the page, so the
region never carries the approval token and renders the same for every copy of the page.
"""

from typing import Any

from django.conf import settings

from payments import outcomes
from payments.selectors import payment_by_approval_token, payment_snapshot

PAGE = "payments/phone.html"
PARTIAL = f"{PAGE}#prompt"
# Said on a checkout or phone page whose payment a reset removed (`demo.reset`).
RESET = "payments/reset.html"


def read(token: str) -> dict[str, Any] | None:
    """The snapshot of the payment this token opens, or None."""
    payment = payment_by_approval_token(token)
    return payment_snapshot(payment) if payment else None


def context(snapshot: dict[str, Any], *, message: str = "", level: str = "") -> dict[str, Any]:
    return {
        "p": snapshot,
        "merchant": settings.MERCHANT_NAME,
        "reason_text": outcomes.reason_text(snapshot["reason"]) if snapshot["reason"] else "",
        "message": message,
        "level": level,
    }
