"""What a MoMo client sends, checked the way MoMo checks it, into plain values for the services.

Every refusal is a MomoError, raised before anything is written: 400 for a malformed call,
and, as MTN answers them, 500 for a target environment that is not allowed, a currency
that is not the account's and a callback host that does not match.
"""

import json
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest

from momo.errors import GatewayError, MomoError, bad_request
from payments import validation
from payments.models import MomoApiUser, Payment
from payments.wire import amount_text

MAX_BODY = 4096  # bytes; a request to pay is a few hundred
MAX_MESSAGE = 160
_PARTY_CODE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_CALLBACK_URL = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def reference_id(value: str | None) -> uuid.UUID:
    """`X-Reference-Id`: a UUID version 4, as MoMo requires."""
    if not value or not value.strip():
        raise bad_request("INVALID_REFERENCE_ID", "X-Reference-Id is missing: send a new UUID v4.")
    try:
        reference = uuid.UUID(value.strip())
    except ValueError:
        raise bad_request("INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID v4.") from None
    if reference.version != 4 or reference.variant != uuid.RFC_4122:
        raise bad_request("INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID version 4.")
    return reference


def json_body(request: HttpRequest, *, required: bool) -> Any:
    """The body as JSON; `Content-Length: 0`, `{}` and `null` are all "no body"."""
    if len(request.body) > MAX_BODY:
        raise GatewayError(413, "", f"The request body is larger than {MAX_BODY} bytes.")
    raw = request.body.strip()
    if not raw:
        if required:
            raise bad_request("INVALID_BODY", "The body must be a JSON object.")
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise bad_request("INVALID_BODY", "The body is not valid JSON.") from None


def safe_text(value: str, name: str) -> str:
    """The shared text rule (no surrogates, NUL, control or bidi characters), MoMo-shaped."""
    problem = validation.text_problem(value)
    if problem:
        raise bad_request("INVALID_BODY", f"{name} {problem}.")
    return value


def target_environment(request: HttpRequest, user: MomoApiUser) -> str:
    """`X-Target-Environment`, or the API user's own when a client leaves it out."""
    environment = request.headers.get("X-Target-Environment", "").strip() or user.target_environment
    if environment not in settings.MOMO_ENVIRONMENTS:
        known = ", ".join(settings.MOMO_ENVIRONMENTS)
        raise MomoError(
            500, "NOT_ALLOWED_TARGET_ENVIRONMENT", f"Target environment {environment[:40]!r} is not one of {known}."
        )
    return environment


def callback_url(value: str | None, user: MomoApiUser) -> str:
    """`X-Callback-Url`: optional; its host must be the API user's providerCallbackHost."""
    if value is None or not value.strip():
        return ""
    url = safe_text(value, "X-Callback-Url").strip()
    wrong_host = MomoError(
        500, "INVALID_CALLBACK_URL_HOST",
        "Callback URL does not match the configured value: X-Callback-Url must be an http(s) URL on the "
        f"API user's providerCallbackHost ({user.provider_callback_host}).",
    )
    if len(url) > MAX_CALLBACK_URL or _CONTROL.search(url):
        raise wrong_host
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise wrong_host from None
    if parts.scheme not in ("http", "https") or host != user.provider_callback_host.lower():
        raise wrong_host
    if "@" in parts.netloc:  # userinfo would go out as `Authorization: Basic`
        raise bad_request("INVALID_CALLBACK_URL_HOST", "X-Callback-Url must not carry a user name or password.")
    return url


def callback_host(value: Any) -> str:
    """providerCallbackHost, by the shared rule (payments.validation), MoMo-shaped."""
    if isinstance(value, str):
        safe_text(value, "providerCallbackHost")
    try:
        return validation.clean_callback_host(value)
    except ValidationError as exc:
        raise bad_request("INVALID_CALLBACK_HOST", exc.messages[0]) from None


def _text(body: dict[str, Any], name: str, limit: int | None = None) -> str:
    """A string (or a number sent for one). A payment's own fields are checked by
    payment_create; `limit` bounds the wire-only ones (a cash transfer's KYC) here."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise bad_request("INVALID_BODY", f"{name} must be a string.")
    value = str(value).strip()
    if limit is not None:
        safe_text(value, name)
        if len(value) > limit:
            raise bad_request("INVALID_BODY", f"{name} must be at most {limit} characters.")
    return value


def _amount(value: Any) -> str:
    """Only the shape here; the amount's rule is payment_create's (MOMO_CODES maps its error)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise bad_request("INVALID_AMOUNT", "amount must be a number in a string, e.g. \"100\".")
    return str(value)


def _party(value: Any, field: str, *, alias: bool = False) -> tuple[str, str]:
    """`payer` or `payee`: (partyIdType, partyId); a payee may also be an ALIAS."""
    code = f"INVALID_{field.upper()}"
    types = [*Payment.PartyIdType.values, *(["ALIAS"] if alias else [])]
    if not isinstance(value, dict):
        raise bad_request(code, f"{field} must be an object: {{\"partyIdType\": \"MSISDN\", \"partyId\": \"...\"}}.")
    kind = value.get("partyIdType")
    party = value.get("partyId")
    kind = kind.strip().upper() if isinstance(kind, str) else ""
    if kind not in types:
        raise bad_request(code, f"{field}.partyIdType must be {', '.join(types[:-1])} or {types[-1]}.")
    if isinstance(party, int) and not isinstance(party, bool):
        party = str(party)
    if not isinstance(party, str) or not party.strip():
        raise bad_request(code, f"{field}.partyId is required.")
    party = party.strip()
    problem = validation.text_problem(party)
    if problem:
        raise bad_request(code, f"{field}.partyId {problem}.")
    try:
        if kind == Payment.PartyIdType.MSISDN:
            return kind, validation.clean_phone(party)
        if kind == Payment.PartyIdType.EMAIL and len(party) <= 128:
            validate_email(party)
            return kind, party
    except ValidationError:
        pass
    if kind in (Payment.PartyIdType.PARTY_CODE, "ALIAS") and _PARTY_CODE.fullmatch(party):
        return kind, party
    raise bad_request(code, f"{field}.partyId is not a valid {kind}.")


# A refusal of payment_create's rules, by field, as MoMo words it: (code, field name on the wire).
MOMO_CODES = {
    "amount": ("INVALID_AMOUNT", "amount"),
    "currency": ("INVALID_CURRENCY", "currency"),
    "phone_number": ("INVALID_PAYER", "payer.partyId"),
    "party_id_type": ("INVALID_PAYER", "payer.partyIdType"),
    "external_id": ("INVALID_BODY", "externalId"),
    "payer_message": ("INVALID_BODY", "payerMessage"),
    "payee_note": ("INVALID_BODY", "payeeNote"),
}


def refusal(field: str, message: str) -> MomoError:
    """MoMo's error for a value the payment's own rules refused."""
    code, name = MOMO_CODES.get(field, ("INVALID_BODY", field))
    return bad_request(code, f"{name}: {message}")


def _currency(body: dict[str, Any], environment: str) -> str:
    currency = body.get("currency")
    expected = settings.MOMO_ENVIRONMENTS[environment]
    if not isinstance(currency, str) or currency.strip().upper() != expected or expected not in settings.PAYMENT_CURRENCIES:
        raise MomoError(500, "INVALID_CURRENCY", f"Target environment {environment} takes currency {expected}.")
    return expected


def _object(body: Any, fields: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("INVALID_BODY", f"The body must be a JSON object with {fields}.")
    return body


def _common(body: dict[str, Any], currency: str) -> dict[str, Any]:
    """What every write call's body has besides its currency (checked first) and its party."""
    return {
        "amount": _amount(body.get("amount")),
        "currency": currency,
        "external_id": _text(body, "externalId"),
        "payer_message": _text(body, "payerMessage"),
        "payee_note": _text(body, "payeeNote"),
    }


def request_to_pay(body: Any, environment: str) -> dict[str, Any]:
    """The fields `payment_create` takes, from a request-to-pay (or request-to-withdraw) body."""
    body = _object(body, "amount, currency and payer")
    currency = _currency(body, environment)
    party_id_type, party_id = _party(body.get("payer"), "payer")
    return {**_common(body, currency), "party_id_type": party_id_type, "phone_number": party_id}


def transfer(body: Any, environment: str) -> dict[str, Any]:
    """A transfer or deposit body: its party is the `payee`. One public client sends a
    deposit's party as `payer`: without a `payee`, that party is the payee."""
    body = _object(body, "amount, currency and payee")
    currency = _currency(body, environment)
    party = body.get("payee") if "payee" in body or "payer" not in body else body.get("payer")
    party_id_type, party_id = _party(party, "payee", alias=True)
    return {**_common(body, currency), "party_id_type": party_id_type, "phone_number": party_id}


def refund(body: Any, environment: str) -> tuple[uuid.UUID, dict[str, Any]]:
    """A refund body: (referenceIdToRefund, the other fields); its party is the refunded payer."""
    body = _object(body, "amount, currency and referenceIdToRefund")
    fields = _common(body, _currency(body, environment))
    refunded = body.get("referenceIdToRefund")
    try:
        return uuid.UUID(refunded.strip()), fields
    except (AttributeError, ValueError):
        raise bad_request("INVALID_BODY", "referenceIdToRefund must be the X-Reference-Id (a UUID) of the request to pay to refund.") from None


ID_TYPES = ("CPFA", "SRSA", "NRIN", "OTHR", "DRLC", "PASS", "SOCS", "AREG", "IDCD", "EMID")
# The sender's KYC on a cash transfer, echoed by its status call. `orginatingCountry` is
# MTN's own spelling; some clients send `originatingCountry`: either is kept as sent.
KYC_FIELDS = (
    "orginatingCountry", "originatingCountry", "originalAmount", "originalCurrency", "payerIdentificationType",
    "payerIdentificationNumber", "payerIdentity", "payerFirstName", "payerSurName", "payerLanguageCode",
    "payerEmail", "payerMsisdn", "payerGender",
)
MAX_KYC = 128


def cash_transfer(body: Any, environment: str) -> dict[str, Any]:
    """A cash transfer: a transfer's fields, and the sender's KYC (`wire_fields`)."""
    fields = transfer(body, environment)
    kyc = {name: _text(body, name, MAX_KYC) for name in KYC_FIELDS if body.get(name) is not None}
    if kyc.get("payerIdentificationType", ID_TYPES[0]).upper() not in ID_TYPES:
        raise bad_request("INVALID_BODY", f"payerIdentificationType must be one of {', '.join(ID_TYPES)}.")
    if "originalAmount" in kyc:
        try:
            kyc["originalAmount"] = amount_text(validation.clean_amount(kyc["originalAmount"]))
        except ValidationError as exc:
            raise bad_request("INVALID_AMOUNT", f"originalAmount: {exc.messages[0]}") from None
    return {**fields, "wire_fields": kyc}


def notification_message(request: HttpRequest) -> str:
    """deliverynotification: the `notificationMessage` header and/or body field (header wins)."""
    message = request.headers.get("notificationMessage", "").strip()
    body = json_body(request, required=False)
    if not message and isinstance(body, dict) and isinstance(body.get("notificationMessage"), str):
        message = body["notificationMessage"].strip()
    if not message:
        raise bad_request("INVALID_BODY", "Send notificationMessage as a header or in the body.")
    safe_text(message, "notificationMessage")
    if len(message) > MAX_MESSAGE:
        raise bad_request("INVALID_BODY", f"notificationMessage must be at most {MAX_MESSAGE} characters.")
    if "\x00" in message:
        raise bad_request("INVALID_BODY", "notificationMessage must not contain NUL characters.")
    return message


def language(request: HttpRequest) -> str:
    """deliverynotification's optional `Language` header, by the shared rule."""
    try:
        return validation.clean_language(request.headers.get("Language", ""))
    except ValidationError as exc:
        raise bad_request("INVALID_BODY", exc.messages[0]) from None


def currency_code(value: str) -> str:
    code = value.strip().upper()
    if code not in set(settings.MOMO_ENVIRONMENTS.values()):
        raise MomoError(500, "INVALID_CURRENCY", f"Currency {value[:8]!r} is not a currency of this account.")
    return code
