"""Field rules shared by the checkout form, the API and the commands."""

import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_AMOUNT = Decimal("999999999999.99")
_PHONE = re.compile(r"\d{8,15}")


def clean_amount(value: object) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"Amount {value!r} is not a number.") from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError("Amount must be more than 0.")
    if amount.as_tuple().exponent < -2:
        raise ValidationError("Amount can have at most 2 decimal places.")
    if amount > MAX_AMOUNT:
        raise ValidationError("Amount is too large.")
    return amount.quantize(Decimal("0.01"))


def clean_currency(value: object) -> str:
    code = str(value).strip().upper()
    if code not in settings.PAYMENT_CURRENCIES:
        allowed = ", ".join(settings.PAYMENT_CURRENCIES)
        raise ValidationError(f"Currency {value!r} is not supported (use one of {allowed}).")
    return code


def clean_phone(value: object) -> str:
    """An MSISDN: 8-15 digits; a leading + and spaces or dashes are accepted on input."""
    raw = str(value).strip()
    digits = re.sub(r"[\s-]", "", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    if not _PHONE.fullmatch(digits):
        raise ValidationError(f"Phone number {raw!r} must be 8 to 15 digits (a leading + is fine).")
    return digits
