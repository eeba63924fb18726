"""The settlement worker: durable, punctual, safe to run many times over.

The schedule is the `settle_at` column, so a worker that starts settles everything already
due. Between passes it sleeps until the next due time, or until a `worker.wake` message
(a payment was created, the settings changed) arrives on the channel layer; it sweeps at
least every `interval` seconds because the layer may lose a wake-up.

Claims are the services' compare-and-set; on PostgreSQL a batch is also locked with
`SKIP LOCKED` so several workers split the due rows instead of racing for them.
"""

import asyncio
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

from consumers.broadcast import WORKER_GROUP
from payments import outcomes, providers, services
from payments.models import Payment, WorkerHeartbeat
from payments.selectors import simulator_settings
from payments.upstream import UpstreamWorker

logger = logging.getLogger("payments.worker")

PROCESSING = Payment.Status.PROCESSING
SIMULATOR = Payment.Provider.SIMULATOR  # the only payments this worker decides
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
    ) -> None:
        self.rng = random.Random(seed)
        self.interval = interval
        self.batch_size = batch_size
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.actor = f"worker:{self.worker_id}"
        self.stopping = False
        self.skipped: set[int] = set()
        self.settled = 0
        self._last_beat: datetime | None = None

    # --- one pass, synchronous: tests call these directly -------------------------------

    def handle_one(self, now: datetime | None = None) -> int:
        """Settle, then expire, what is due; returns how many payments this pass ended."""
        now = now or timezone.now()
        config = simulator_settings()
        if config.paused:
            return 0
        done = self._settle_due(now, config.success_rate)
        done += self._expire_due(now - timedelta(seconds=config.expiry_seconds))
        self.settled += done
        return done

    def _lock(self, due) -> list[tuple[int, str]]:
        """Claim up to a batch of due rows: (pk, phone) only, so a corrupt row can't stop the claim."""
        if self.skipped:
            due = due.exclude(pk__in=self.skipped)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        return list(due.values_list("pk", "phone_number")[: self.batch_size])

    def _settle_due(self, now: datetime, success_rate: float) -> int:
        due = Payment.objects.filter(status=PROCESSING, provider=SIMULATOR, settle_at__lte=now).order_by("settle_at", "id")
        with transaction.atomic():
            claimed = self._lock(due)
            if not claimed:
                return 0
            decided = {
                pk: outcomes.decide(phone, rng=self.rng, success_rate=success_rate) for pk, phone in claimed
            }
            try:
                with transaction.atomic():
                    payments = Payment.objects.filter(pk__in=decided).order_by("settle_at", "id")
                    decisions = [(payment, decided[payment.pk]) for payment in payments]
                    return len(services.payment_settle_many(decisions=decisions, actor=self.actor))
            except (OperationalError, InterfaceError):
                raise  # the database is down: the whole pass is retried later
            except Exception as exc:
                # Paused meanwhile, an operator got there first, or a bad row: go one by one.
                logger.info("batch of %d settled one by one: %s", len(decided), exc)
            return self._one_by_one(
                decided,
                lambda pk: services.payment_settle(payment_id=pk, outcome=decided[pk], actor=self.actor),
            )

    def _expire_due(self, created_before: datetime) -> int:
        due = Payment.objects.filter(status=PROCESSING, created_at__lte=created_before).order_by("created_at", "id")
        with transaction.atomic():
            claimed = [pk for pk, _ in self._lock(due)]
            return self._one_by_one(
                claimed, lambda pk: services.payment_expire(payment_id=pk, actor=self.actor)
            )

    def _one_by_one(self, pks, settle) -> int:
        done = 0
        for pk in pks:
            if self.stopping:
                break
            try:
                with transaction.atomic():
                    settle(pk)
                done += 1
            except services.PaymentError:
                pass  # someone else (an operator, another worker) ended it first, or paused
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:  # one bad row must not stop the worker
                self._skip(pk, exc)
        return done

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
        wake, upstream_wake = asyncio.Event(), asyncio.Event()
        listener = asyncio.ensure_future(self._listen(wake, upstream_wake))
        stopper = asyncio.ensure_future(self._relay(stop, wake))
        upstream = None
        if providers.active().decides_upstream:
            # The upstream's payments, on the same loop: its HTTP calls run on threads of
            # their own, so a slow upstream never delays the simulator's settlements.
            worker = UpstreamWorker(actor=self.actor, interval=self.interval)
            upstream = asyncio.ensure_future(worker.run(stop, upstream_wake))
        logger.info("settlement worker %s started", self.worker_id)
        try:
            while not stop.is_set():
                # Cleared before the pass, so a wake-up that lands during it is not lost.
                wake.clear()
                try:
                    _, delay = await sync_to_async(self.tick)()
                except (OperationalError, InterfaceError) as exc:
                    logger.warning("database unavailable (%s); retrying in 1 s", exc)
                    await sync_to_async(_close_connection)()
                    delay = 1.0
                if delay > 0 and not stop.is_set():
                    try:
                        await asyncio.wait_for(wake.wait(), timeout=delay)
                    except asyncio.TimeoutError:
                        pass
        finally:
            self.stopping = True
            listener.cancel()
            stopper.cancel()
            if upstream:
                if not stop.is_set():
                    upstream.cancel()  # the loop failed; a stop lets in-flight calls record
                await asyncio.wait([upstream])
            logger.info("settlement worker %s stopped after %d settlements", self.worker_id, self.settled)

    def request_stop(self) -> None:
        self.stopping = True

    async def _relay(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        await stop.wait()
        self.stopping = True
        wake.set()

    async def _listen(self, *wakes: asyncio.Event) -> None:
        layer = get_channel_layer()
        while True:
            try:
                channel = await layer.new_channel()
                await layer.group_add(WORKER_GROUP, channel)
                while True:
                    await layer.receive(channel)
                    for wake in wakes:
                        wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the layer is down: the sweep still runs
                logger.warning("channel layer unavailable (%s); wake-ups off for 2 s", exc)
                await asyncio.sleep(2)


def _close_connection() -> None:
    connection.close_if_unusable_or_obsolete()
