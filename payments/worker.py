"""The settlement worker: durable, punctual, safe to run many times over.

The schedule is the `settle_at` column, so a worker that starts settles everything already
due. Between passes it sleeps until the next due time, or until a `worker.wake` message
(a payment was created, the settings changed) arrives on the channel layer; it sweeps at
least every `interval` seconds because the layer may lose a wake-up.

Claims are the services' compare-and-set; on PostgreSQL a batch is also locked with
`SKIP LOCKED` so several workers split the due rows instead of racing for them.
"""

import asyncio
import contextlib
import logging
import os
import random
import socket
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Min
from django.utils import timezone

from payments import events, handover, outcomes, providers, services
from payments.services import batch
from payments.events import WORKER_GROUP
from payments.callback_sender import CallbackSender
from payments.models import Payment, WorkerHeartbeat
from payments.selectors import simulator_settings
from payments.upstream import UpstreamWorker

logger = logging.getLogger("payments.worker")

PROCESSING = Payment.Status.PROCESSING
SIMULATOR = batch.SIMULATOR
HEARTBEAT_EVERY = timedelta(seconds=2)
MIN_PASS_GAP = 0.02


class SettlementWorker:
    def __init__(
        self,
        *,
        seed: int | None = None,
        interval: float = 10.0,
        batch_size: int = 200,
        worker_id: str | None = None,
        actor: str | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.interval = interval
        self.batch_size = batch_size
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.actor = actor or f"worker:{self.worker_id}"
        self.stopping = False
        self.skipped: set[int] = set()
        self.settled = 0
        self._last_beat: datetime | None = None
        self.callbacks = CallbackSender(worker_id=self.worker_id, actor=self.actor, interval=interval)

    # --- one pass, synchronous: tests call these directly -------------------------------

    def handle_one(self, now: datetime | None = None) -> int:
        """Settle, then expire, what is due; returns how many payments this pass ended."""
        now = now or timezone.now()
        config = simulator_settings()
        if config.paused:
            return 0
        # While the sender runs, the callbacks these transactions make due are leased to it
        # as they are written and sent as they commit (payments/handover.py).
        with handover.offering(self.callbacks.taker()):
            done = self._settle_due(now, config.success_rate)
            done += self._expire_due(now - timedelta(seconds=config.expiry_seconds))
        self.settled += done
        return done

    def _lock(self, due) -> list[batch.Claimed]:
        return batch.claim(due, limit=self.batch_size, skipped=self.skipped)

    def _decide(self, claimed: list[batch.Claimed], success_rate: float) -> dict[int, outcomes.Outcome]:
        return batch.decide(claimed, rng=self.rng, success_rate=success_rate)

    def _settle_due(self, now: datetime, success_rate: float) -> int:
        due = Payment.objects.filter(status=PROCESSING, provider=SIMULATOR, settle_at__lte=now).order_by("settle_at", "id")
        with transaction.atomic():
            claimed = self._lock(due)
            return len(self._run_batch(self._decide(claimed, success_rate), services.payment_settle_many))

    def _expire_due(self, created_before: datetime) -> int:
        due = Payment.objects.filter(status=PROCESSING, created_at__lte=created_before).order_by("created_at", "id")
        with transaction.atomic():
            claimed = self._lock(due)
            return len(self._run_batch({row[0]: services.EXPIRED for row in claimed}, _expire_many))

    def _run_batch(self, decided: dict[int, outcomes.Outcome], settle_many: batch.SettleMany) -> list[Payment]:
        return batch.run_batch(decided, settle_many, actor=self.actor, skip=self._skip, stopping=lambda: self.stopping)

    def _skip(self, pk: int, exc: Exception) -> None:
        logger.exception("skipping payment %s: %s", pk, exc)
        self.skipped.add(pk)
        services.payment_log_skip(payment_id=pk, actor=self.actor, error=f"{type(exc).__name__}: {exc}")

    def seconds_until_next(self, now: datetime | None = None) -> float:
        """How long the worker may sleep before something falls due (at most `interval`)."""
        now = now or timezone.now()
        config = simulator_settings()
        if config.paused:
            return self.interval
        processing = Payment.objects.filter(status=PROCESSING).exclude(pk__in=self.skipped)
        due = processing.aggregate(settle=Min("settle_at"), created=Min("created_at"))
        candidates = [self.interval]
        if due["settle"]:
            candidates.append((due["settle"] - now).total_seconds())
        if due["created"]:
            expires = due["created"] + timedelta(seconds=config.expiry_seconds)
            candidates.append((expires - now).total_seconds())
        return max(0.0, min(candidates))

    def beat(self, now: datetime | None = None) -> None:
        now = now or timezone.now()
        if self._last_beat and now - self._last_beat < HEARTBEAT_EVERY:
            return
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={"seen_at": now, "settled_count": self.settled},
            create_defaults={"seen_at": now, "started_at": now, "settled_count": self.settled},
        )
        self._last_beat = now

    def tick(self) -> tuple[int, float]:
        """Heartbeat, one pass, and how long to sleep after it."""
        self.beat()
        done = self.handle_one()
        if done >= self.batch_size:
            return done, 0.0  # a full batch: more may be due right now
        # Nothing left due; at a steady 100 settlements/s a pass per payment cost 0.7 of a
        # core, and a short floor on the gap batches them (p99 lateness ~50 ms, not ~25).
        return done, max(MIN_PASS_GAP, self.seconds_until_next())

    # --- the loop --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        wake, upstream_wake, callbacks_wake = asyncio.Event(), asyncio.Event(), asyncio.Event()
        listener = asyncio.ensure_future(self._listen(wake, upstream_wake, callbacks_wake=callbacks_wake))
        stopper = asyncio.ensure_future(self._relay(stop, wake, callbacks_wake))
        upstream = None
        if providers.active().decides_upstream:
            # The upstream's payments, on the same loop: its HTTP calls run on threads of
            # their own, so a slow upstream never delays the simulator's settlements.
            worker = UpstreamWorker(actor=self.actor, interval=self.interval)
            upstream = asyncio.ensure_future(worker.run(stop, upstream_wake))
        # Callbacks go out from their own task, so a slow receiver never delays a settlement.
        sender = asyncio.ensure_future(self.callbacks.run(stop, callbacks_wake))
        logger.info("settlement worker %s started", self.worker_id)
        try:
            while not stop.is_set():
                # Cleared before the pass, so a wake-up that lands during it is not lost.
                wake.clear()
                delay = await self._pass()
                if delay > 0 and not stop.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=delay)
        finally:
            self.stopping = True
            listener.cancel()
            stopper.cancel()
            if upstream:
                if not stop.is_set():
                    upstream.cancel()  # the loop failed; a stop lets in-flight calls record
                await asyncio.wait([upstream])
            callbacks_wake.set()
            try:
                await asyncio.wait_for(sender, timeout=5)
            except (asyncio.TimeoutError, Exception) as exc:
                logger.warning("callback sender stopped with %s", type(exc).__name__)
            await events.pushes_sent(timeout=5)  # the last passes' pushes (events.send_events)
            logger.info("settlement worker %s stopped after %d settlements", self.worker_id, self.settled)

    async def _pass(self) -> float:
        """One settlement pass; returns how long the loop may wait for a wake-up. The
        callbacks it made due wake the sender as it commits (`events.send_events`)."""
        try:
            _, delay = await sync_to_async(self.tick)()
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database unavailable (%s); retrying in 1 s", exc)
            await sync_to_async(_close_connection)()
            return 1.0
        return delay

    async def _relay(self, stop: asyncio.Event, *wakes: asyncio.Event) -> None:
        await stop.wait()
        self.stopping = True
        for wake in wakes:
            wake.set()

    async def _listen(self, *wakes: asyncio.Event, callbacks_wake: asyncio.Event | None = None) -> None:
        layer = get_channel_layer()
        while True:
            try:
                channel = await layer.new_channel()
                await layer.group_add(WORKER_GROUP, channel)
                while True:
                    message = await layer.receive(channel)
                    if callbacks_wake is not None and message.get("what") == "callbacks":
                        callbacks_wake.set()  # new callbacks: the settlement loop sleeps on
                        continue
                    for wake in wakes:
                        wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the layer is down: the sweep still runs
                logger.warning("channel layer unavailable (%s); wake-ups off for 2 s", exc)
                await asyncio.sleep(2)


def _expire_many(*, decisions: list[services.Decision], actor: str) -> list[Payment]:
    return services.payment_expire_many(payment_ids=[pk for pk, _ in decisions], actor=actor)


def _close_connection() -> None:
    connection.close_if_unusable_or_obsolete()
