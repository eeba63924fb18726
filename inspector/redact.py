"""Secrets out before anything is stored: keys and tokens to their last 4 characters, Basic
credentials never (only the API user id they name, which is not a secret)."""

import base64
import binascii
import re
from collections.abc import Mapping
from urllib.parse import unquote

HEADERS_KEPT = 40
HEADER_VALUE_MAX = 300
DROPPED = {"cookie"}  # the operator's session, if a browser called a MoMo path
SECRET_WORDS = ("key", "token", "secret", "signature", "password", "authorization", "credential")
_SECRET_FIELD = re.compile(
    r'("(?:apiKey|api_key|access_token|refresh_token|token|password|secret|signing_secret)"\s*:\s*")([^"]*)(")',
    re.IGNORECASE,
)


def tail(secret: str) -> str:
    """`…abcd`: enough to tell two keys apart, never enough to use one."""
    secret = secret.strip()
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"


def basic_user(value: str) -> str:
    """The API user id a Basic header names (its key is never read here), or ""."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
    return decoded.partition(":")[0][:64]


def authorization(value: str) -> str:
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() == "bearer":
        return f"Bearer {tail(credentials)}"
    if scheme.lower() == "basic":
        user = basic_user(credentials)
        return f"Basic [redacted; API user {user}]" if user else "Basic [redacted]"
    return "[redacted]"


def header_value(name: str, value: str) -> str:
    lowered = name.lower()
    if lowered == "authorization":
        return authorization(value)
    if any(word in lowered for word in SECRET_WORDS):
        return tail(value)
    return value[:HEADER_VALUE_MAX]


def headers(raw: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for name, value in raw.items():
        if name.lower() in DROPPED:
            continue
        kept[name[:80]] = header_value(name, str(value))
        if len(kept) >= HEADERS_KEPT:
            break
    return kept


def path(full_path: str) -> str:
    """A path with its query string's secret values (Azure's `subscription-key=`, a
    `token=`) cut to their last 4 characters."""
    base, mark, query = full_path.partition("?")
    if not mark:
        return full_path
    parts = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        secret = any(word in name.lower() for word in SECRET_WORDS)
        parts.append(f"{name}={tail(unquote(value))}" if equals and secret else pair)
    return f"{base}?{'&'.join(parts)}"


def body(raw: bytes | str, limit: int) -> str:
    """At most `limit` characters of a body, its secret fields (apiKey, access_token, …)
    cut to their last 4 characters."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    # Redacted before the cut, on twice the kept length: a secret cut in half at the
    # first bound is past the second one.
    text = text[: 2 * limit]
    if '"' in text:
        text = _SECRET_FIELD.sub(lambda m: m.group(1) + tail(m.group(2)) + m.group(3), text)
    return text[:limit].replace("\x00", "\\u0000")
