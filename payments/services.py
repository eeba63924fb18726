"""Every state change of LiveSettle, each in one transaction with its log row.

A transition is a compare-and-set on `status='processing'`: whoever updates 0 rows lost
the race (or found the simulator paused) and gets `PaymentError`. Broadcasts are
registered on commit (`events.send_event_on_commit`), so nothing is pushed that did not
commit. Settle, force and expire share one implementation, `_finalize`, batch or not.
"""

import base64
import hashlib
import json
import math
import os
import re
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, F, Q, Value, When
from django.utils import timezone

from payments import callbacks, events, outcomes, providers
from payments.models import (
    ApprovalMode,
    CallbackDelivery,
    CallbackSettings,
    IdempotencyKey,
    MomoApiUser,
    Payment,
    PaymentLog,
    SimulatorSettings,
)
from payments.momo.serializers import status_json
from payments.selectors import callback_snapshot, payment_snapshot, settings_snapshot, simulator_settings

PROCESSING = Payment.Status.PROCESSING
FINAL_STATUSES = (Payment.Status.SUCCESSFUL, Payment.Status.FAILED)


class PaymentError(Exception):
    """The one domain error: an illegal transition (already final, paused) or a bad value."""


class InvalidValue(PaymentError):
    """A value a service refuses, in words; `field` names it, `low`/`high` bound a range.

    Forms, serializers and flags translate it into their channel's message: they do not
    repeat the rule."""

    def __init__(self, field: str, message: str, *, low: float | None = None, high: float | None = None) -> None:
        super().__init__(message)
        self.field, self.low, self.high = field, low, high


# --- the rules, written once ---------------------------------------------------------------

DEFAULT_FAIL_REASON = "APPROVAL_REJECTED"  # an operator's "Fail" without a reason
TIMEOUT_RANGE = (0, 86_400)  # seconds, up to a day
SUCCESS_RATE_RANGE = (0.0, 1.0)
EXPIRY_RANGE = (1, 7 * 86_400)  # seconds, up to a week


def _number(value: Any, *, whole: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) if whole else math.isfinite(value)


def check_timeout(value: Any) -> float:
    low, high = TIMEOUT_RANGE
    if not _number(value) or value < low:
        raise InvalidValue("timeout_seconds", "Timeout must be 0 seconds or more.", low=low, high=high)
    if value > high:
        raise InvalidValue("timeout_seconds", "Timeout must be at most 86400 seconds (a day).", low=low, high=high)
    return value


def check_success_rate(value: Any) -> float:
    low, high = SUCCESS_RATE_RANGE
    if not _number(value) or not low <= value <= high:
        message = "Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed."
        raise InvalidValue("success_rate", message, low=low, high=high)
    return value


def check_expiry(value: Any) -> int:
    low, high = EXPIRY_RANGE
    if not _number(value, whole=True) or value < low:
        raise InvalidValue("expiry_seconds", "Expiry must be at least 1 second.", low=low, high=high)
    if value > high:
        raise InvalidValue("expiry_seconds", "Expiry must be at most 604800 seconds (a week).", low=low, high=high)
    return value


def check_paused(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue("paused", "Paused must be true or false.")
    return value


def check_approval_mode(value: Any) -> str:
    if value not in ApprovalMode.values:
        raise InvalidValue("approval_mode", f"Approval mode must be one of {', '.join(ApprovalMode.values)}.")
    return value


SETTING_CHECKS = {
    "timeout_seconds": check_timeout,
    "success_rate": check_success_rate,
    "paused": check_paused,
    "expiry_seconds": check_expiry,
    "approval_mode": check_approval_mode,
}


def check_outcome(outcome: Any, reason: Any = "") -> outcomes.Outcome:
    """An operator's decision: successful, or failed with a MoMo reason (by default APPROVAL_REJECTED)."""
    if outcome not in FINAL_STATUSES:
        raise InvalidValue("outcome", "Choose an outcome: successful or failed.")
    if not isinstance(reason, str):
        raise InvalidValue("reason", "A reason is a MoMo reason code such as NOT_ENOUGH_FUNDS.")
    if outcome == Payment.Status.SUCCESSFUL:
        if reason:
            raise InvalidValue("reason", "A reason only goes with outcome 'failed'.")
        return outcomes.Outcome(str(outcome))
    reason = reason or DEFAULT_FAIL_REASON
    if reason not in outcomes.REASONS:
        raise InvalidValue("reason", f"Unknown MoMo reason code: {reason[:48]}.")
    return outcomes.Outcome(str(outcome), reason)


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used with a different request body."""


def payment_create(
    *,
    amount: Decimal,
    currency: str,
    phone_number: str,
    external_id: str = "",
    booking_details: dict[str, Any] | None = None,
    actor: str = "api",
    reference: uuid.UUID | None = None,
    momo_user: MomoApiUser | None = None,
    party_id_type: str = Payment.PartyIdType.MSISDN,
    payer_message: str = "",
    payee_note: str = "",
    callback_url: str = "",
    scripted: bool = False,
    owner: Any = None,
) -> Payment:
    """Create a processing payment. A given `reference` that exists raises IntegrityError
    (the unique constraint decides, so concurrent reuses of one reference create one)."""
    config = simulator_settings()
    now = timezone.now()
    provider = providers.active().name
    schedule = providers.schedule(
        provider, phone_number=phone_number, now=now, timeout=config.timeout_seconds,
        approval_mode=config.approval_mode,
    )
    if scripted:
        # A scenario settles it at its own (scaled) time, with its own seeded outcome; the
        # worker only expires it if the scenario stops first.
        schedule["settle_at"] = None
    with transaction.atomic():
        payment = Payment.objects.create(
            reference=reference or uuid.uuid4(),
            amount=amount,
            currency=currency,
            phone_number=phone_number,
            party_id_type=party_id_type,
            external_id=external_id,
            booking_details=booking_details or {},
            owner=owner,
            provider=provider,
            **schedule,
            momo_user=momo_user,
            payer_message=payer_message,
            payee_note=payee_note,
            callback_url=callback_url,
            created_at=now,
            updated_at=now,
        )
        PaymentLog.objects.create(
            payment=payment,
            event=PaymentLog.Event.CREATED,
            actor=actor,
            to_status=PROCESSING,
            details={"timeout_seconds": config.timeout_seconds, "approval_mode": config.approval_mode},
        )
        events.send_event_on_commit(events.payment_created(payment_snapshot(payment)))
    return payment


def request_fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def payment_create_idempotent(
    *, scope: str, key: str, fingerprint: str, render: Any, **fields: Any
) -> dict[str, Any]:
    """Create once per (caller scope, key); returns the first response (`render` builds it)."""
    try:
        with transaction.atomic():
            payment = payment_create(**fields)
            response = render(payment)
            IdempotencyKey.objects.create(
                scope=scope, key=key, request_hash=fingerprint, payment=payment, response=response
            )
        return response
    except IntegrityError:
        # A concurrent request with the same key committed first; our payment rolled back.
        record = IdempotencyKey.objects.filter(scope=scope, key=key).first()
        if record is None:
            raise
    if record.request_hash != fingerprint:
        raise IdempotencyConflict(key)
    return record.response


def _claimable(ids: list[int], *, respect_pause: bool):
    claim = Payment.objects.filter(pk__in=ids, status=PROCESSING)
    if respect_pause:
        # Part of the same statement, so a committed pause stops every later settlement.
        claim = claim.filter(~Exists(SimulatorSettings.objects.filter(paused=True)))
    return claim


def _transaction_id() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)


Decision = tuple[int, outcomes.Outcome]  # (payment id, what it settles to)


def _finalize(
    *,
    decisions: list[Decision],
    event: str,
    actor: str,
    respect_pause: bool,
    transaction_ids: dict[int, str] | None = None,
) -> list[Payment]:
    """The one transition, processing -> final, for a batch (a batch of one is a batch).

    In one transaction: a compare-and-set UPDATE per outcome that also bumps `version`, one
    log insert, and one push registered on commit. If any payment was ended meanwhile (or,
    with `respect_pause`, settlement is paused), PaymentError and nothing is written.
    `transaction_ids`: ids an upstream gave its successful payments (else one is drawn).
    """
    given = transaction_ids or {}
    now = timezone.now()
    by_outcome: dict[outcomes.Outcome, list[int]] = defaultdict(list)
    for payment_id, outcome in decisions:
        if outcome.status not in FINAL_STATUSES:
            raise PaymentError(f"{outcome.status!r} is not a final status")
        by_outcome[outcome].append(payment_id)
    with transaction.atomic():
        for outcome, ids in by_outcome.items():
            successful = outcome.status == Payment.Status.SUCCESSFUL
            drawn = [When(pk=pk, then=Value(given.get(pk) or _transaction_id())) for pk in ids]
            updated = _claimable(ids, respect_pause=respect_pause).update(
                status=outcome.status,
                reason="" if successful else outcome.reason,
                financial_transaction_id=Case(*drawn, default=Value("")) if successful else "",
                settled_at=now,
                updated_at=now,
                version=F("version") + 1,
            )
            if updated != len(ids):
                raise PaymentError("already settled or paused" if respect_pause else "already settled")
        # Read back inside the transaction: the rows as committed, versions included.
        rows = Payment.objects.select_related("momo_user").in_bulk([payment_id for payment_id, _ in decisions])
        payments = [rows[payment_id] for payment_id, _ in decisions]
        PaymentLog.objects.bulk_create(
            PaymentLog(
                payment=payment,
                event=event,
                actor=actor,
                from_status=PROCESSING,
                to_status=payment.status,
                details={"reason": payment.reason},
            )
            for payment in payments
        )
        _outbox(payments, now)
        events.send_event_on_commit(events.payments_changed([payment_snapshot(p) for p in payments]))
    return payments


def _momo_status(payment: Payment) -> dict[str, Any]:
    return status_json(payment, payment.momo_user.reason_format) if payment.momo_user_id else status_json(payment)


def _outbox(payments: list[Payment], now: datetime) -> None:
    """The callbacks of payments made final, in the transaction that made them so: no final
    state without its pending delivery, no delivery for a change that rolled back."""
    rows = callbacks.outbox_rows(payments, now=now, body_of=_momo_status)
    if rows:
        CallbackDelivery.objects.bulk_create(rows)
        events.send_event_on_commit(events.callbacks_changed([callback_snapshot(row) for row in rows], wake=True))


def payment_settle_many(*, decisions: list[Decision], actor: str) -> list[Payment]:
    """The worker's batch, settled in one go; refused while paused (see `_finalize`)."""
    return _finalize(decisions=decisions, event=PaymentLog.Event.SETTLED, actor=actor, respect_pause=True)


def payment_settle(*, payment_id: int, outcome: outcomes.Outcome, actor: str) -> Payment:
    """The worker's settlement of one payment: refused while the simulator is paused."""
    return payment_settle_many(decisions=[(payment_id, outcome)], actor=actor)[0]


def payment_force_many(*, decisions: list[Decision], actor: str) -> list[Payment]:
    """An operator's (or a command's) decisions: immediate, paused or not."""
    return _finalize(decisions=decisions, event=PaymentLog.Event.FORCED, actor=actor, respect_pause=False)


UPSTREAM_DECIDES = "decided by the MoMo upstream, not here: it settles when the upstream answers"


def payment_force(*, payment: Payment, outcome: str, reason: str = "", actor: str) -> Payment:
    """An operator's (or a command's) decision on one payment: immediate, paused or not."""
    decision = check_outcome(outcome, reason)
    if payment.is_final:
        raise PaymentError(f"already settled ({payment.status})")
    if not providers.forceable(payment.provider):
        raise PaymentError(UPSTREAM_DECIDES)
    return payment_force_many(decisions=[(payment.pk, decision)], actor=actor)[0]


EXPIRED = outcomes.Outcome(Payment.Status.FAILED, "EXPIRED")


def payment_expire_many(*, payment_ids: list[int], actor: str) -> list[Payment]:
    """Fail what is still processing after the expiry; refused while paused."""
    decisions = [(payment_id, EXPIRED) for payment_id in payment_ids]
    return _finalize(decisions=decisions, event=PaymentLog.Event.EXPIRED, actor=actor, respect_pause=True)


def payment_expire(*, payment_id: int, actor: str) -> Payment:
    return payment_expire_many(payment_ids=[payment_id], actor=actor)[0]


def payment_log_skip(*, payment_id: int, actor: str, error: str) -> None:
    """Record that a worker skipped a row it could not settle (it is not retried by it)."""
    PaymentLog.objects.create(
        payment_id=payment_id,
        event=PaymentLog.Event.SKIPPED,
        actor=actor,
        details={"error": error[:500]},
    )


# --- the upstream schedule: `momo` payments (payments/upstream.py works it) ----------------

MOMO = Payment.Provider.MOMO


def payment_lease_upstream(*, now: datetime, lease_until: datetime, limit: int) -> list[Payment]:
    """Claim up to `limit` upstream payments due for a call: each one's `next_check_at` moves
    to `lease_until`, so no other worker calls for it until this one has recorded an answer
    (or died: then the lease runs out and someone calls again, with the same reference)."""
    due = Payment.objects.filter(status=PROCESSING, provider=MOMO, next_check_at__lte=now).order_by("next_check_at", "id")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        # Still a compare-and-set: on SQLite the write lock, not SKIP LOCKED, keeps it single.
        Payment.objects.filter(pk__in=ids, status=PROCESSING, next_check_at__lte=now).update(next_check_at=lease_until)
        return list(Payment.objects.filter(pk__in=ids, next_check_at=lease_until))


def _leased(payment_id: int, lease: datetime):
    return Payment.objects.filter(pk=payment_id, status=PROCESSING, next_check_at=lease)


def payment_upstream_accepted(*, payment_id: int, lease: datetime, check_at: datetime, actor: str) -> None:
    """The upstream took the request to pay: from now on its status is checked."""
    now = timezone.now()
    with transaction.atomic():
        rows = Payment.objects.filter(pk=payment_id, status=PROCESSING)
        attempts = rows.values_list("upstream_attempts", flat=True).first()
        if attempts is None:
            return
        # A callback that broke the lease asked for a check now: keep its time.
        if not _leased(payment_id, lease).update(next_check_at=check_at, upstream_submitted_at=now, upstream_attempts=0):
            rows.update(upstream_submitted_at=now, upstream_attempts=0)
        PaymentLog.objects.create(
            payment_id=payment_id, event=PaymentLog.Event.UPSTREAM, actor=actor,
            details={"request_to_pay": "accepted", "attempts": attempts + 1},
        )


def payment_upstream_later(
    *, payment_id: int, lease: datetime, check_at: datetime, actor: str, error: str = "", resubmit: bool = False
) -> None:
    """No final answer yet (PENDING, or no definite answer): call again at `check_at`.

    `error` (the call got no definite answer) is logged; a plain PENDING is not, it is the
    normal case. `resubmit`: the upstream does not know the payment, send the request again.
    """
    changes: dict[str, Any] = {"next_check_at": check_at, "upstream_attempts": F("upstream_attempts") + 1}
    if resubmit:
        changes["upstream_submitted_at"] = None
    with transaction.atomic():
        if not _leased(payment_id, lease).update(**changes):
            return  # a callback asked for a check now (or it ended): its schedule stands
        if error:
            PaymentLog.objects.create(
                payment_id=payment_id, event=PaymentLog.Event.UPSTREAM, actor=actor,
                details={"error": error[:300], "next_check_at": check_at.isoformat()},
            )


def payment_settle_upstream(
    *, payment_id: int, status: str, reason: str = "", financial_transaction_id: str = "", actor: str
) -> Payment:
    """The upstream's final answer (its status, or a definite refusal), paused or not:
    the simulator's pause does not hold back what the upstream already decided."""
    decisions = [(payment_id, outcomes.Outcome(status, reason))]
    settled = _finalize(
        decisions=decisions,
        event=PaymentLog.Event.SETTLED,
        actor=actor,
        respect_pause=False,
        transaction_ids={payment_id: financial_transaction_id},
    )
    return settled[0]


def payment_check_now(*, reference: Any, actor: str) -> bool:
    """The upstream called back: check its status now (the body is never trusted, so the
    check decides). False when there is nothing to check (final, or not an upstream payment).

    The backoff starts again from its first step: MoMo has been seen to call back while its
    status still says PENDING, and the final status is then seconds away, not a minute."""
    with transaction.atomic():
        rows = Payment.objects.filter(reference=reference, status=PROCESSING, provider=MOMO)
        payment_id = rows.values_list("pk", flat=True).first()
        if payment_id is None or not rows.update(next_check_at=timezone.now(), upstream_attempts=0):
            return False
        PaymentLog.objects.create(
            payment_id=payment_id, event=PaymentLog.Event.UPSTREAM, actor=actor, details={"callback": "received"}
        )
        events.send_event_on_commit(events.workers_wake())
    return True


# --- the payer's phone ----------------------------------------------------------------

PIN_PATTERN = re.compile(r"[0-9]{4,5}")
WRONG_PIN = "0000"  # the simulator's "wrong PIN": shown on the phone and counted in the log
PAYER = "payer"


class WrongPin(PaymentError):
    """The payer typed the simulator's wrong PIN; `attempts` counts this payment's so far."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"wrong PIN (attempt {attempts})")
        self.attempts = attempts


APPROVED = outcomes.Outcome(Payment.Status.SUCCESSFUL)
DECLINED = outcomes.Outcome(Payment.Status.FAILED, "APPROVAL_REJECTED")


def _payer_may_answer(payment: Payment) -> None:
    if payment.is_final:
        raise PaymentError(f"already settled ({payment.status})")
    if providers.of(payment.provider).decides_upstream:
        raise PaymentError(UPSTREAM_DECIDES)


def payment_approve(*, payment: Payment, pin: str, actor: str = PAYER) -> Payment:
    """The payer approves on the phone: successful at once (paused or not), like MoMo's prompt."""
    _payer_may_answer(payment)
    if not PIN_PATTERN.fullmatch(pin or ""):
        raise InvalidValue("pin", "A PIN is 4 or 5 digits.")
    if pin == WRONG_PIN:
        with transaction.atomic():
            PaymentLog.objects.create(payment=payment, event=PaymentLog.Event.WRONG_PIN, actor=actor)
            attempts = PaymentLog.objects.filter(payment=payment, event=PaymentLog.Event.WRONG_PIN).count()
        raise WrongPin(attempts)
    decisions = [(payment.pk, APPROVED)]
    return _finalize(decisions=decisions, event=PaymentLog.Event.APPROVED, actor=actor, respect_pause=False)[0]


def payment_decline(*, payment: Payment, actor: str = PAYER) -> Payment:
    """The payer declines on the phone: failed with APPROVAL_REJECTED, at once."""
    _payer_may_answer(payment)
    decisions = [(payment.pk, DECLINED)]
    return _finalize(decisions=decisions, event=PaymentLog.Event.DECLINED, actor=actor, respect_pause=False)[0]


def demo_reset(*, actor: str) -> int:
    """Remove every payment and log row in one transaction; returns how many payments went.

    The one row that records the reset (who, how many) is written after the clearing, in
    the same transaction, so it is the first row of the fresh log. Settings are kept. Every
    open page is told on commit: dashboards resync, checkout and phone pages say so.
    """
    with transaction.atomic():
        removed = Payment.objects.count()
        IdempotencyKey.objects.all().delete()
        PaymentLog.objects.all().delete()
        Payment.objects.all().delete()
        PaymentLog.objects.create(
            event=PaymentLog.Event.RESET, actor=actor, details={"payments_removed": removed}
        )
        events.send_event_on_commit(events.demo_reset())
    return removed


def settings_update(*, actor: str, **changes: Any) -> SimulatorSettings:
    """Change the live settings; every change is logged and pushed, and wakes the workers."""
    unknown = set(changes) - set(SETTING_CHECKS)
    if unknown:
        raise InvalidValue(min(unknown), f"Unknown settings: {', '.join(sorted(unknown))}.")
    changes = {name: SETTING_CHECKS[name](value) for name, value in changes.items() if value is not None}
    simulator_settings()  # make sure the row exists before locking it
    with transaction.atomic():
        config = SimulatorSettings.objects.select_for_update().get(pk=1)
        diff = {
            name: [getattr(config, name), value]
            for name, value in changes.items()
            if value is not None and getattr(config, name) != value
        }
        if not diff:
            return config
        for name, (_, value) in diff.items():
            setattr(config, name, value)
        config.version += 1
        config.save(update_fields=[*diff, "version", "updated_at"])
        PaymentLog.objects.create(event=PaymentLog.Event.CONFIG, actor=actor, details=diff)
        events.send_event_on_commit(events.settings_changed(settings_snapshot(config)))
    return config


class OperatorPasswordRejected(ValueError):
    """DEMO_OPERATOR_PASSWORD fails Django's password validators (the message says why)."""


def operator_ensure(*, username: str | None = None) -> tuple[str, bool]:
    """Make sure the demo operator exists; returns (password, generated_now_or_before).

    A given DEMO_OPERATOR_PASSWORD must pass AUTH_PASSWORD_VALIDATORS, like any password
    a person sets: the demo's account is the one a room can reach.
    """
    username = username or settings.DEMO_OPERATOR_USERNAME
    password = settings.DEMO_OPERATOR_PASSWORD
    generated = not password
    if not generated:
        try:
            password_validation.validate_password(password, user=get_user_model()(username=username))
        except ValidationError as exc:
            raise OperatorPasswordRejected(f"DEMO_OPERATOR_PASSWORD is refused: {' '.join(exc.messages)}") from None
    secret_file = settings.BASE_DIR / ".demo-operator-password"
    if generated:
        if secret_file.exists():
            password = secret_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = True
    if not user.check_password(password):
        user.set_password(password)
    user.save()
    return password, generated


# --- the MoMo Collections API's credentials and side effects (payments/momo/) -------------


def momo_key_hash(api_key: str) -> str:
    """API keys are 128 random bits, so an unsalted sha256 is safe and keeps the token call fast."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def momo_subscription_keys() -> list[str]:
    """`MOMO_SUBSCRIPTION_KEY` (comma-separated), else one generated once and kept, like the
    operator's password, in a 0600 file beside the code (every process of a deployment reads it)."""
    if settings.MOMO_SUBSCRIPTION_KEYS:
        return list(settings.MOMO_SUBSCRIPTION_KEYS)
    secret_file = settings.BASE_DIR / ".momo-subscription-key"
    try:
        key = secret_file.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key:
        key = secrets.token_hex(16)
        try:
            # O_EXCL: two processes starting at once agree on the first one's key.
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return momo_subscription_keys()
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
    return [key]


def momo_user_create(
    *,
    user_id: uuid.UUID,
    provider_callback_host: str,
    target_environment: str = "sandbox",
    reason_format: str = MomoApiUser.ReasonFormat.STRING,
    actor: str,
) -> MomoApiUser:
    """Provision an API user (without a key yet). A reused id raises IntegrityError."""
    if not provider_callback_host or len(provider_callback_host) > 255:
        raise PaymentError("providerCallbackHost must be a host name of 1 to 255 characters")
    if target_environment not in settings.MOMO_ENVIRONMENTS:
        known = ", ".join(settings.MOMO_ENVIRONMENTS)
        raise PaymentError(f"unknown target environment {target_environment!r} (use one of {known})")
    if reason_format not in MomoApiUser.ReasonFormat.values:
        raise PaymentError(f"reason format must be 'string' or 'object', not {reason_format!r}")
    with transaction.atomic():
        user = MomoApiUser.objects.create(
            id=user_id, provider_callback_host=provider_callback_host,
            target_environment=target_environment, reason_format=reason_format,
        )
        PaymentLog.objects.create(
            event=PaymentLog.Event.MOMO_USER,
            actor=actor,
            details={"api_user": str(user.id), "created": provider_callback_host},
        )
    return user


def momo_user_new_key(*, user: MomoApiUser, actor: str) -> str:
    """A fresh API key for `user`, returned once; the old key and its tokens stop working."""
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
    actor: str,
) -> tuple[MomoApiUser, str]:
    """What the dashboard's button and `momo_credentials` do: a new API user and its key."""
    with transaction.atomic():
        user = momo_user_create(
            user_id=uuid.uuid4(), provider_callback_host=provider_callback_host,
            target_environment=target_environment, reason_format=reason_format, actor=actor,
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
        raise PaymentError("a notification message is 1 to 160 characters")
    PaymentLog.objects.create(
        payment=payment,
        event=PaymentLog.Event.NOTIFIED,
        actor=actor,
        from_status=payment.status,
        to_status=payment.status,
        details={"message": message, "language": language[:16]},
    )


# --- callbacks (the outbox rows themselves are written by `_outbox` above) -----------------

CALLBACK_PENDING = CallbackDelivery.Status.PENDING


def _claimable_callbacks(now):
    return CallbackDelivery.objects.filter(status=CALLBACK_PENDING, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def callback_claim(
    *, claimer: str, limit: int, now: datetime | None = None, settings: callbacks.SettingsReader | None = None
) -> list[CallbackDelivery]:
    """Lease up to `limit` due deliveries to `claimer` (unique per claim): a compare-and-set
    on the lease, with SKIP LOCKED on PostgreSQL so workers split the due rows."""
    now = now or timezone.now()
    timeout = (settings or callbacks.SettingsReader())()["timeout_seconds"]
    lease = now + timedelta(seconds=timeout) + callbacks.LEASE_MARGIN
    with transaction.atomic():
        due = _claimable_callbacks(now).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        _claimable_callbacks(now).filter(pk__in=ids).update(claimed_until=lease, claimed_by=claimer)
    return list(
        CallbackDelivery.objects.filter(claimed_by=claimer, claimed_until=lease, status=CALLBACK_PENDING)
        .select_related("payment__momo_user")
        .order_by("next_attempt_at", "id")
    )


RECORDED_FIELDS = (
    "status", "delivered_at", "next_attempt_at", "attempts", "claimed_until", "last_status_code",
    "last_error", "last_latency_ms", "first_sent_at", "updated_at",
)


def callback_record(
    *, results: list[dict[str, Any]], actor: str, settings: callbacks.SettingsReader | None = None
) -> list[CallbackDelivery]:
    """Record attempts: each result is {delivery, started_at, status_code, error, latency_ms}.

    A compare-and-set on (claimer, attempts): a result whose lease was taken over meanwhile
    is not recorded twice. The attempt is logged on the payment's timeline. One UPDATE for
    the batch (the common case); if any row no longer matches, row by row.
    """
    now = timezone.now()
    settings = settings or callbacks.SettingsReader()
    staged = []
    for result in results:
        delivery: CallbackDelivery = result["delivery"]
        config = settings(delivery.payment.momo_user_id)
        code = result.get("status_code")
        changes = {"status": delivery.status, "delivered_at": delivery.delivered_at, "next_attempt_at": delivery.next_attempt_at}
        changes.update(_after_attempt(delivery, code, config, now))
        changes.update(
            attempts=delivery.attempts + 1, claimed_until=None, last_status_code=code,
            last_error=(result.get("error") or "")[:300], last_latency_ms=result.get("latency_ms"),
            first_sent_at=delivery.first_sent_at or result["started_at"], updated_at=now,
        )
        staged.append((delivery, result, changes, delivery.attempts))
    if not staged:
        return []
    with transaction.atomic():
        recorded = _record_batch(staged)
        if recorded is None:  # a lease was taken over meanwhile: only the rows still ours
            recorded = [
                (_staged_copy(delivery, changes), result)
                for delivery, result, changes, attempts in staged
                if CallbackDelivery.objects.filter(
                    pk=delivery.pk, claimed_by=delivery.claimed_by, attempts=attempts
                ).update(**changes) == 1
            ]
        PaymentLog.objects.bulk_create(_attempt_log(delivery, result, actor) for delivery, result in recorded)
        if recorded:
            snapshots = [callback_snapshot(delivery) for delivery, _ in recorded]
            events.send_event_on_commit(events.callbacks_changed(snapshots))
    return [delivery for delivery, _ in recorded]


class _Overtaken(Exception):
    pass


def _record_batch(staged: list) -> list | None:
    """One UPDATE for every row of the batch, if each is still (claimer, attempts) as claimed."""
    matching = Q()
    for delivery, _, _, attempts in staged:
        matching |= Q(pk=delivery.pk, claimed_by=delivery.claimed_by, attempts=attempts)
    updated = [_staged_copy(delivery, changes) for delivery, _, changes, _ in staged]
    try:
        with transaction.atomic():  # a savepoint: undone if any row was overtaken
            if CallbackDelivery.objects.filter(matching).bulk_update(updated, RECORDED_FIELDS) != len(staged):
                raise _Overtaken
    except _Overtaken:
        return None
    return list(zip(updated, [result for _, result, _, _ in staged]))


def _staged_copy(delivery: CallbackDelivery, changes: dict[str, Any]) -> CallbackDelivery:
    for name, value in changes.items():
        setattr(delivery, name, value)
    return delivery


def _after_attempt(delivery: CallbackDelivery, code: int | None, config: dict[str, Any], now) -> dict[str, Any]:
    if code is not None and 200 <= code < 300:
        return {"status": CallbackDelivery.Status.DELIVERED, "delivered_at": now}
    delay = callbacks.retry_delay(config["schedule"], delivery.attempts + 1)
    if delay is None or now + timedelta(seconds=delay) > delivery.give_up_at:
        return {"status": CallbackDelivery.Status.FAILED}
    return {"next_attempt_at": now + timedelta(seconds=delay)}


def _attempt_log(delivery: CallbackDelivery, result: dict[str, Any], actor: str) -> PaymentLog:
    return PaymentLog(
        payment_id=delivery.payment_id,
        event=PaymentLog.Event.CALLBACK,
        actor=actor,
        details={
            "delivery": delivery.pk,
            "attempt": delivery.attempts,
            "copy": delivery.copy,
            "at": result["started_at"].isoformat(),
            "method": delivery.method,
            "url": delivery.url,
            "status_code": result.get("status_code"),
            "error": (result.get("error") or "")[:300],
            "latency_ms": result.get("latency_ms"),
            "outcome": delivery.status,
        },
    )


def callback_resend(*, delivery: CallbackDelivery, actor: str) -> CallbackDelivery:
    """An operator's "Resend callback": due now, with a fresh maximum age (not while in flight)."""
    now = timezone.now()
    max_age = callbacks.effective(delivery.payment.momo_user_id)["max_age_seconds"]
    with transaction.atomic():
        updated = (
            CallbackDelivery.objects.filter(pk=delivery.pk)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(
                status=CALLBACK_PENDING, next_attempt_at=now, give_up_at=now + timedelta(seconds=max_age),
                claimed_until=None, updated_at=now,
            )
        )
        if updated != 1:
            raise PaymentError("this callback is being sent right now; try again in a moment")
        delivery.refresh_from_db()
        PaymentLog.objects.create(
            payment_id=delivery.payment_id, event=PaymentLog.Event.CALLBACK, actor=actor,
            details={"delivery": delivery.pk, "resend": True, "url": delivery.url, "method": delivery.method},
        )
        events.send_event_on_commit(events.callbacks_changed([callback_snapshot(delivery)], wake=True))
    return delivery


def callback_settings_update(*, actor: str, momo_user: MomoApiUser | None = None, **changes: Any) -> dict[str, Any]:
    """Change the live callback settings (global, or one API user's); every change is logged.

    Raises callbacks.SettingError for a bad key or value. Per user, None removes an override.
    Returns the values now in force for that scope.
    """
    cleaned = callbacks.clean(changes, per_user=momo_user is not None)
    scope = callbacks.scope_of(momo_user.pk if momo_user else None)
    with transaction.atomic():
        row, _ = CallbackSettings.objects.select_for_update().get_or_create(
            scope=scope, defaults={"momo_user": momo_user}
        )
        current = callbacks.effective(momo_user.pk if momo_user else None)
        values = dict(row.values)
        diff = {}
        for name, value in cleaned.items():
            if value is None:
                if name in values:
                    diff[name] = [values.pop(name), None]
            elif current[name] != value or name not in values:
                diff[name] = [current[name], value]
                values[name] = value
        if momo_user is not None and values.get("signing") and not row.signing_secret:
            # The receiver verifies with this (Standard Webhooks); logged as made, never shown in the log.
            row.signing_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
            row.save(update_fields=["signing_secret", "updated_at"])
            diff["signing_secret"] = ["", "(new)"]
        if diff:
            row.values = values
            row.save(update_fields=["values", "updated_at"])
            PaymentLog.objects.create(
                event=PaymentLog.Event.CONFIG, actor=actor, details={"callbacks": scope, **diff}
            )
    return callbacks.effective(momo_user.pk if momo_user else None)
