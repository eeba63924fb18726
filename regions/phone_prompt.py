"""The payer's phone prompt (`#phone-prompt` on /p/<token>/, pushed on /ws/phone/<token>/).

Rendered from a snapshot alone: its forms post to paths relative to the page, so the
region never carries the approval token and renders the same for every copy of the page.
"""

from typing import Any

from django.conf import settings

from decimal import Decimal

from payments import accounts, outcomes, selectors
from payments.selectors import mask_phone, payment_by_approval_token, payment_snapshot

PAGE = "payments/phone.html"
PARTIAL = f"{PAGE}#prompt"
# Said on a checkout or phone page whose payment a reset removed (`demo.reset`).
RESET = "payments/reset.html"


def read(token: str) -> dict[str, Any] | None:
    """The snapshot of the payment this token opens, or None."""
    payment = payment_by_approval_token(token)
    return payment_snapshot(payment) if payment else None


FEE = Decimal("0.00")  # a MoMo payment costs its payer nothing


def balance_after(snapshot: dict[str, Any]) -> str | None:
    """The payer's wallet balance once this payment is paid (the ledger's wallet, or the
    balance it opens with at first sight); None for anything but a waiting money-in payment.

    Read by the HTTP views only: a pushed prompt renders from its snapshot alone, and the
    waiting prompt is on the page before any push."""
    if snapshot["status"] != "processing" or snapshot.get("direction", "in") != "in":
        return None
    party, currency = snapshot["phone_number"], snapshot["currency"]
    balance = selectors.wallet_balance(party, currency)
    if balance is None:
        balance = accounts.starting_balance(accounts.wallet_key(party, currency))
    return f"{balance - Decimal(snapshot['amount']) - FEE:.2f}"


def context(snapshot: dict[str, Any], *, message: str = "", level: str = "", balance: str | None = None) -> dict[str, Any]:
    """`balance`: the payer's balance after paying (`balance_after`), when known."""
    return {
        "p": snapshot,
        "merchant": settings.MERCHANT_NAME,
        "masked_phone": mask_phone(snapshot["phone_number"]),
        "fee": f"{FEE:.2f}",
        "balance_after": balance,
        "reason_text": outcomes.reason_text(snapshot["reason"]) if snapshot["reason"] else "",
        "message": message,
        "level": level,
    }
