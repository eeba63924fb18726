"""Log rows a client can cause again and again (wrong PINs, delivery notifications, replayed
upstream callbacks, upstream errors while a payment waits), bounded per payment.

The first `PAYMENT_LOG_ROWS_PER_KIND` of a kind are stored as rows; beyond that the last row
counts them (`details.more`, `details.last_at`) instead: the timeline says how often, and a
client repeating a request cannot grow the table or a payment's page without end.
"""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payments.models import Payment, PaymentLog


def payment_log_bounded(
    *, payment_id: int, event: str, actor: str, details: dict[str, Any] | None = None,
    from_status: str = "", to_status: str = "", kind: str | None = None,
) -> int:
    """Log one occurrence; returns how many of this kind the payment has had (rows + counted).
    `kind`: a key of `details` that tells this kind from other rows of the same event (an
    upstream error from an upstream callback). Inside the caller's transaction, or its own."""
    cap = settings.PAYMENT_LOG_ROWS_PER_KIND
    with transaction.atomic():
        # Occurrences on one payment queue here, so the cap is exact under concurrency.
        list(Payment.objects.select_for_update().filter(pk=payment_id).values_list("pk", flat=True))
        rows = PaymentLog.objects.filter(payment_id=payment_id, event=event)
        if kind:
            rows = rows.filter(details__has_key=kind)
        stored = rows.count()
        if stored < cap:
            PaymentLog.objects.create(
                payment_id=payment_id, event=event, actor=actor, details=details or {},
                from_status=from_status, to_status=to_status,
            )
            return stored + 1
        last = rows.order_by("-id").first()
        more = int(last.details.get("more", 0)) + 1
        last.details = {**last.details, "more": more, "last_at": timezone.now().isoformat(), "last_actor": actor}
        last.save(update_fields=["details"])
        return stored + more
