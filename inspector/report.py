"""A report card per API user: what the inspector saw, judged against MTN's rules.

Each check answers pass / warn / fail with its evidence and the fix; docs/inspector.md
names the MTN rule each one comes from. Computed from the recorded calls only (at most
INSPECTOR_MAX_PER_USER of them: the newest).
"""

import json
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

from inspector.models import ApiCall

PASS, WARN, FAIL = "pass", "warn", "fail"
PRODUCTS = ("collection", "disbursement", "remittance")
SLOW_CALLBACK_MS = 1000.0
RETRY_WINDOW_SECONDS = 600  # a request to pay this soon after a 5xx, with the same body, is its retry


@dataclass
class Check:
    id: str
    title: str
    verdict: str
    evidence: str
    fix: str
    rule: str


def _inbound(calls: list[ApiCall]) -> list[ApiCall]:
    return [c for c in calls if c.direction == ApiCall.Direction.INBOUND]


def _is_token(call: ApiCall) -> bool:
    return call.operation.endswith("token")


def check_token_reuse(calls: list[ApiCall]) -> Check:
    inbound = _inbound(calls)
    tokens = [c for c in inbound if _is_token(c) and c.status == 200]
    product = [c for c in inbound if not _is_token(c) and c.product != "provisioning" and c.operation != "unknown"]
    lifetime = settings.MOMO_TOKEN_EXPIRES_IN
    span = (inbound[-1].at - inbound[0].at).total_seconds() if len(inbound) > 1 else 0.0
    # Each product issues its own tokens: one per product used, renewed as each expires.
    needed = max(1, len({c.product for c in product})) * (1 + int(span // max(lifetime * 0.9, 1)))
    evidence = f"{len(tokens)} token(s) fetched for {len(product)} product call(s) over {span:.0f} s (a token lasts {lifetime} s)"
    verdict = PASS
    if len(product) >= 3 and len(tokens) >= len(product) / 2:
        verdict = FAIL
    elif len(tokens) > needed + 1:
        verdict = WARN
    return Check(
        "token_reuse", "Token reused until it expires", verdict, evidence,
        "cache the access_token and reuse it for every call until shortly before expires_in runs out",
        "MTN: POST /collection/token/ returns an access_token valid for expires_in (3600) seconds; "
        "the token is to be reused until it expires, not requested per call.",
    )


def _max_per_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, now in enumerate(times):
        while now - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def _backs_off(times: list[float]) -> bool:
    """Do the gaps between reads of one payment grow (at least somewhat)?"""
    gaps = [b - a for a, b in zip(times, times[1:])]
    half = len(gaps) // 2
    early, late = sorted(gaps[:half])[half // 2], sorted(gaps[half:])[(len(gaps) - half) // 2]
    return late >= early * 1.5 or min(gaps) >= 5.0


def _is_status(call: ApiCall) -> bool:
    """A status read of any product: `status`, `transfer-status`, `deposit-status`, …"""
    return call.method == "GET" and (call.operation == "status" or call.operation.endswith("-status"))


def _creates_money(call: ApiCall) -> bool:
    """A request to pay, transfer, deposit, refund, …: a POST of a product with a reference."""
    return (call.method == "POST" and call.product in PRODUCTS and not _is_token(call)
            and call.operation not in ("deliverynotification", "unknown"))


def check_status_polling(calls: list[ApiCall]) -> Check:
    reads = [c for c in _inbound(calls) if _is_status(c)]
    limit = settings.MOMO_STATUS_RATE
    peak = _max_per_second([c.at.timestamp() for c in reads])
    by_payment: dict[str, list[float]] = defaultdict(list)
    for call in reads:
        by_payment[call.reference].append(call.at.timestamp())
    flat = [ref for ref, times in by_payment.items() if len(times) >= 6 and not _backs_off(times)]
    evidence = f"{len(reads)} status read(s) of {len(by_payment)} payment(s); at most {peak} in one second"
    verdict = PASS
    if peak > limit:
        verdict, evidence = FAIL, evidence + f" (MTN allows {limit})"
    elif flat:
        verdict, evidence = WARN, evidence + f"; polled at a steady pace without backing off: {', '.join(r[:8] for r in flat[:3])}"
    return Check(
        "status_polling", "Status polled at most 10/s, backing off", verdict, evidence,
        "wait for the callback; poll only as a fallback, starting after a few seconds and doubling the wait each time",
        f"MTN: the status call is rate limited per API user ({limit} per second here, MOMO_STATUS_RATE; beyond it "
        "the gateway answers 429); MTN recommends the callback, with polling as a backed-off fallback.",
    )


def _payment_key(call: ApiCall) -> tuple | None:
    try:
        body = json.loads(call.request_body)
        party = body.get("payer") or body.get("payee") or {}
        return (str(body.get("amount")), str(body.get("currency")), str(party.get("partyId")), str(body.get("externalId")))
    except (ValueError, AttributeError, TypeError):
        return None


def check_retry_reference(calls: list[ApiCall]) -> Check:
    creates = [c for c in _inbound(calls) if _creates_money(c)]
    safe, doubled = 0, []
    for index, failed in enumerate(creates):
        if failed.status is None or failed.status < 500 or _payment_key(failed) is None:
            continue
        retry = next((c for c in creates[index + 1:] if c.operation == failed.operation and _payment_key(c) == _payment_key(failed)), None)
        if retry is None or (retry.at - failed.at).total_seconds() > RETRY_WINDOW_SECONDS:
            continue
        if retry.reference == failed.reference:
            safe += 1
        else:
            doubled.append(f"{failed.reference[:8]} -> {retry.reference[:8]}")
    if doubled:
        verdict, evidence = FAIL, f"{len(doubled)} retry(ies) after a 5xx with a new X-Reference-Id: {', '.join(doubled[:3])}"
    else:
        verdict = PASS
        evidence = f"{safe} retry(ies) after a 5xx reused the X-Reference-Id" if safe else "no retry after a 5xx seen"
    return Check(
        "retry_reference", "Retries after a 5xx reuse the X-Reference-Id", verdict, evidence,
        "retry a request to pay that got a 5xx or no answer with the SAME X-Reference-Id (a 409 then means the first one arrived); "
        "a new one asks for a second payment: a double charge in production",
        "MTN: X-Reference-Id identifies the request to pay (idempotency key); a second request with the same id is refused "
        "with 409 RESOURCE_ALREADY_EXIST, a new id is a new payment.",
    )


def check_callbacks(calls: list[ApiCall]) -> Check:
    attempts = [c for c in calls if c.direction == ApiCall.Direction.CALLBACK]
    failed = [c for c in attempts if c.status is None or not 200 <= c.status < 300]
    slow = [c for c in attempts if c.latency_ms >= SLOW_CALLBACK_MS]
    answers = Counter(str(c.status or "no answer") for c in attempts)
    evidence = f"{len(attempts)} callback attempt(s): " + (", ".join(f"{n}× {s}" for s, n in answers.most_common()) or "none")
    verdict = PASS
    if failed:
        verdict = FAIL
    elif slow:
        verdict, evidence = WARN, evidence + f"; {len(slow)} took over {SLOW_CALLBACK_MS:.0f} ms"
    return Check(
        "callbacks", "Callbacks answered 2xx, quickly", verdict, evidence,
        "answer the callback with 200 at once and process it afterwards; treat a repeated callback as already handled",
        "MTN: the callback is a PUT/POST to X-Callback-Url on the providerCallbackHost; anything but 2xx is treated as "
        "not delivered and retried.",
    )


def check_refusals(calls: list[ApiCall]) -> Check:
    # The client's own mistakes (4xx); a 5xx is the server's, judged by the retry check.
    refused = [c for c in _inbound(calls) if c.status and 400 <= c.status < 500 and c.operation != "unknown"]
    causes = Counter(c.code or f"HTTP_{c.status}" for c in refused)
    evidence = ", ".join(f"{n}× {code}" for code, n in causes.most_common()) or "no call refused"
    fixes = {c.code: c.fix for c in refused}
    fix = " | ".join(f"{code}: {fixes[code]}" for code, _ in causes.most_common(3)) or "nothing to fix"
    return Check(
        "refusals", "Refused calls, by cause", WARN if refused else PASS, evidence, fix,
        "MTN: every refusal carries a code (MTN's error reference); each cause here is explained on the inspector page.",
    )


def check_unknown_paths(calls: list[ApiCall]) -> Check:
    unknown = [c for c in _inbound(calls) if c.operation == "unknown"]
    paths = Counter(f"{c.method} {c.path.split('?')[0]}" for c in unknown)
    evidence = ", ".join(f"{n}× {p}" for p, n in paths.most_common(5)) or "every call was on a path MTN serves"
    return Check(
        "unknown_paths", "Only paths MTN serves", FAIL if unknown else PASS, evidence,
        "use the paths of MTN's API exactly (e.g. /collection/v1_0/requesttopay, /collection/token/)",
        "MTN's gateway answers 404 'Resource not found' for any path its products do not define.",
    )


CHECKS = (check_token_reuse, check_status_polling, check_retry_reference, check_callbacks, check_refusals, check_unknown_paths)


def card(api_user: Any) -> dict[str, Any] | None:
    """The report card of one API user, or None for an id the inspector never saw."""
    try:
        user = uuid.UUID(str(api_user))
    except ValueError:
        return None
    calls = list(ApiCall.objects.filter(api_user=user).order_by("id"))
    if not calls:
        return None
    checks = [check(calls) for check in CHECKS]
    return {
        "api_user": str(user),
        "calls": len(calls),
        "first": calls[0].at.isoformat(),
        "last": calls[-1].at.isoformat(),
        "checks": [asdict(c) for c in checks],
        "summary": dict(Counter(c.verdict for c in checks)),
    }


def users_seen(limit: int = 50) -> list[str]:
    """API users with recorded calls, the most recently active first."""
    seen = ApiCall.objects.filter(api_user__isnull=False).order_by("-id").values_list("api_user", flat=True)[:5000]
    return list(dict.fromkeys(str(u) for u in seen))[:limit]
