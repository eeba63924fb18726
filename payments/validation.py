"""Field rules shared by every input path: the checkout form, the REST API, the MoMo API,
the dashboard forms, the commands and the WebSocket consumers.

Each rule takes a raw value and returns the clean one or raises Django's
`ValidationError` with one sentence a person can act on; each channel translates that
into its own format (a form field error, a DRF field error, MoMo's `{"code","message"}`,
a one-line command error, a socket error).

Text: every string that is stored or shown is Unicode scalar values only: no lone
surrogates (they cannot be encoded as UTF-8, so a stored one breaks every later render),
no NUL or other control characters (PostgreSQL refuses NUL), no bidirectional controls
(U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C: they reorder what an operator reads).
They are refused, never silently escaped, so what is stored is what was sent.

Digits: where digits are meant (amounts, phone numbers, the dashboard's numbers) only
ASCII 0-9. Python's `Decimal`, `int` and `float` also read `١٠٠` as 100 and `1_000` as
1000; these rules do not.

Booking details (`clean_booking_details`, the exact rule):
- a JSON object (a dict), at most `BOOKING_MAX_KEYS` keys;
- each key a non-empty clean string (kept as sent, not stripped) of at most `BOOKING_KEY_MAX` characters;
- each value plain: a clean string (kept as sent) of at most `BOOKING_VALUE_MAX` characters, an integer
  within +/- 2**53 - 1 (what JavaScript reads exactly), a finite float, true/false or
  null. No nesting: a list or an object as a value is refused;
- at most `BOOKING_MAX_BYTES` bytes as compact UTF-8 JSON.
"""

import json
import math
import re
import unicodedata
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from payments import destinations

MAX_AMOUNT = Decimal("999999999999.99")
# ASCII digits, at most 12 before the point, at most 2 after (or none): `1_000.00`,
# `1e3`, ` 100 ` with a non-ASCII space, `١٠٠` do not match.
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_PHONE = re.compile(r"[0-9]{8,15}", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[ \-]")

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters (Unicode category Cc), surrogates, bidi controls.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(BIDI_CONTROLS)) + "]")
# Combining marks in a row: real scripts stack a few (Vietnamese 2, Hebrew points and
# cantillation 3-4); more only piles glyphs over the lines around them.
MAX_COMBINING_RUN = 6
BOOKING_MAX_KEYS = 20
BOOKING_KEY_MAX = 40
BOOKING_VALUE_MAX = 200
BOOKING_MAX_BYTES = 4096
JS_SAFE_INTEGER = 2**53 - 1
_SHOWN_IN_ERRORS = 24  # characters of a bad value quoted back in an error


def shown(value: object) -> str:
    """A bad value quoted back in an error: short, and escaped (repr) so it renders safely."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _SHOWN_IN_ERRORS:
        text = text[:_SHOWN_IN_ERRORS] + "…"
    return repr(text)  # repr escapes surrogates, controls and bidi characters


def _is_mark(ch: str) -> bool:
    return ch >= "\u0300" and unicodedata.category(ch) in ("Mn", "Me")


def _combining_run(value: str) -> int:
    """The longest run of combining marks (Mn, Me) in `value`: stacked ones draw outside their
    line ("Zalgo" text) and over whatever a page shows above and below."""
    if value.isascii():
        return 0
    longest = run = 0
    for ch in value:
        run = run + 1 if _is_mark(ch) else 0
        longest = max(longest, run)
    return longest


def _without_excess_marks(value: str) -> str:
    kept, run = [], 0
    for ch in value:
        run = run + 1 if _is_mark(ch) else 0
        if run <= MAX_COMBINING_RUN:
            kept.append(ch)
    return "".join(kept)


def text_problem(value: str) -> str | None:
    """What makes `value` unfit to store or show, in words; None when it is clean."""
    found = _UNSAFE.search(value)
    if found is None:
        if _combining_run(value) > MAX_COMBINING_RUN:
            return f"contains more than {MAX_COMBINING_RUN} combining marks in a row"
        return None
    ch = found.group()
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return "contains an invalid character (a lone UTF-16 surrogate)"
    if ch == "\x00":
        return "contains a NUL character"
    if ch in BIDI_CONTROLS:
        return f"contains a bidirectional control character (U+{code:04X})"
    return f"contains a control character (U+{code:04X})"


def shown_text(value: str) -> str:
    """A stored string as pages show it: anything `text_problem` refuses (in a row written
    before these rules) becomes U+FFFD, so it cannot break a render."""
    value = _UNSAFE.sub("\ufffd", value)
    if _combining_run(value) > MAX_COMBINING_RUN:
        value = _without_excess_marks(value)
    return value


def clean_text(
    value: object, *, label: str, max_length: int, required: bool = False, strip: bool = True
) -> str:
    """A single line of text (stripped unless told): at most `max_length` characters, nothing unsafe."""
    if not isinstance(value, str):
        raise ValidationError(f"{label} must be text.")
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"{label} {problem}; remove it and try again.")
    text = value.strip() if strip else value
    if required and not text:
        raise ValidationError(f"{label} is required.")
    if len(text) > max_length:
        raise ValidationError(f"{label} is longer than {max_length} characters.")
    return text


def clean_amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValidationError("Amount must be a number written as text, e.g. \"100.00\".")
    raw = str(value).strip()
    if raw.lower() in ("nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
        raise ValidationError("Amount must be more than 0.")
    if raw.startswith("-") and _AMOUNT.fullmatch(raw[1:]):
        raise ValidationError("Amount must be more than 0.")
    if not _AMOUNT.fullmatch(raw):
        raise ValidationError(
            f"Amount {shown(value)} is not a number: write ASCII digits 0-9 with an optional "
            "'.' and up to 2 decimals, e.g. 100.00."
        )
    amount = Decimal(raw)
    if amount <= 0:
        raise ValidationError("Amount must be more than 0.")
    if amount.as_tuple().exponent < -2:
        raise ValidationError("Amount can have at most 2 decimal places.")
    if amount > MAX_AMOUNT:
        raise ValidationError("Amount is too large.")
    return amount.quantize(Decimal("0.01"))


def clean_currency(value: object) -> str:
    code = str(value).strip().upper() if isinstance(value, str) else ""
    if code not in settings.PAYMENT_CURRENCIES:
        allowed = ", ".join(settings.PAYMENT_CURRENCIES)
        raise ValidationError(f"Currency {shown(value)} is not supported (use one of {allowed}).")
    return code


def clean_phone(value: object) -> str:
    """An MSISDN: 8-15 ASCII digits; a leading + and spaces or dashes are accepted on input."""
    raw = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    if not _PHONE.fullmatch(digits):
        raise ValidationError(
            f"Phone number {shown(value)} must be 8 to 15 digits (a leading + is fine). Use the digits 0-9."
        )
    return digits


def clean_external_id(value: object) -> str:
    return clean_text(value, label="External id", max_length=64)


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8}){0,4}", re.ASCII)


def clean_language(value: object) -> str:
    """A language tag (MoMo's `Language` header): `en`, `fr-CM`; empty for none."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return ""
    problem = text_problem(text)
    if problem:
        raise ValidationError(f"Language {problem}.")
    if len(text) > 35 or not _LANGUAGE_TAG.fullmatch(text):
        raise ValidationError("Language must be a language tag such as en or fr-CM (letters, digits, hyphens; at most 35).")
    return text


def clean_message(value: object) -> str:
    """A MoMo payer message or payee note: at most 160 characters, nothing unsafe."""
    return clean_text(value, label="A message", max_length=160)


_PARTY_CODE = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)


def clean_email_party(value: object) -> str:
    text = clean_text(value, label="An e-mail party", max_length=128, required=True)
    validate_email(text)
    return text


def clean_party_code(value: object) -> str:
    text = clean_text(value, label="A party code", max_length=64, required=True)
    if not _PARTY_CODE.fullmatch(text):
        raise ValidationError("A party code is 1 to 64 letters, digits, '.', '_' or '-'.")
    return text


def clean_callback_host(value: object) -> str:
    """providerCallbackHost: a host name; a full URL is tolerated and reduced to its host."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("providerCallbackHost is required: the host your callbacks go to.")
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"providerCallbackHost {problem}.")
    host = value.strip()
    if "://" in host:
        try:
            host = urlsplit(host).hostname or ""
        except ValueError:
            host = ""
    if not host or len(host) > 255 or re.search(r"[\s/?#@]", host) or _UNSAFE.search(host):
        raise ValidationError("providerCallbackHost must be a host name such as example.com.")
    never = destinations.never_problem(host)
    if never:
        raise ValidationError(f"providerCallbackHost: {never}.")
    return host.lower()


def clean_ascii_number(value: object, *, label: str) -> str:
    """A number typed into a form (`30`, `0.9`, `-1`), ASCII only: `١٠٠`, `1_000`, `1e3` refused.

    Returns the text for the form field's own parsing and range checks."""
    raw = str(value).strip() if value is not None else ""
    if raw and not re.fullmatch(r"[+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+", raw, re.ASCII):
        raise ValidationError(f"{label} must be a number written with digits 0-9, e.g. 30 or 0.9.")
    return raw


def _clean_plain_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > JS_SAFE_INTEGER:
            raise ValidationError(f"Booking detail {shown(key)} is a number too large (at most 2**53 - 1).")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"Booking detail {shown(key)} must be a finite number.")
        return value
    if isinstance(value, str):
        return clean_text(value, label=f"Booking detail {shown(key)}", max_length=BOOKING_VALUE_MAX, strip=False)
    raise ValidationError(
        f"Booking detail {shown(key)} must be text, a number, true/false or null "
        "(no lists or nested objects)."
    )


def clean_booking_details(value: object) -> dict[str, Any]:
    """A small flat JSON object of plain values (the exact rule is in the module docstring)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("Booking details must be a JSON object, e.g. {\"item\": \"Safari\"}.")
    if len(value) > BOOKING_MAX_KEYS:
        raise ValidationError(f"Booking details can have at most {BOOKING_MAX_KEYS} entries.")
    details: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValidationError("Booking details keys must be text.")
        name = clean_text(key, label="A booking details key", max_length=BOOKING_KEY_MAX, required=True, strip=False)
        details[name] = _clean_plain_value(name, item)
    size = len(json.dumps(details, ensure_ascii=False, separators=(",", ":")).encode())
    if size > BOOKING_MAX_BYTES:
        raise ValidationError(f"Booking details are {size} bytes as JSON; at most {BOOKING_MAX_BYTES} are allowed.")
    return details


def shown_booking_details(value: object) -> dict[str, Any]:
    """Booking details as the pages and pushes show them: a stored value that breaks the rule
    (a row written before the rule existed) shows as {} rather than breaking every render."""
    try:
        return clean_booking_details(value)
    except ValidationError:
        return {}


def booking_rows(details: dict[str, Any]) -> list[tuple[str, Any]]:
    """(key, value) pairs for templates: a key such as "items" can never shadow a method."""
    return list(details.items())


class AsciiNumberMixin:
    """For a Django form's IntegerField/FloatField: refuse `١٠٠`, `1_000`, `1e3` with the
    field's own "invalid" message, instead of letting int()/float() read them."""

    error_messages: dict[str, str]

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                clean_ascii_number(value, label="This")
            except ValidationError:
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return super().to_python(value)  # type: ignore[misc]


class AsciiIntegerField(AsciiNumberMixin, forms.IntegerField):
    pass


class AsciiFloatField(AsciiNumberMixin, forms.FloatField):
    pass


class AsciiDateField(forms.DateField):
    """strptime reads `٢٠٢٦-١٢-٢٤` as a date; a date typed here is ASCII."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not value.isascii():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)
