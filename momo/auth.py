"""Who is calling: the subscription key, the API user's Basic credentials, the bearer token.

Tokens are signed (django.core.signing, keyed by SECRET_KEY), not stored: they survive a
restart and work in every process without a table. Each carries the API user, the product
that issued it (good only on that product's paths), its expiry and a fragment of the
user's current key hash, so a new API key retires the old tokens.
"""

import base64
import binascii
import hmac
import time
import uuid

from django.conf import settings
from django.core import signing
from django.http import HttpRequest

from momo.errors import (
    SUBSCRIPTION_INVALID,
    SUBSCRIPTION_MISSING,
    GatewayError,
    MomoError,
    TokenError,
)
from payments import generation, selectors, services
from payments.models import MomoApiUser

TOKEN_SALT = "livesettle.momo.token"
KEY_FRAGMENT = 12  # hex characters of the key hash a token is bound to
COLLECTION = "collection"


def subscription_key(request: HttpRequest) -> str:
    """The subscription key the request came with (checked by `check_subscription` first)."""
    return request.headers.get("Ocp-Apim-Subscription-Key", "").strip()


def product_keys(product: str | None) -> list[str]:
    """The keys good on `product`'s paths: the shared ones and that product's own; the
    provisioning paths (no product) take any product's key, as MTN's sandbox does."""
    products = [product] if product else list(settings.MOMO_PRODUCTS)
    keys = list(services.momo_subscription_keys())
    for name in products:
        keys.extend(services.momo_product_subscription_keys(name))
    return keys


def check_subscription(request: HttpRequest, product: str | None = None) -> None:
    offered = subscription_key(request)
    if not offered:
        raise SUBSCRIPTION_MISSING
    if not any(hmac.compare_digest(offered.encode(), key.encode()) for key in product_keys(product)):
        raise SUBSCRIPTION_INVALID


def parse_user_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        return None


def user_from_basic(request: HttpRequest) -> MomoApiUser:
    """The API user of `Authorization: Basic base64(apiUser:apiKey)`, or `invalid_client`."""
    invalid = TokenError(401, "invalid_client", "invalid_client")
    scheme, _, encoded = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        raise invalid
    try:
        user_part, _, api_key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid from None
    user_id = parse_user_id(user_part)
    user = selectors.momo_user(user_id) if user_id else None
    if user is None or not user.api_key_hash:
        raise invalid
    if not hmac.compare_digest(user.api_key_hash, services.momo_key_hash(api_key.strip())):
        raise invalid
    return user


def issue_token(user: MomoApiUser, product: str = COLLECTION) -> tuple[str, int]:
    """A token for one product: the product's paths take it, the others' answer 401."""
    expires_in = settings.MOMO_TOKEN_EXPIRES_IN
    payload = {"u": str(user.id), "k": user.api_key_hash[:KEY_FRAGMENT], "p": product, "e": time.time() + expires_in}
    return signing.dumps(payload, salt=TOKEN_SALT), expires_in


def _unauthorized(message: str) -> MomoError:
    return MomoError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


def _token_payload(request: HttpRequest, product: str) -> dict:
    get_one = f"Get one from POST /{product}/token/."
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(f"Access denied due to missing access token. {get_one}")
    try:
        payload = signing.loads(token.strip(), salt=TOKEN_SALT)
    except signing.BadSignature:
        raise _unauthorized("Access denied due to invalid access token.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), (int, float)):
        raise _unauthorized("Access denied due to invalid access token.")
    if payload["e"] <= time.time():
        raise _unauthorized(f"Access denied due to expired access token. {get_one}")
    # Tokens issued before products had their own carry no product: they were collection's.
    issued_for = payload.get("p", COLLECTION)
    if issued_for != product:
        raise _unauthorized(f"Access denied: this token was issued for {issued_for}, not {product}. {get_one}")
    return payload


def _bearer_user(user: MomoApiUser | None, payload: dict) -> MomoApiUser:
    if user is None or user.api_key_hash[:KEY_FRAGMENT] != payload.get("k"):
        raise _unauthorized("Access denied due to invalid access token (its API key was replaced).")
    return user


def _user_row(user_id: uuid.UUID | None, *, kept: bool = True) -> tuple[MomoApiUser | None, str | None]:
    """The API user's row: this process's copy (payments/generation.py) or the database's."""
    if user_id is None:
        return None, None
    if not kept:
        return selectors.momo_user(user_id), None
    return generation.kept(("momo_user", user_id), lambda: selectors.momo_user(user_id))


def bearer_caller(request: HttpRequest, product: str, bucket: str, per_second: int) -> tuple[MomoApiUser, str | None]:
    """The bearer token's API user, its call counted in the rate limit (a refused token's is
    not), and the generation its row was good for in that count's round trip.

    The row is this process's copy when the round trip finds the generation it was kept
    under; a copy that refuses the token, or a generation replaced since, makes the call
    read the row again and check the token again before it is counted: a new key retires
    the old tokens at the next call, in every process, as when every call read the row."""
    payload = _token_payload(request, product)
    user_id = parse_user_id(str(payload.get("u")))
    user, at = _user_row(user_id)
    if user is None or user.api_key_hash[:KEY_FRAGMENT] != payload.get("k"):
        user, at = _user_row(user_id, kept=False)  # the copy may be old: the database decides
    user = _bearer_user(user, payload)
    key = f"momo-rate:{bucket}:{user.id}:{int(time.time())}" if per_second > 0 else None
    count, now = generation.count_at(key, timeout=2, expected=at)
    if count is None:  # a write since the copy was read: read again, check again, count
        generation.observe(now)
        user = _bearer_user(_user_row(user_id)[0], payload)
        count, now = generation.count_at(key, timeout=2, expected=None)
    generation.observe(now)
    request.momo_user = user  # who called, a refused call too, for the inspector (inspector/rows.py)
    if key is not None and count > per_second:
        raise GatewayError(429, "", "Rate limit is exceeded. Try again in 1 seconds.", headers={"Retry-After": "1"})
    return user, now
