"""The payment providers: who decides how a payment ends. The one interface to them.

- `simulator` (default): the settlement worker decides at `settle_at` (the sandbox test
  numbers, then a seeded draw), and an operator may force any payment.
- `momo`: an upstream MoMo Collections API (MTN, or another LiveSettle) decides. The payment
  is submitted with request to pay and settled from the upstream's status, read after its
  callback or on the durable `next_check_at` schedule (`payments/upstream.py`).

`PAYMENT_PROVIDER` picks the provider of new payments; each payment keeps its own in
`Payment.provider`. Pages, consumers and services know only the functions here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from payments.providers import momo, simulator

SIMULATOR = "simulator"
MOMO = "momo"


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    # True: the outcome comes from outside, so the settlement worker and operators leave it be.
    decides_upstream: bool
    # The new payment's schedule fields (`settle_at`, `next_check_at`).
    schedule: Callable[..., dict[str, Any]]
    # "ok", or "down: <reason in words>".
    health: Callable[[], str]


PROVIDERS: dict[str, Provider] = {
    SIMULATOR: Provider(SIMULATOR, "Simulator", False, simulator.schedule, simulator.health),
    MOMO: Provider(MOMO, "MoMo upstream", True, momo.schedule, momo.health),
}


def active() -> Provider:
    return PROVIDERS[settings.PAYMENT_PROVIDER]


def of(name: str) -> Provider:
    return PROVIDERS.get(name, PROVIDERS[SIMULATOR])


def schedule(name: str, *, phone_number: str, now: datetime, timeout: float, **case: str) -> dict[str, Any]:
    """`case`: approval_mode, and the payment's kind and external_id (test values by kind)."""
    return of(name).schedule(phone_number=phone_number, now=now, timeout=timeout, **case)


def forceable(name: str) -> bool:
    """Operators force simulator payments; an upstream's only with MOMO_ALLOW_FORCE (tests)."""
    return not of(name).decides_upstream or settings.MOMO_ALLOW_FORCE


def status() -> dict[str, Any]:
    """The active provider and its health, for /healthz and the dashboard."""
    provider = active()
    detail = momo.upstream_host() if provider.name == MOMO else ""
    return {
        "name": provider.name,
        "label": provider.label,
        "detail": detail,
        "health": provider.health(),
        "forceable": forceable(provider.name),
    }


def describe() -> str:
    """One line for a start banner: who settles, and whether the upstream takes our credentials."""
    current = status()
    if not current["detail"]:
        return current["label"].lower()
    return f"{current['label']} at {current['detail']} ({current['health']})"
