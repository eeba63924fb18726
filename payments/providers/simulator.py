"""The default provider: the settlement worker decides each outcome (payments/outcomes.py)."""

from datetime import datetime
from typing import Any

from payments import outcomes


def schedule(
    *, phone_number: str, now: datetime, timeout: float, approval_mode: str = "timer",
    kind: str = "request_to_pay", external_id: str = "",
) -> dict[str, Any]:
    settle_at = outcomes.settle_at_for(
        phone_number, now, timeout, approval_mode=approval_mode, kind=kind, external_id=external_id
    )
    return {"settle_at": settle_at, "next_check_at": None}


def health() -> str:
    return "ok"
