"""A recorded call's fields, from a MoMo request and its answer (inbound) or from what the
domain reports of its own calls (outbound). Everything secret is redacted here."""

import json
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from inspector import explain, redact

PRODUCTS = ("collection", "disbursement", "remittance")
# Every path MTN's gateway owns: the products, and provisioning under /v1_0 (or a later /v2_0).
MOMO_PATH = re.compile(r"^/(?:collection|disbursement|remittance|v\d+_\d+)(?:/|$)")
TOKEN_SALT = "livesettle.momo.token"  # momo/auth.py's, to name the user of a refused token


def is_momo_path(path: str) -> bool:
    return MOMO_PATH.match(path) is not None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        return None


def classify(request: HttpRequest) -> tuple[str, str]:
    """(product, operation): the path's first segment (`v1_0` is provisioning) and the
    URL name without its `momo-` (`unknown` for paths MTN does not serve)."""
    first = request.path.strip("/").partition("/")[0]
    product = first if first in PRODUCTS else "provisioning"
    match = request.resolver_match
    name = match.url_name if match is not None else ""
    if not name or not name.startswith("momo-") or name == "momo-unknown":
        return product, "unknown"
    return product, name.removeprefix("momo-")[:40]


def _kwargs(request: HttpRequest) -> dict[str, Any]:
    match = request.resolver_match
    return match.kwargs if match is not None else {}


def api_user_of(request: HttpRequest, operation: str, status: int) -> uuid.UUID | None:
    """The API user a call was made as, when it can be told (not a secret: an id)."""
    user = getattr(request, "momo_user", None)
    if user is not None:
        return user.pk
    kwargs = _kwargs(request)
    if "user_id" in kwargs:
        return _uuid(kwargs["user_id"])
    if operation == "apiuser" and status == 201:
        return _uuid(request.headers.get("X-Reference-Id"))
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "basic":
        return _uuid(redact.basic_user(credentials))
    if scheme.lower() == "bearer" and status == 401:
        try:  # a refused token still names its user when it is genuine (an expired one)
            payload = signing.loads(credentials.strip(), salt=TOKEN_SALT)
        except signing.BadSignature:
            return None
        return _uuid(payload.get("u")) if isinstance(payload, dict) else None
    return None


def reference_of(request: HttpRequest, product: str) -> str:
    """The payment a call creates (its X-Reference-Id) or names in its path."""
    named = _kwargs(request).get("reference")
    if named is None and product in PRODUCTS and request.method == "POST":
        named = request.headers.get("X-Reference-Id")
    return (named or "").strip()[:64]


def _request_body(request: HttpRequest, limit: int) -> str:
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > 16 * limit:
            return f"[{request.META['CONTENT_LENGTH']} bytes, not kept]"
        return redact.body(request.body, limit)
    except Exception:  # a body read as a stream, a Content-Length that is not a number
        return ""


def _answer(response: HttpResponse, limit: int) -> tuple[str, Any]:
    """(the bounded, redacted body text, its JSON when it is a small JSON object)."""
    if getattr(response, "streaming", False):
        return "[streamed]", None
    content = response.content
    parsed = None
    if content[:1] == b"{" and len(content) <= limit:
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
    return redact.body(content, limit), parsed


def inbound(request: HttpRequest, response: HttpResponse, seconds: float) -> dict[str, Any]:
    limit = settings.INSPECTOR_BODY_LIMIT
    product, operation = classify(request)
    status = response.status_code
    response_body, parsed = _answer(response, limit)
    code = reason = fix = ""
    if status >= 400:
        if operation == "unknown" and status == 404:
            code, reason, fix = explain.gateway(404, "Resource not found")
        else:
            code, reason, fix = explain.refusal(status, parsed if isinstance(parsed, dict) else None, request.headers)
    return {
        "at": timezone.now(),
        "direction": "in",
        "api_user": api_user_of(request, operation, status),
        "product": product,
        "operation": operation,
        "method": (request.method or "")[:8],
        "path": redact.path(request.get_full_path())[:300],
        "host": request.META.get("HTTP_HOST", "")[:120],
        "status": status,
        "code": code,
        "reason": reason,
        "fix": fix,
        "latency_ms": seconds * 1000,
        "user_agent": request.headers.get("User-Agent", "")[:200],
        "request_headers": redact.headers(request.headers),
        "request_body": _request_body(request, limit),
        "response_body": response_body,
        "reference": reference_of(request, product),
    }


OUTBOUND_FIXES = {
    "callback": "answer a callback with 200 (or 204) within a second, and do the work after answering; "
                "MoMo retries what is not answered 2xx",
    "upstream": "the upstream MoMo refused or did not answer; LiveSettle retries with the same X-Reference-Id",
}


def outbound(call: dict[str, Any]) -> dict[str, Any]:
    """A call the domain made (payments/calls.py): a callback attempt, an upstream call."""
    limit = settings.INSPECTOR_BODY_LIMIT
    direction = call.get("direction") or "callback"
    parts = urlsplit(str(call.get("url") or ""))
    status = call.get("status")
    error = str(call.get("error") or "")[:300]
    ok = status is not None and 200 <= status < 300
    code = "" if ok else ("NO_ANSWER" if status is None else f"HTTP_{status}")
    reason = "" if ok else (error or f"The receiver answered {status}")
    return {
        "at": timezone.now(),
        "direction": direction,
        "api_user": _uuid(call.get("api_user")) if call.get("api_user") else None,
        "product": "collection",
        "operation": str(call.get("operation") or direction)[:40],
        "method": str(call.get("method") or "POST")[:8],
        "path": (parts.path + (f"?{parts.query}" if parts.query else ""))[:300] or "/",
        "host": f"{parts.scheme}://{parts.netloc}"[:120] if parts.netloc else "",
        "status": status,
        "code": code,
        "reason": reason,
        "fix": "" if ok else OUTBOUND_FIXES.get(direction, ""),
        "latency_ms": float(call.get("latency_ms") or 0.0),
        "user_agent": "",
        "request_headers": redact.headers(call.get("request_headers") or {}),
        "request_body": redact.body(call.get("request_body") or "", limit),
        "response_body": redact.body(call.get("response_body") or "", limit),
        "reference": str(call.get("reference") or "")[:64],
    }
