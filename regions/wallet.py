"""The payer's wallet on the phone page (`#wallet` on /p/<token>/, pushed on /ws/phone/<token>/):
its balance in the payment's currency, and money arriving (a refund, a transfer) as it lands."""

from typing import Any

from django.conf import settings

from payments.selectors import wallet_balance

PARTIAL = "payments/phone.html#wallet"


def read(snapshot: dict[str, Any]) -> dict[str, str] | None:
    """The wallet of the payment's party in its currency (an account snapshot's fields), or None."""
    balance = wallet_balance(snapshot["phone_number"], snapshot["currency"])
    return None if balance is None else {"currency": snapshot["currency"], "balance": f"{balance:.2f}"}


def context(wallet: dict[str, str] | None, payment: dict[str, Any] | None = None) -> dict[str, Any]:
    """`payment`: the one that just moved the wallet; money out to this party is money received."""
    received = payment is not None and payment.get("direction") == "out"
    return {
        "wallet": wallet,
        "received": f"{payment['amount']} {payment['currency']}" if received else "",
        "merchant": settings.MERCHANT_NAME,
    }
