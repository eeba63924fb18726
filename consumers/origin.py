"""The WebSocket origin check: scheme, host and port, against the allowed origins.

A browser page may open a socket only from an origin the server trusts: its own
(`scheme://Host` of the request, the Host in ALLOWED_HOSTS) or one listed in
CSRF_TRUSTED_ORIGINS. Channels' AllowedHostsOriginValidator compares host names only, so a
page on http://host:other-port or plain http beside https passed it.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _trusted(origin: Origin) -> bool:
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry  # CSRF_TRUSTED_ORIGINS' "https://*.example.com" form
        wanted = parse_origin(entry.replace("://*.", "://wildcard.", 1))
        if wanted is None:
            continue
        if not wildcard and wanted == origin:
            return True
        pattern = wanted[1].removeprefix("wildcard")
        if wildcard and wanted[0::2] == origin[0::2] and is_same_domain(origin[1], pattern):
            return True
    return False


def _secure(scope: dict, headers: dict[bytes, bytes]) -> bool:
    if scope.get("scheme") == "wss":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        return headers.get(name, b"").decode("latin1").split(",")[0].strip() == proxy[1]
    return False


def origin_allowed(scope: dict) -> bool:
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    origin = parse_origin(headers.get(b"origin", b"").decode("latin1"))
    if origin is None:
        return False
    if _trusted(origin):
        return True
    host = headers.get(b"host", b"").decode("latin1")
    domain, _port = split_domain_port(host)
    # Django's own rule for an empty ALLOWED_HOSTS under DEBUG.
    allowed = settings.ALLOWED_HOSTS or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    if not domain or not validate_host(domain, allowed):
        return False
    own = parse_origin(f"{'https' if _secure(scope, headers) else 'http'}://{host}")
    return own == origin


class OriginCheck:
    """ASGI middleware: a handshake from any other origin is refused (HTTP 403)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            await receive()  # websocket.connect
            await send({"type": "websocket.close"})
            return None
        return await self.app(scope, receive, send)
