"""Why a MoMo call was refused, in words, and what the client should do about it.

Built from the answer (status, MoMo code, message) and what the client sent, only for
refused calls. Each refusal has a stable `code`: MoMo's own (`INVALID_REFERENCE_ID`,
`invalid_client`, ...) or, for what MTN's gateway answers without one (`{"statusCode",
"message"}`), a name of its own here (`SUBSCRIPTION_KEY_MISSING`, `RATE_LIMITED`, ...).
"""

import uuid
from collections.abc import Mapping

from django.conf import settings

from inspector import redact

NEW_REFERENCE = "generate a new one with uuid.uuid4() (Python) or crypto.randomUUID() (JavaScript)"
SAME_REFERENCE = "retry with the same X-Reference-Id (a new one would be a second payment: a double charge in production)"

# Gateway answers ({"statusCode", "message"}), told apart by their message.
GATEWAY = [
    (401, "missing subscription key", "SUBSCRIPTION_KEY_MISSING",
     "No Ocp-Apim-Subscription-Key header was sent",
     "send your product subscription key in Ocp-Apim-Subscription-Key on every call, the token call included"),
    (401, "invalid subscription key", "SUBSCRIPTION_KEY_INVALID",
     "The Ocp-Apim-Subscription-Key is not a key of this server",
     "use this product's subscription key (MOMO_SUBSCRIPTION_KEY, or MOMO_<PRODUCT>_SUBSCRIPTION_KEY: `manage.py momo_credentials` prints them); a Collections key does not open Disbursements"),
    (429, "rate limit", "RATE_LIMITED",
     "Too many calls: more than this API user's calls per second (or this address's creates)",
     "wait the Retry-After seconds, then back off: at most {status_rate} status reads and {request_rate} other calls per second per API user"),
    (405, "method", "METHOD_NOT_ALLOWED", "This path does not take this method", "{message}"),
    (413, "larger than", "BODY_TOO_LARGE", "The body is too large", "keep the body under 4096 bytes; a request to pay is a few hundred"),
    (404, "resource not found", "ROUTE_NOT_FOUND",
     "MTN does not serve this path",
     "check the path against MTN's API: e.g. POST /collection/v1_0/requesttopay, GET /collection/v1_0/requesttopay/{{referenceId}}, POST /collection/token/"),
]

FIXES = {
    "RESOURCE_ALREADY_EXIST": "a retry of the same call may reuse its X-Reference-Id (the first one stands: read its status); a new payment needs a new X-Reference-Id: " + NEW_REFERENCE,
    "NOT_ALLOWED_TARGET_ENVIRONMENT": "send X-Target-Environment: sandbox, or an environment this server knows ({environments})",
    "INVALID_CALLBACK_URL_HOST": "X-Callback-Url's host must be the providerCallbackHost this API user was created with; or leave the header out",
    "INVALID_CURRENCY": "send the target environment's currency (sandbox takes EUR)",
    "INVALID_PAYER": 'send payer as {{"partyIdType": "MSISDN", "partyId": "46733123450"}} (digits only, with the country code)',
    "INVALID_AMOUNT": 'send amount as a positive number in a string, e.g. "100"',
    "INVALID_BODY": "send a JSON object body with Content-Type: application/json",
    "INVALID_CALLBACK_HOST": "providerCallbackHost is a host name only (no scheme, port or path), e.g. example.com",
    "INVALID_PARTY_ID_TYPE": "use msisdn, email or party_code in the path",
    "SERVICE_UNAVAILABLE": "a temporary failure: " + SAME_REFERENCE + ", after the Retry-After seconds",
    "NOT_ALLOWED": "only the subscription key that created this API user may give it a new API key: send that key",
    "invalid_client": "send Authorization: Basic base64(apiUserId:apiKey) with the API user's current key; a lost key is replaced with POST /v1_0/apiuser/{{id}}/apikey",
}
UNAUTHORIZED = [
    ("missing access token", "get one from the product's POST /<product>/token/ (e.g. /collection/token/) and send it as Authorization: Bearer <token>"),
    ("issued for", "each product issues its own tokens: fetch one from this product's POST /<product>/token/"),
    ("expired", "fetch a new token before expires_in runs out (reuse one token until then, do not fetch one per call)"),
    ("api key was replaced", "a new API key retires its old tokens: fetch a new token with the new key"),
    ("invalid access token", "send the access_token exactly as POST /collection/token/ answered it, after 'Bearer '"),
]


def _format(text: str, message: str) -> str:
    return text.format(
        message=message, status_rate=settings.MOMO_STATUS_RATE, request_rate=settings.MOMO_REQUEST_RATE,
        environments=", ".join(settings.MOMO_ENVIRONMENTS),
    )


def reference_problem(value: str | None) -> str:
    """Why an X-Reference-Id is refused, naming what was sent."""
    if not value or not value.strip():
        return "X-Reference-Id is missing"
    try:
        parsed = uuid.UUID(value.strip())
    except ValueError:
        return f"X-Reference-Id must be a UUID version 4; {value.strip()[:40]!r} is not a UUID"
    return f"X-Reference-Id must be a UUID version 4; this one is version {parsed.version}"


def gateway(status: int, message: str) -> tuple[str, str, str]:
    lowered = message.lower()
    for known_status, words, code, reason, fix in GATEWAY:
        if status == known_status and words in lowered:
            return code, reason, _format(fix, message)
    return f"HTTP_{status}", message or f"HTTP {status}", "see the message"


def basic_problem(headers: Mapping[str, str]) -> str:
    scheme, _, encoded = headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return "The token call needs Basic credentials; none were sent"
    user = redact.basic_user(encoded)
    if not user:
        return "The Basic credentials are not base64 of apiUserId:apiKey"
    return f"API user {user} does not exist here, or the API key is not its current one"


def product(status: int, code: str, message: str, headers: Mapping[str, str]) -> tuple[str, str]:
    """(reason, fix) of a refusal with a MoMo code."""
    if code == "INVALID_REFERENCE_ID":
        return reference_problem(headers.get("X-Reference-Id")), NEW_REFERENCE
    if code == "invalid_client":
        return basic_problem(headers), _format(FIXES[code], message)
    if code == "UNAUTHORIZED":
        lowered = message.lower()
        fix = next((f for words, f in UNAUTHORIZED if words in lowered), UNAUTHORIZED[-1][1])
        return message, fix
    if "(injected fault)" in message:
        return message, "an injected fault (dashboard, Callbacks panel): " + SAME_REFERENCE
    if code in FIXES:
        return message, _format(FIXES[code], message)
    if code == "RESOURCE_NOT_FOUND":
        return message, "use the X-Reference-Id of a request to pay (or the id of an API user) made with this API user, and that user's token"
    if status >= 500:
        return message, SAME_REFERENCE
    return message, "see the message"


def refusal(status: int, body: Mapping | None, headers: Mapping[str, str]) -> tuple[str, str, str]:
    """(code, reason, fix) of a refused call, from its answer's body and the request's headers."""
    body = body or {}
    message = str(body.get("message") or "")[:300]
    if "statusCode" in body or (not body.get("code") and not body.get("error")):
        if status >= 500 and not message:
            return f"HTTP_{status}", f"LiveSettle failed on this call (HTTP {status})", SAME_REFERENCE
        return gateway(status, message)
    code = str(body.get("code") or body.get("error"))[:48]
    reason, fix = product(status, code, message, headers)
    return code, reason[:400], fix[:400]
