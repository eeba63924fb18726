"""MoMo API users and their keys, subscription keys, and the API's side effects on payments."""

import hashlib
import hmac
import os
import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from payments import validation
from payments.errors import InvalidValue, PaymentError
from payments.services.logbook import payment_log_bounded
from payments.models import MomoApiUser, Payment, PaymentLog
from payments.services.ledger import check_money, merchant_accounts_open


class NotKeyOwner(PaymentError):
    """A new API key asked for over the wire by someone who did not provision that API user."""


def momo_key_hash(api_key: str) -> str:
    """API keys are 128 random bits, so an unsalted sha256 is safe and keeps the token call fast."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def momo_subscription_keys() -> list[str]:
    """`MOMO_SUBSCRIPTION_KEY` (comma-separated), good for every product; else one generated
    once and kept, like the operator's password, in a 0600 file beside the code (every
    process of a deployment reads it)."""
    if settings.MOMO_SUBSCRIPTION_KEYS:
        return list(settings.MOMO_SUBSCRIPTION_KEYS)
    return [_kept_key(".momo-subscription-key")]


def momo_product_subscription_keys(product: str) -> list[str]:
    """A product's own keys (`MOMO_<PRODUCT>_SUBSCRIPTION_KEY`), good on that product's paths
    only, as at MTN; unset: one generated once and kept in `.momo-<product>-subscription-key`."""
    if product not in settings.MOMO_PRODUCTS:
        raise InvalidValue("product", f"Unknown MoMo product {product!r}.")
    configured = settings.MOMO_PRODUCT_SUBSCRIPTION_KEYS.get(product)
    if configured:
        return list(configured)
    return [_kept_key(f".momo-{product}-subscription-key")]


_KEPT: dict[str, str] = {}  # path -> key: read once per process (a key is kept for good)


def _kept_key(name: str) -> str:
    secret_file = settings.BASE_DIR / name
    if str(secret_file) in _KEPT:
        return _KEPT[str(secret_file)]
    try:
        key = secret_file.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        _KEPT[str(secret_file)] = key
        return key
    key = secrets.token_hex(16)
    try:
        # O_EXCL: two processes starting at once agree on the first one's key.
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _kept_key(name)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def momo_user_create(
    *,
    user_id: uuid.UUID,
    provider_callback_host: str,
    target_environment: str = "sandbox",
    reason_format: str = MomoApiUser.ReasonFormat.STRING,
    readings: str = MomoApiUser.Readings.PAGES,
    starting_float: Decimal | None = None,
    subscription_key: str = "",
    actor: str,
) -> MomoApiUser:
    """Provision an API user (without a key yet). A reused id raises IntegrityError.
    `subscription_key`: the key it was provisioned with over the wire, which alone may get
    it new keys there; empty for the operator's own (new keys from the operator only).
    `starting_float`: its disbursement and remittance accounts' float in each currency
    (None: MOMO_DEFAULT_FLOAT); its accounts in its environment's currency open now."""
    provider_callback_host = _checked_user(provider_callback_host, target_environment, reason_format, readings)
    if starting_float is not None:
        starting_float = check_money(starting_float, field="starting_float")
    with transaction.atomic():
        user = MomoApiUser.objects.create(
            id=user_id, provider_callback_host=provider_callback_host,
            target_environment=target_environment, reason_format=reason_format, starting_float=starting_float,
            readings=readings,
            owner_key_hash=momo_key_hash(subscription_key) if subscription_key else "",
        )
        currency = settings.MOMO_ENVIRONMENTS[target_environment]
        merchant_accounts_open(momo_user=user, currency=currency, now=timezone.now())
        PaymentLog.objects.create(
            event=PaymentLog.Event.MOMO_USER,
            actor=actor,
            details={"api_user": str(user.id), "created": provider_callback_host},
        )
    return user


def _checked_user(host: str, target_environment: str, reason_format: str, readings: str) -> str:
    """An API user's settings by their rules; returns the callback host as stored."""
    try:
        host = validation.clean_callback_host(host)
    except ValidationError as exc:
        raise InvalidValue("provider_callback_host", exc.messages[0]) from None
    if target_environment not in settings.MOMO_ENVIRONMENTS:
        known = ", ".join(settings.MOMO_ENVIRONMENTS)
        raise InvalidValue("target_environment", f"Unknown target environment {target_environment!r}: use one of {known}.")
    if reason_format not in MomoApiUser.ReasonFormat.values:
        raise InvalidValue("reason_format", f"The reason format must be 'string' or 'object', not {reason_format!r}.")
    if readings not in MomoApiUser.Readings.values:
        raise InvalidValue("readings", f"The readings must be 'pages' or 'captured', not {readings!r}.")
    return host


def momo_user_new_key(*, user: MomoApiUser, actor: str, subscription_key: str | None = None) -> str:
    """A fresh API key for `user`, returned once; the old key and its tokens stop working.

    `subscription_key` None: the operator asks (demo, momo_credentials, the dashboard), for
    any API user. Given (the wire): only for an API user that key provisioned; an API user id
    and the shared subscription key are not enough to take someone's user over."""
    if subscription_key is not None:
        if not user.owner_key_hash:
            raise NotKeyOwner("this API user was made by the operator: ask the operator for a new key")
        if not hmac.compare_digest(user.owner_key_hash, momo_key_hash(subscription_key)):
            raise NotKeyOwner("this API user was provisioned with another subscription key")
    api_key = secrets.token_hex(16)
    with transaction.atomic():
        user.api_key_hash = momo_key_hash(api_key)
        user.save(update_fields=["api_key_hash"])
        PaymentLog.objects.create(
            event=PaymentLog.Event.MOMO_USER, actor=actor, details={"api_user": str(user.id), "new_key": True}
        )
    return api_key


def momo_credentials_create(
    *,
    provider_callback_host: str,
    target_environment: str = "sandbox",
    reason_format: str = MomoApiUser.ReasonFormat.STRING,
    readings: str = MomoApiUser.Readings.PAGES,
    starting_float: Decimal | None = None,
    actor: str,
) -> tuple[MomoApiUser, str]:
    """What the dashboard's button and `momo_credentials` do: a new API user and its key."""
    with transaction.atomic():
        user = momo_user_create(
            user_id=uuid.uuid4(), provider_callback_host=provider_callback_host,
            target_environment=target_environment, reason_format=reason_format, readings=readings,
            starting_float=starting_float, actor=actor,
        )
        return user, momo_user_new_key(user=user, actor=actor)


def momo_demo_credentials() -> tuple[MomoApiUser, str]:
    """The demo's ready set: made once and kept (0600 file) so its values survive restarts."""
    kept = settings.BASE_DIR / ".momo-demo-credentials"
    try:
        user_id, api_key = kept.read_text().split()
        user = MomoApiUser.objects.filter(id=user_id).first()
        if user is not None and user.api_key_hash == momo_key_hash(api_key):
            return user, api_key
    except (FileNotFoundError, ValueError):
        pass
    user, api_key = momo_credentials_create(provider_callback_host="localhost", actor="command")
    kept.write_text(f"{user.id} {api_key}\n")
    kept.chmod(0o600)
    return user, api_key


def payment_notify(*, payment: Payment, message: str, language: str = "", actor: str) -> None:
    """A MoMo delivery notification to the payer: recorded on the payment's timeline."""
    if not message or len(message) > 160:
        raise InvalidValue("notification", "A notification message is 1 to 160 characters.")
    try:
        message = validation.clean_text(message, label="The notification message", max_length=160, required=True)
        language = validation.clean_language(language)
    except ValidationError as exc:
        raise InvalidValue("notification", exc.messages[0]) from None
    payment_log_bounded(
        payment_id=payment.pk, event=PaymentLog.Event.NOTIFIED, actor=actor,
        from_status=payment.status, to_status=payment.status, details={"message": message, "language": language},
    )
