"""The payment lifecycle: create, then one transition to a final state.

A transition is a compare-and-set on `status='processing'`: whoever updates 0 rows lost
the race (or found the simulator paused) and gets `PaymentError`. Broadcasts are
registered on commit (`events.send_event_on_commit`), so nothing is pushed that did not
commit. Settle, force, expire, approve and decline share one implementation, `_finalize`,
batch or not; it also writes the callback outbox rows in the same transaction.
"""

import hashlib
import json
import secrets
import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, Value, When
from django.utils import timezone

from payments import callbacks, events, handover, outcomes, providers
from payments.errors import IdempotencyConflict, InvalidValue, PaymentError
from payments.accounts import party_owner, wallet_key
from payments.models import (
    KIND_DIRECTION, KIND_PRODUCT, CallbackDelivery, IdempotencyKey, LedgerAccount, MomoApiUser, Payment,
    PaymentLog, SimulatorSettings,
)
from payments.selectors import account_snapshot, callback_snapshot, payment_snapshot, simulator_settings
from payments.services import ledger
from payments.services.rules import FINAL_STATUSES, PROCESSING, check_outcome, payment_check
from payments.wire import status_json


def payment_create(
    *,
    amount: Decimal | str,
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
    kind: str = Payment.Kind.REQUEST_TO_PAY,
    refund_of: Payment | None = None,
    wire_fields: dict[str, Any] | None = None,
    config: SimulatorSettings | None = None,
) -> Payment:
    """A processing payment of `kind` from raw values (InvalidValue names the first bad one); its party
    (`phone_number`) pays in or is paid. A reused `reference` raises IntegrityError. `config`:
    the live settings as the caller has them (a MoMo call's copy), else read here."""
    if kind not in KIND_PRODUCT:
        raise InvalidValue("kind", f"A payment's kind is one of {', '.join(KIND_PRODUCT)}.")
    fields = payment_check(
        amount=amount, currency=currency, phone_number=phone_number, party_id_type=party_id_type, external_id=external_id,
        booking_details=booking_details, payer_message=payer_message, payee_note=payee_note,
        party_required=not (kind == Payment.Kind.REFUND and refund_of is None),
    )
    config = config or simulator_settings()
    now = timezone.now()
    fields.update(_schedule(fields, kind, refund_of, config, now, scripted=scripted))
    with transaction.atomic():
        payment = Payment.objects.create(
            reference=reference or uuid.uuid4(), **fields, owner=owner, momo_user=momo_user,
            callback_url=callback_url, created_at=now, updated_at=now, kind=kind, product=KIND_PRODUCT[kind],
            direction=KIND_DIRECTION[kind], refund_of=refund_of, wire_fields=wire_fields or {},
        )
        _created(payment, config, actor=actor, now=now)
    return payment


def _created(payment: Payment, config: SimulatorSettings, *, actor: str, now: datetime) -> None:
    """The new payment's log row, its party's wallet, and its push after commit."""
    PaymentLog.objects.create(
        payment=payment,
        event=PaymentLog.Event.CREATED,
        actor=actor,
        to_status=PROCESSING,
        details={"timeout_seconds": config.timeout_seconds, "approval_mode": config.approval_mode, "kind": payment.kind},
    )
    if payment.phone_number and payment.provider == Payment.Provider.SIMULATOR:
        # The party's wallet opens at first sight: its page shows the balance at once.
        ledger.wallet_open(wallet_key(payment.phone_number, payment.currency), now=now)
    events.send_event_on_commit(events.payment_created(payment_snapshot(payment)))


def _provider_of(kind: str, refund_of: Payment | None) -> str:
    """Who decides it: a request to pay, the active provider; a refund, whoever decided the
    payment it refunds (an upstream's goes upstream); any other kind, the simulator."""
    if kind == Payment.Kind.REFUND:
        return refund_of.provider if refund_of is not None else Payment.Provider.SIMULATOR
    return providers.active().name if kind == Payment.Kind.REQUEST_TO_PAY else Payment.Provider.SIMULATOR


def _schedule(
    fields: dict[str, Any], kind: str, refund_of: Payment | None, config: SimulatorSettings, now: datetime,
    *, scripted: bool,
) -> dict[str, Any]:
    """Who decides the payment (the provider) and when it is due."""
    provider = _provider_of(kind, refund_of)
    schedule = providers.schedule(
        provider, phone_number=fields["phone_number"], now=now, timeout=config.timeout_seconds,
        approval_mode=config.approval_mode, kind=kind, external_id=fields["external_id"],
    )
    if scripted:
        # A scenario settles it at its own (scaled) time, with its own seeded outcome; the
        # worker only expires it if the scenario stops first.
        schedule["settle_at"] = None
    return {"provider": provider, **schedule}


_CHECKED = frozenset(
    ("amount", "currency", "phone_number", "party_id_type", "external_id", "booking_details", "payer_message", "payee_note")
)


def request_fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def payment_create_idempotent(*, scope: str, key: str, render: Any, **fields: Any) -> dict[str, Any]:
    """Create once per (caller scope, key); returns the first response (`render` builds it).

    The same key with other values (as cleaned: "+46 733-123 499" is 46733123499) is an
    IdempotencyConflict."""
    checked = {name: fields.pop(name) for name in list(fields) if name in _CHECKED}
    cleaned = payment_check(**checked)
    fingerprint = request_fingerprint(cleaned)
    fields.update(cleaned)
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


_ALREADY = "This payment is already settled."
_ALREADY_PAUSED = "This payment is already settled, or settlement is paused."


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
    now = timezone.now()
    for _, outcome in decisions:
        if outcome.status not in FINAL_STATUSES:
            raise PaymentError(f"The status {outcome.status!r} is not a final status.")
    ids = [payment_id for payment_id, _ in decisions]
    with transaction.atomic():
        # Lock the payments first (every transition takes its locks in the ledger's order).
        claimed = _claimable(ids, respect_pause=respect_pause).select_related("momo_user")
        claimed = claimed.select_for_update(of=("self",)).order_by("pk").in_bulk()
        if len(claimed) != len(set(ids)):
            raise PaymentError(_ALREADY_PAUSED if respect_pause else _ALREADY)
        booked = ledger.ledger_book([claimed[pk] for pk in ids], dict(decisions), now=now)
        by_outcome: dict[outcomes.Outcome, list[int]] = defaultdict(list)
        for payment_id in ids:
            by_outcome[booked.decisions[payment_id]].append(payment_id)
        for outcome, group in by_outcome.items():
            drawn = _mark_final(group, outcome, now, given=transaction_ids or {}, respect_pause=respect_pause)
            for pk in group:  # the rows as the UPDATE left them: locked, so nothing else changed them
                _apply(claimed[pk], outcome, drawn.get(pk, ""), now)
        payments = [claimed[payment_id] for payment_id in ids]
        _finalized(payments, booked, event=event, actor=actor, now=now)
    return payments


def _finalized(payments: list[Payment], booked: ledger.Booked, *, event: str, actor: str, now: datetime) -> None:
    """In the transition's transaction: the log rows, the callback outbox rows, and one push
    registered on commit (the payments, then the balances they moved)."""
    PaymentLog.objects.bulk_create(
        PaymentLog(
            payment=payment, event=event, actor=actor, from_status=PROCESSING,
            to_status=payment.status, details={"reason": payment.reason},
        )
        for payment in payments
    )
    leased = _outbox(payments, now)
    snapshots = {p.pk: payment_snapshot(p) for p in [*payments, *booked.refunded]}
    pushed = events.payments_changed(list(snapshots.values()))
    events.send_event_on_commit(pushed + _balance_events(booked.accounts, payments, snapshots))
    handover.hand_over_on_commit(leased)  # sent after the push


def _mark_final(ids: list[int], outcome: outcomes.Outcome, now: datetime, *, given: dict[int, str],
                respect_pause: bool) -> dict[int, str]:
    """The compare-and-set of one outcome's payments (locked already, so it takes them all);
    returns the transaction ids it gave the successful ones."""
    successful = outcome.status == Payment.Status.SUCCESSFUL
    drawn = {pk: given.get(pk) or _transaction_id() for pk in ids} if successful else {}
    updated = _claimable(ids, respect_pause=respect_pause).update(
        status=outcome.status,
        reason="" if successful else outcome.reason,
        financial_transaction_id=Case(*(When(pk=pk, then=Value(t)) for pk, t in drawn.items()), default=Value(""))
        if successful else "",
        settled_at=now,
        updated_at=now,
        version=F("version") + 1,
    )
    if updated != len(ids):
        raise PaymentError(_ALREADY_PAUSED if respect_pause else _ALREADY)
    return drawn


def _apply(payment: Payment, outcome: outcomes.Outcome, transaction_id: str, now: datetime) -> None:
    """In memory, what `_mark_final` wrote (no read back)."""
    successful = outcome.status == Payment.Status.SUCCESSFUL
    payment.status, payment.reason = outcome.status, "" if successful else outcome.reason
    payment.financial_transaction_id = transaction_id
    payment.settled_at = payment.updated_at = now
    payment.version += 1


def _balance_events(moved: list[LedgerAccount], payments: list[Payment], snapshots: dict[int, dict[str, Any]]) -> list[events.Event]:
    """Balances that moved, after commit; a wallet's push names the payment that moved it."""
    if not moved:
        return []
    by_wallet = {
        party_owner(p.phone_number): snapshots[p.pk] for p in payments if p.status == Payment.Status.SUCCESSFUL
    }
    return events.balances_changed([account_snapshot(a) for a in moved], payments=by_wallet)


def _momo_status(payment: Payment) -> dict[str, Any]:
    if not payment.momo_user_id:
        return status_json(payment)
    return status_json(payment, payment.momo_user.reason_format, payment.momo_user.readings)


def _outbox(payments: list[Payment], now: datetime) -> handover.Leased | None:
    """The callbacks of payments made final, in the transaction that made them so: no final
    state without its pending delivery, no delivery for a change that rolled back. Returns
    those leased to the settling worker's sender (it offered itself and had room)."""
    configs = callbacks.SettingsReader()
    rows = callbacks.outbox_rows(payments, now=now, body_of=_momo_status, settings=configs)
    if not rows:
        return None
    leased = handover.lease(rows, now=now, settings=configs)
    CallbackDelivery.objects.bulk_create(rows)
    # Any row not leased wakes the senders (this process's at once, every worker's through the layer).
    wake = leased is None or len(leased.taken) < len(rows)
    events.send_event_on_commit(events.callbacks_changed([callback_snapshot(row) for row in rows], wake=wake))
    return leased


def payment_settle_many(*, decisions: list[Decision], actor: str) -> list[Payment]:
    """The worker's batch, settled in one go; refused while paused (see `_finalize`)."""
    return _finalize(decisions=decisions, event=PaymentLog.Event.SETTLED, actor=actor, respect_pause=True)


def payment_settle(*, payment_id: int, outcome: outcomes.Outcome, actor: str) -> Payment:
    """The worker's settlement of one payment: refused while the simulator is paused."""
    return payment_settle_many(decisions=[(payment_id, outcome)], actor=actor)[0]


def payment_force_many(*, decisions: list[Decision], actor: str) -> list[Payment]:
    """An operator's (or a command's) decisions: immediate, paused or not."""
    return _finalize(decisions=decisions, event=PaymentLog.Event.FORCED, actor=actor, respect_pause=False)


UPSTREAM_DECIDES = "This payment is decided by the MoMo upstream, not here: it settles when the upstream answers."


def payment_force(*, payment: Payment, outcome: str, reason: str = "", actor: str) -> Payment:
    """An operator's (or a command's) decision on one payment: immediate, paused or not."""
    decision = check_outcome(outcome, reason)
    if payment.is_final:
        raise PaymentError(f"This payment is already settled ({payment.status}).")
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
