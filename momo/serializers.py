"""The MoMo wire shapes only the API answers with (a payment's own is payments/wire.py)."""

from decimal import Decimal

from payments.models import MomoApiUser
from payments.wire import amount_text

# What the basicuserinfo call answers for any number without a test case of its own.
SANDBOX_PERSON = {
    "sub": "0",
    "name": "Sand Box",
    "given_name": "Sand",
    "family_name": "Box",
    "birthdate": "1976-08-13",
    "locale": "sv_SE",
    "gender": "MALE",
    "updated_at": 1700000000,
}


def balance_json(total: Decimal, currency: str) -> dict[str, str]:
    return {"availableBalance": amount_text(total), "currency": currency}


def api_user_json(user: MomoApiUser) -> dict[str, str]:
    return {"providerCallbackHost": user.provider_callback_host, "targetEnvironment": user.target_environment}
