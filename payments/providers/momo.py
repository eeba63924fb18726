"""The `momo` provider's client: LiveSettle calling an upstream MoMo Collections API.

The same code talks to MTN's sandbox, MTN's production or another LiveSettle: only
`MOMO_UPSTREAM_URL` (and the credentials) change. Wire facts: shared/MOMO.md.

Each call ends one of three ways, and the caller (payments/upstream.py) acts on which:
- an answer (accepted, a status),
- `UpstreamRefused`: a definite no for this payment (its `code` becomes the reason),
- `UpstreamUnavailable`: no definite answer (network error, timeout, 5xx, 429, bad
  credentials); the call is retried later with the same X-Reference-Id, which is what
  makes a retried request to pay safe (a 409 on the retry means the first one arrived).

One token per process, shared by every thread: fetched under a lock, refreshed before it
expires (`TokenCache`), dropped when the upstream says it is no longer valid.
"""

import base64
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from payments import calls

logger = logging.getLogger("payments.upstream")

# 500s that are MoMo's definite answers, not outages (MOMO.md, "Request to pay").
DEFINITE_500_CODES = frozenset(
    {
        "NOT_ALLOWED",
        "NOT_ALLOWED_TARGET_ENVIRONMENT",
        "INVALID_CALLBACK_URL_HOST",
        "INVALID_CURRENCY",
        "PAYER_NOT_FOUND",
        "PAYEE_NOT_ALLOWED_TO_RECEIVE",
    }
)
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
_TRANSACTION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
FAILED_FOR_HEALTH_SECONDS = 10.0  # health reports a failed token fetch this long without asking again


class UpstreamUnavailable(Exception):
    """No definite answer: retry later, with the same reference."""


class UpstreamRefused(Exception):
    """A definite refusal of this payment; `code` is the upstream's reason code."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


class CredentialsRefused(UpstreamUnavailable):
    """The upstream refused the subscription key, the API user or the API key."""


# MoMo's final statuses as LiveSettle's.
FINAL_STATUSES = {"SUCCESSFUL": "successful", "FAILED": "failed"}


@dataclass(frozen=True)
class UpstreamStatus:
    status: str  # "PENDING", "SUCCESSFUL" or "FAILED"
    reason: str = ""
    financial_transaction_id: str = ""


def schedule(*, phone_number: str, now: datetime, timeout: float, **_: Any) -> dict[str, Any]:
    """Never settled by the simulator; submitted upstream by a worker at once."""
    return {"settle_at": None, "next_check_at": now}


def upstream_host() -> str:
    return urlsplit(settings.MOMO_UPSTREAM_URL).netloc


# --- HTTP ----------------------------------------------------------------------------------

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http() -> httpx.Client:
    """One connection pool per process (httpx's Client may be shared between threads)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                headers={"User-Agent": "LiveSettle-momo-client"},
            )
        return _client


def _url(path: str) -> str:
    return settings.MOMO_UPSTREAM_URL + path


def _send(method: str, path: str, **kwargs: Any) -> httpx.Response:
    started = time.monotonic()
    response, error = None, ""
    try:
        response = http().request(method, _url(path), timeout=settings.MOMO_UPSTREAM_TIMEOUT, **kwargs)
        return response
    except httpx.TimeoutException as exc:
        error = f"the upstream did not answer within {settings.MOMO_UPSTREAM_TIMEOUT:g} s"
        raise UpstreamUnavailable(error) from exc
    except httpx.HTTPError as exc:
        error = f"the upstream is unreachable ({type(exc).__name__})"
        raise UpstreamUnavailable(error) from exc
    finally:
        _report(method, path, kwargs, response, error, time.monotonic() - started)


def _report(method: str, path: str, kwargs: dict[str, Any], response: httpx.Response | None, error: str, seconds: float) -> None:
    """The call, to the integration inspector's stream (payments/calls.py redacts nothing:
    the listener does)."""
    headers = kwargs.get("headers") or {}
    body = kwargs.get("content") or (json.dumps(kwargs["json"]) if "json" in kwargs else "")
    calls.outbound_report(
        direction="upstream", operation=_operation(path), method=method, url=_url(path),
        status=response.status_code if response is not None else None, latency_ms=seconds * 1000,
        reference=headers.get("X-Reference-Id") or path.rstrip("/").rpartition("/")[2]
        if "requesttopay" in path or "/refund" in path else "",
        request_headers=headers, request_body=body,
        response_body=response.text[:4096] if response is not None else "", error=error,
    )


def _operation(path: str) -> str:
    if path.endswith("/token/"):
        return "token"
    if path.endswith("/requesttopay") or path.endswith("/refund"):
        return path.rpartition("/")[2]
    return "status"


def _error_code(response: httpx.Response) -> tuple[str, str]:
    """MoMo's `{"code", "message"}` (or the auth errors' other shapes), tolerantly."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP_{response.status_code}", response.text[:120]
    code = str(body.get("code") or body.get("error") or "").upper()
    message = str(body.get("message") or body.get("error_description") or "")[:200]
    if not _CODE.fullmatch(code):
        code = f"HTTP_{response.status_code}"
    return code, message


# --- token ---------------------------------------------------------------------------------


class TokenCache:
    """The process's bearer token for one product (a MoMo token is good only for the product
    that issued it): one fetch at a time, reused until shortly before it expires."""

    def __init__(self, product: str = "collection") -> None:
        self.product = product
        self._lock = threading.Lock()
        self._token = ""
        self._refresh_at = 0.0  # time.monotonic() after which a new token is fetched
        self._failure: CredentialsRefused | UpstreamUnavailable | None = None
        self._failed_at = 0.0
        self.fetches = 0

    def get(self, *, reuse_failure: bool = False) -> str:
        with self._lock:
            now = time.monotonic()
            if self._token and now < self._refresh_at:
                return self._token
            if reuse_failure and self._failure and now - self._failed_at < FAILED_FOR_HEALTH_SECONDS:
                raise self._failure
            try:
                self._token, lifetime = self._fetch()
            except UpstreamUnavailable as exc:
                self._token, self._failure, self._failed_at = "", exc, time.monotonic()
                raise
            # MTN's clients refresh ~10 minutes before a 3600 s token ends; a short-lived
            # token (a test's) is refreshed at 5/6 of its life.
            self._refresh_at = time.monotonic() + lifetime - min(600.0, lifetime / 6)
            if self._failure:
                logger.info("upstream token obtained again; provider ok")
            self._failure = None
            return self._token

    def invalidate(self, token: str) -> None:
        """The upstream refused `token`: the next call fetches a new one (once, for everyone)."""
        with self._lock:
            if self._token == token:
                self._token = ""

    def _fetch(self) -> tuple[str, float]:
        self.fetches += 1
        basic = base64.b64encode(f"{settings.MOMO_UPSTREAM_API_USER}:{settings.MOMO_UPSTREAM_API_KEY}".encode())
        response = _send(
            "POST",
            f"/{self.product}/token/",
            headers={
                "Authorization": f"Basic {basic.decode()}",
                "Ocp-Apim-Subscription-Key": settings.MOMO_UPSTREAM_SUBSCRIPTION_KEY,
            },
            content=b"",
        )
        if response.status_code == 200:
            try:
                body = response.json()
                token, lifetime = str(body["access_token"]), float(body.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError):
                raise UpstreamUnavailable("the upstream's token answer is not MoMo's JSON") from None
            if token and lifetime > 0:
                return token, lifetime
            raise UpstreamUnavailable("the upstream's token answer is not MoMo's JSON")
        if response.status_code in (401, 403) or (response.status_code == 500 and "login_failed" in response.text):
            raise CredentialsRefused(_credentials_problem(response))
        raise UpstreamUnavailable(f"the upstream answered {response.status_code} to the token request")


def _credentials_problem(response: httpx.Response) -> str:
    text = response.text.lower()
    if "subscription key" in text:
        what = "MOMO_UPSTREAM_SUBSCRIPTION_KEY"
    else:
        what = "MOMO_UPSTREAM_API_USER / MOMO_UPSTREAM_API_KEY"
    return f"the upstream refused the credentials ({response.status_code}); check {what}"


tokens = TokenCache()
disbursement_tokens = TokenCache("disbursement")  # refunds of upstream payments


def _product_call(
    method: str, path: str, *, headers: dict[str, str] | None = None, cache: TokenCache | None = None, **kwargs: Any
) -> httpx.Response:
    """A product call with that product's shared token; a refused token is replaced once."""
    cache = cache or tokens
    for attempt in (1, 2):
        token = cache.get()
        response = _send(
            method,
            path,
            headers={
                "Authorization": f"Bearer {token}",
                "Ocp-Apim-Subscription-Key": settings.MOMO_UPSTREAM_SUBSCRIPTION_KEY,
                "X-Target-Environment": settings.MOMO_UPSTREAM_ENVIRONMENT,
                **(headers or {}),
            },
            **kwargs,
        )
        if response.status_code != 401:
            return response
        cache.invalidate(token)
    raise CredentialsRefused(_credentials_problem(response))


# --- Collections ---------------------------------------------------------------------------


def _amount(amount: Decimal) -> str:
    return str(int(amount)) if amount == amount.to_integral_value() else f"{amount:f}"


def request_to_pay(
    *,
    reference: str,
    amount: Decimal,
    currency: str,
    phone_number: str,
    external_id: str,
    callback_url: str,
    party_id_type: str = "MSISDN",
    payer_message: str = "",
    payee_note: str = "",
) -> None:
    """Ask the upstream to collect; returns when it accepted (202, or 409: an earlier try arrived)."""
    body = {
        "amount": _amount(amount),
        "currency": currency,
        "externalId": external_id,
        "payer": {"partyIdType": party_id_type, "partyId": phone_number},
        "payerMessage": payer_message or "LiveSettle payment",
        "payeeNote": payee_note or f"LiveSettle {reference}",
    }
    headers = {"X-Reference-Id": reference, "X-Callback-Url": callback_url}
    _submit(_product_call("POST", "/collection/v1_0/requesttopay", headers=headers, json=body))


def refund(
    *, reference: str, amount: Decimal, currency: str, external_id: str, reference_to_refund: str,
    callback_url: str, payer_message: str = "", payee_note: str = "",
) -> None:
    """Ask the upstream to refund one of its requests to pay (Disbursement refund v1)."""
    body = {
        "amount": _amount(amount),
        "currency": currency,
        "externalId": external_id,
        "payerMessage": payer_message or "LiveSettle refund",
        "payeeNote": payee_note or f"LiveSettle {reference}",
        "referenceIdToRefund": reference_to_refund,
    }
    headers = {"X-Reference-Id": reference, "X-Callback-Url": callback_url}
    _submit(_product_call("POST", "/disbursement/v1_0/refund", headers=headers, json=body, cache=disbursement_tokens))


def _submit(response: httpx.Response) -> None:
    """A write call's answer: accepted (202, or 409: an earlier try arrived), else why not."""
    if response.status_code in (202, 409):
        return
    code, message = _error_code(response)
    if response.status_code >= 500 and not (response.status_code == 500 and code in DEFINITE_500_CODES):
        raise UpstreamUnavailable(f"the upstream answered {response.status_code} {code}")
    if response.status_code == 429:
        raise UpstreamUnavailable("the upstream asked us to slow down (429)")
    raise UpstreamRefused(code, message)


class UnknownUpstream(UpstreamUnavailable):
    """The upstream does not know the reference (404): the request to pay never arrived."""


def request_status(reference: str) -> UpstreamStatus:
    return _status(_product_call("GET", f"/collection/v1_0/requesttopay/{reference}"))


def refund_status(reference: str) -> UpstreamStatus:
    return _status(_product_call("GET", f"/disbursement/v1_0/refund/{reference}", cache=disbursement_tokens))


def _status(response: httpx.Response) -> UpstreamStatus:
    if response.status_code == 404:
        raise UnknownUpstream("the upstream does not know this payment (404)")
    if response.status_code != 200:
        code, _ = _error_code(response)
        raise UpstreamUnavailable(f"the upstream answered {response.status_code} {code} to the status call")
    try:
        body = response.json()
        status = body["status"]
    except (ValueError, KeyError, TypeError):
        raise UpstreamUnavailable("the upstream's status answer is not MoMo's JSON") from None
    if status == "SUCCESSFUL":
        transaction_id = str(body.get("financialTransactionId") or "")
        return UpstreamStatus(status, "", transaction_id if _TRANSACTION_ID.fullmatch(transaction_id) else "")
    if status == "FAILED":
        return UpstreamStatus(status, _reason_code(body.get("reason")))
    if status == "PENDING":
        return UpstreamStatus(status)
    raise UpstreamUnavailable(f"the upstream's status {str(status)[:40]!r} is not one of MoMo's")


def _reason_code(reason: Any) -> str:
    """`reason` is a bare string on the live sandbox, an object in MTN's swagger: take either."""
    if isinstance(reason, dict):
        reason = reason.get("code")
    code = str(reason or "").upper()
    return code if _CODE.fullmatch(code) else "INTERNAL_PROCESSING_ERROR"


def health() -> str:
    """'ok' when the upstream hands out a token for our credentials, else 'down: why'."""
    try:
        tokens.get(reuse_failure=True)
    except UpstreamUnavailable as exc:
        return f"down: {exc}"
    return "ok"
