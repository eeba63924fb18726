"""The upstream schedule of `momo` provider payments (payments/upstream.py works it).

Each call for a payment is leased by moving its `next_check_at`, so one worker at a time
calls for it; its final answer goes through the one transition path.
"""

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from payments import events, outcomes
from payments.services.logbook import payment_log_bounded
from payments.models import Payment, PaymentLog
from payments.services.lifecycle import _finalize
from payments.services.rules import PROCESSING

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
        # A refund's refunded payment too: its reference is sent, off the ORM thread.
        return list(Payment.objects.filter(pk__in=ids, next_check_at=lease_until).select_related("refund_of"))


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
            payment_log_bounded(
                payment_id=payment_id, event=PaymentLog.Event.UPSTREAM, actor=actor,
                details={"error": error[:300], "next_check_at": check_at.isoformat()}, kind="error",
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
        payment_log_bounded(
            payment_id=payment_id, event=PaymentLog.Event.UPSTREAM, actor=actor, details={"callback": "received"},
            kind="callback",
        )
        events.send_event_on_commit(events.workers_wake())
    return True
