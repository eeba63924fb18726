"""The callback outbox: claim due deliveries, record attempts, resend, live settings.

The outbox rows themselves are written by the one transition path (`lifecycle._finalize`),
in the transaction that makes a payment final.
"""

import base64
import secrets
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from payments import callbacks, events
from payments.errors import PaymentError
from payments.models import CallbackDelivery, CallbackSettings, MomoApiUser, PaymentLog
from payments.selectors import callback_snapshot

CALLBACK_PENDING = CallbackDelivery.Status.PENDING


def _claimable_callbacks(now):
    return CallbackDelivery.objects.filter(status=CALLBACK_PENDING, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def callback_claim(
    *, claimer: str, limit: int, now: datetime | None = None, settings: callbacks.SettingsReader | None = None,
    busy: Mapping[str, int] | None = None, per_host: int = 0,
) -> list[CallbackDelivery]:
    """Lease up to `limit` due deliveries to `claimer` (unique per claim): a compare-and-set
    on the lease, with SKIP LOCKED on PostgreSQL so workers split the due rows.

    With `per_host`, no destination (`callbacks.destination_key`) gets more than that many
    sends in flight, counting `busy` (the claimer's sends still running): one hanging
    receiver cannot take every slot while other receivers' callbacks wait behind it."""
    now = now or timezone.now()
    timeout = (settings or callbacks.SettingsReader())()["timeout_seconds"]
    lease = now + timedelta(seconds=timeout) + callbacks.LEASE_MARGIN
    with transaction.atomic():
        due = _claimable_callbacks(now).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = _fair_share(due, limit, busy or {}, per_host)
        if not ids:
            return []
        _claimable_callbacks(now).filter(pk__in=ids).update(claimed_until=lease, claimed_by=claimer)
    return list(
        CallbackDelivery.objects.filter(claimed_by=claimer, claimed_until=lease, status=CALLBACK_PENDING)
        .select_related("payment__momo_user")
        .order_by("next_attempt_at", "id")
    )


def _fair_share(due, limit: int, busy: Mapping[str, int], per_host: int) -> list[int]:
    """The ids to claim, oldest first, at most `per_host` in flight per destination."""
    if not per_host:
        return list(due.values_list("pk", flat=True)[:limit])
    for key in [key for key, count in busy.items() if count >= per_host]:  # full: not even read
        due = due.exclude(Q(url__iexact=key) | Q(url__istartswith=f"{key}/") | Q(url__istartswith=f"{key}?"))
    taken: Counter[str] = Counter(busy)
    ids = []
    for pk, url in due.values_list("pk", "url")[: max(limit * 8, 400)]:
        key = callbacks.destination_key(url)
        if taken[key] < per_host:
            taken[key] += 1
            ids.append(pk)
            if len(ids) >= limit:
                break
    return ids


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
    staged = [_staged(result, settings, now) for result in results]
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


def _staged(result: dict[str, Any], settings: callbacks.SettingsReader, now: datetime) -> tuple:
    """(delivery, result, the row's changes, its attempts as claimed) for one attempt."""
    delivery: CallbackDelivery = result["delivery"]
    code = result.get("status_code")
    changes = {"status": delivery.status, "delivered_at": delivery.delivered_at, "next_attempt_at": delivery.next_attempt_at}
    changes.update(
        _after_attempt(delivery, code, settings(delivery.payment.momo_user_id), now, final=result.get("final", False))
    )
    changes.update(
        attempts=delivery.attempts + 1, claimed_until=None, last_status_code=code,
        last_error=(result.get("error") or "")[:300], last_latency_ms=result.get("latency_ms"),
        first_sent_at=delivery.first_sent_at or result["started_at"], updated_at=now,
    )
    return delivery, result, changes, delivery.attempts


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


def _after_attempt(delivery: CallbackDelivery, code: int | None, config: dict[str, Any], now, *, final: bool) -> dict[str, Any]:
    if code is not None and 200 <= code < 300:
        return {"status": CallbackDelivery.Status.DELIVERED, "delivered_at": now}
    if final:  # a destination no setting allows: retrying cannot help
        return {"status": CallbackDelivery.Status.FAILED}
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
            raise PaymentError("This callback is being sent right now; try again in a moment.")
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
