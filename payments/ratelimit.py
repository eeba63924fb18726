"""Limits on creating payments, one count per client shared by every create path.

Counted in Django's cache: Redis when REDIS_URL is set, so every server process adds to the
same count (a per-process count is no limit behind two Daphnes). A fixed window with an
atomic `incr`, so concurrent requests on several processes cannot lose a hit.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from payments.network import client_ip

logger = logging.getLogger("payments.ratelimit")
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str) -> Rate:
    """`60/min`, `10/s`, `1000/hour`, `5/day` (DRF's spelling)."""
    count, _, period = text.partition("/")
    return Rate(count=int(count), seconds=PERIODS[period.strip().lower()[:1]])


def hit(scope: str, ident: str, rate: Rate) -> int | None:
    """Count one request of `ident`; the seconds to wait when it is over `rate`, else None."""
    now = time.time()
    key = f"ratelimit:{scope}:{ident}:{int(now // rate.seconds)}"
    try:
        count = window_count(key, timeout=rate.seconds + 1)
    except Exception as exc:  # noqa: BLE001 - an unreachable cache must not stop payments
        logger.warning("rate limit not counted (%s: %s)", type(exc).__name__, exc)
        return None
    if count <= rate.count:
        return None
    return max(1, int(rate.seconds - now % rate.seconds))


def window_count(key: str, *, timeout: int) -> int:
    """Count one hit on a fixed window's key (kept `timeout` seconds); the count so far.

    On Redis one round trip (dashboard/cache.py); on another cache Django's add + incr."""
    counter = getattr(cache, "window_count", None)
    if counter is not None:
        return counter(key, timeout)
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # the window's key expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def creator_of(request: Any) -> str | None:
    """Who a create is counted against: the user when signed in (staff: nobody), else the address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return None if user.is_staff else f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def create_wait(request: Any) -> int | None:
    """Count a create on any path (API, checkout form, MoMo); seconds to wait when over."""
    ident = creator_of(request)
    if ident is None:
        return None
    return hit("payment_create", ident, parse_rate(settings.PAYMENT_CREATE_RATE))
