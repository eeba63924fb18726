"""Claimed batches: how the worker and "settle all" end many payments at once.

A batch is claimed with `SKIP LOCKED` on PostgreSQL (several workers split the due rows)
and ended in one transaction and one push; if the batch is refused (paused meanwhile, an
operator got there first, a bad row), the same service runs one payment at a time.
"""

import logging
import random
from collections.abc import Callable, Collection
from datetime import timedelta

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from payments import outcomes
from payments.errors import PaymentError
from payments.models import Payment
from payments.services.lifecycle import payment_force_many, payment_log_skip
from payments.services.rules import PROCESSING

logger = logging.getLogger("payments.worker")

SIMULATOR = Payment.Provider.SIMULATOR  # the only payments the simulator decides
SettleMany = Callable[..., list[Payment]]  # a services.payment_<verb>_many
Skip = Callable[[int, Exception], None]
Claimed = tuple[int, str, str, str]  # (pk, phone, kind, external id)


def claim(due, *, limit: int, skipped: Collection[int] = ()) -> list[Claimed]:
    """Lock up to `limit` due rows: (pk, phone, kind, external id) only, so a corrupt row
    can't stop the claim. Call inside a transaction."""
    if skipped:
        due = due.exclude(pk__in=skipped)
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    return list(due.values_list("pk", "phone_number", "kind", "external_id")[:limit])


def decide(claimed: list[Claimed], *, rng: random.Random, success_rate: float) -> dict[int, outcomes.Outcome]:
    """Each one's outcome: its kind's test values, else a draw (the ledger then checks funds)."""
    return {
        pk: outcomes.decide(phone, rng=rng, success_rate=success_rate, kind=kind, external_id=external_id)
        for pk, phone, kind, external_id in claimed
    }


def run_batch(
    decided: dict[int, outcomes.Outcome],
    settle_many: SettleMany,
    *,
    actor: str,
    skip: Skip,
    stopping: Callable[[], bool] = lambda: False,
) -> list[Payment]:
    """One transaction and one push for a claimed batch, else one by one (see the module)."""
    if not decided:
        return []
    try:
        with transaction.atomic():
            return settle_many(decisions=list(decided.items()), actor=actor)
    except (OperationalError, InterfaceError):
        raise  # the database is down: the whole pass is retried later
    except Exception as exc:
        logger.info("batch of %d settled one by one: %s", len(decided), exc)
    done = []
    for pk, outcome in decided.items():
        if stopping():
            break
        try:
            with transaction.atomic():
                done += settle_many(decisions=[(pk, outcome)], actor=actor)
        except PaymentError:
            pass  # someone else (an operator, another worker) ended it first, or paused
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:  # one bad row must not stop the worker
            skip(pk, exc)
    return done


def payment_settle_all(
    *, older_than: timedelta, success_rate: float, actor: str, seed: int | None = None, batch_size: int = 200
) -> dict[str, int]:
    """Force every simulator payment still processing that is older than `older_than` (0: all),
    paused or not, in claimed batches. It is the remedy for a dead worker, so it needs none
    running. Returns how many succeeded and failed."""
    rng = random.Random(seed)
    skipped: set[int] = set()

    def skip(pk: int, exc: Exception) -> None:
        logger.exception("skipping payment %s: %s", pk, exc)
        skipped.add(pk)
        payment_log_skip(payment_id=pk, actor=actor, error=f"{type(exc).__name__}: {exc}")

    counts = {str(Payment.Status.SUCCESSFUL): 0, str(Payment.Status.FAILED): 0}
    due = Payment.objects.filter(status=PROCESSING, provider=SIMULATOR, created_at__lte=timezone.now() - older_than)
    due = due.order_by("created_at", "id")
    while True:
        with transaction.atomic():
            claimed = claim(due, limit=batch_size, skipped=skipped)
            settled = run_batch(decide(claimed, rng=rng, success_rate=success_rate), payment_force_many, actor=actor, skip=skip)
        if not claimed:
            return counts
        for payment in settled:
            counts[payment.status] += 1
