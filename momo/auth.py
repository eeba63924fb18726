"""Who is calling: the subscription key, the API user's Basic credentials, the bearer token.

Tokens are signed (django.core.signing, keyed by SECRET_KEY), not stored: they survive a
restart and work in every process without a table. Each carries the API user, its expiry
and a fragment of the user's current key hash, so a new API key retires the old tokens.
"""

import base64
import binascii
import hmac
import time
import uuid

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest

from payments import services
from payments.models import MomoApiUser
from momo.errors import SUBSCRIPTION_INVALID, SUBSCRIPTION_MISSING, GatewayError, MomoError, TokenError

TOKEN_SALT = "livesettle.momo.token"
KEY_FRAGMENT = 12  # hex characters of the key hash a token is bound to


def subscription_key(request: HttpRequest) -> str:
    """The subscription key the request came with (checked by `check_subscription` first)."""
    return request.headers.get("Ocp-Apim-Subscription-Key", "").strip()


def check_subscription(request: HttpRequest) -> None:
    offered = subscription_key(request)
    if not offered:
        raise SUBSCRIPTION_MISSING
    if not any(hmac.compare_digest(offered.encode(), key.encode()) for key in services.momo_subscription_keys()):
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
    user = MomoApiUser.objects.filter(id=user_id).first() if user_id else None
    if user is None or not user.api_key_hash:
        raise invalid
    if not hmac.compare_digest(user.api_key_hash, services.momo_key_hash(api_key.strip())):
        raise invalid
    return user


def issue_token(user: MomoApiUser) -> tuple[str, int]:
    expires_in = settings.MOMO_TOKEN_EXPIRES_IN
    payload = {"u": str(user.id), "k": user.api_key_hash[:KEY_FRAGMENT], "e": time.time() + expires_in}
    return signing.dumps(payload, salt=TOKEN_SALT), expires_in


def _unauthorized(message: str) -> MomoError:
    return MomoError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


def user_from_bearer(request: HttpRequest) -> MomoApiUser:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Access denied due to missing access token. Get one from POST /collection/token/.")
    try:
        payload = signing.loads(token.strip(), salt=TOKEN_SALT)
    except signing.BadSignature:
        raise _unauthorized("Access denied due to invalid access token.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), (int, float)):
        raise _unauthorized("Access denied due to invalid access token.")
    if payload["e"] <= time.time():
        raise _unauthorized("Access denied due to expired access token. Get a new one from POST /collection/token/.")
    user = MomoApiUser.objects.filter(id=parse_user_id(str(payload.get("u")))).first()
    if user is None or user.api_key_hash[:KEY_FRAGMENT] != payload.get("k"):
        raise _unauthorized("Access denied due to invalid access token (its API key was replaced).")
    return user


def check_rate(user: MomoApiUser, bucket: str, per_second: int) -> None:
    """A fixed one-second window per API user and bucket, counted in the shared cache."""
    if per_second <= 0:
        return
    window = int(time.time())
    key = f"momo-rate:{bucket}:{user.id}:{window}"
    cache.add(key, 0, timeout=2)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=2)
        count = 1
    if count > per_second:
        raise GatewayError(
            429, "", "Rate limit is exceeded. Try again in 1 seconds.", headers={"Retry-After": "1"}
        )
