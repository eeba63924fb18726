"""Who is on the other end: loopback or not, and the real client address behind proxies.

Plain functions with no Django models, so the settings module can use them too.
"""

import ipaddress
from typing import Any


def is_loopback(host: str | None) -> bool:
    """True for a name or address only this machine reaches (`localhost`, 127.0.0.0/8, ::1)."""
    name = (host or "").strip().lower().strip("[]")
    if name in {"localhost", "testserver"} or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a real name, a wildcard (".example.com", "*") or 0.0.0.0: other devices


def client_ip(request: Any, trusted_proxies: int | None = None) -> str:
    """The client's address, trusting exactly `trusted_proxies` (TRUSTED_PROXY_COUNT) hops.

    Each trusted proxy appends the address it was reached from to X-Forwarded-For, so the
    real client is the N-th entry from the right; anything to its left was written by the
    client and is ignored. With no trusted proxy the header is ignored altogether.
    """
    if trusted_proxies is None:
        from django.conf import settings

        trusted_proxies = settings.TRUSTED_PROXY_COUNT
    meta = getattr(request, "META", {})
    remote = meta.get("REMOTE_ADDR", "") or ""
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if trusted_proxies <= 0 or not forwarded:
        return remote
    return forwarded[-min(trusted_proxies, len(forwarded))]
