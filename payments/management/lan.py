"""LAN mode: the address other devices reach, and the settings that let them in."""

import io
import socket
from urllib.parse import urlsplit

import segno
from django.conf import settings

# TEST-NET-1 (RFC 5737): never routed. Connecting a UDP socket to it sends nothing; the
# kernel only picks the source address its default route would use.
PROBE = ("192.0.2.1", 9)


class NoNetworkAddress(Exception):
    pass


def lan_address() -> str:
    """This machine's address on the network its default route leaves by."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(PROBE)
            address = probe.getsockname()[0]
        except OSError as exc:
            raise NoNetworkAddress(f"no network route ({exc.strerror or exc})") from None
    if address.startswith("127.") or address == "0.0.0.0":
        raise NoNetworkAddress("this machine has no network address")
    return address


def parse_public_url(value: str) -> str:
    """`http://<host>:<port>` with nothing after it; ValueError in words otherwise."""
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{value!r} is not a URL like http://192.168.1.20:8000") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"{value!r} is not a URL like http://192.168.1.20:8000")
    return url


def advertise(public_url: str) -> None:
    """Build absolute links from `public_url` and let its host and origin in (this process)."""
    parts = urlsplit(public_url)
    settings.PUBLIC_URL = settings.SITE_URL = public_url
    if parts.hostname not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append(parts.hostname)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in settings.CSRF_TRUSTED_ORIGINS:
        settings.CSRF_TRUSTED_ORIGINS.append(origin)


def terminal_qr(url: str) -> str:
    """A QR code of `url` as text for the terminal, two modules per character row."""
    out = io.StringIO()
    segno.make(url, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()
