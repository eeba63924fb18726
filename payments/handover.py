"""Callbacks leased in the transaction that makes them due, and sent the moment it commits.

A worker settles inside `offering(its sender)`. The outbox rows that transaction writes
(`lifecycle._outbox`) and that are due at once are written already leased to that sender,
as far as it has free slots (its per-destination cap and its sends in flight, counted as
its own claims count them), and handed to it on commit: the send starts on the worker's
event loop without waiting for the sender's next pass, nor for a claim behind the
settlement loop on the worker's one ORM thread.

What is not taken (no sender offered, no free slot, a delay or a drop injected, copies
spread out) is written unleased, as before, for any sender's claim. The lease is the one a
claim gives (`services.callback_claim`): a rolled-back transaction leaves no row; a worker
that dies after the commit leaves rows whose lease runs out, then any sender claims them.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db import connection, transaction

from payments import callbacks
from payments.models import CallbackDelivery


class Taker(Protocol):
    """What a sender offers a settlement transaction (`CallbackSender.taker`)."""

    @property
    def claimer(self) -> str:
        """A new claimer name (unique per lease, as per claim)."""

    def reserve(self, key: str) -> bool:
        """A slot for one send to destination `key`, if one is free (any thread)."""

    def release(self, keys: list[str]) -> None:
        """Slots reserved for sends that will not be handed over."""

    def hand_over(self, deliveries: list[tuple[CallbackDelivery, dict[str, Any]]]) -> None:
        """Committed deliveries leased to `claimer`, each with its settings: send them now."""


class Leased:
    """The deliveries one transaction leased: handed over on commit, else released."""

    def __init__(self, taker: Taker, taken: list[tuple[CallbackDelivery, dict[str, Any]]]) -> None:
        self.taker = taker
        self.taken = taken
        self.settled = False  # handed over, or released

    def hand_over(self) -> None:
        if not self.settled:
            self.settled = True
            self.taker.hand_over(self.taken)

    def release(self) -> None:
        if not self.settled:
            self.settled = True
            self.taker.release([callbacks.destination_key(delivery.url) for delivery, _ in self.taken])


_offered: ContextVar[tuple[Taker, list[Leased]] | None] = ContextVar("callback_taker", default=None)


@contextmanager
def offering(taker: Taker | None) -> Iterator[None]:
    """Inside: deliveries due at once go to `taker` (None: to no one). Wrap whole
    transactions: what did not commit by the end is released, never sent from here."""
    if taker is None:
        yield
        return
    batches: list[Leased] = []
    token = _offered.set((taker, batches))
    try:
        yield
    finally:
        _offered.reset(token)
        for batch in batches:
            batch.release()


def lease(rows: list[CallbackDelivery], *, now: datetime, settings: callbacks.SettingsReader) -> "Leased | None":
    """Before the rows are inserted: lease the ones the offered taker has room for. The
    caller registers their hand-over (`hand_over_on_commit`) once its push is registered."""
    offered = _offered.get()
    if offered is None or not connection.features.can_return_rows_from_bulk_insert:
        return None
    taker, batches = offered
    claimer = taker.claimer  # one per transaction, as one per claim
    until = now + timedelta(seconds=settings()["timeout_seconds"]) + callbacks.LEASE_MARGIN
    taken = []
    for row in rows:
        due = row.status == CallbackDelivery.Status.PENDING and row.next_attempt_at <= now
        if due and taker.reserve(callbacks.destination_key(row.url)):
            row.claimed_by, row.claimed_until = claimer, until
            taken.append((row, settings(row.payment.momo_user_id)))
    if not taken:
        return None
    batch = Leased(taker, taken)
    batches.append(batch)  # released when the offer ends, unless handed over by then
    return batch


def hand_over_on_commit(batch: "Leased | None") -> None:
    """The hand-over of `batch`, on commit, after the hooks registered before it: the
    transition registers its push first, so a page's push never waits behind the sends
    starting on the worker's loop. Discarded with the savepoint, if that rolls back."""
    if batch is not None:
        transaction.on_commit(batch.hand_over)
