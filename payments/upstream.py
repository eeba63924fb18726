"""The upstream schedule: settlement workers submitting `momo` payments and reading their
status, so a page flips when the upstream decides, whether or not its callback arrives.

Durable like the simulator's schedule: the `next_check_at` column is the schedule, not
timers in memory. A due payment is leased (services.payment_lease_upstream: a
compare-and-set, SKIP LOCKED on PostgreSQL), called for off the ORM thread, and its answer
recorded through the services:

- not yet submitted: request to pay (X-Reference-Id = its reference); a refund of an
  upstream payment: Disbursement refund (`referenceIdToRefund` = the refunded one's), its
  status from the refund status call, on the same schedule. Accepted (202, or 409
  on a retry) -> first status check in 2 s; a definite refusal -> failed with the
  upstream's code; no definite answer -> the same request again after 1, 2, 4 … 60 s.
- submitted: the status. SUCCESSFUL / FAILED settle it; PENDING (or no answer) -> checked
  again after 2, 4, 8 … 60 s. The callback (payments/upstream_callback.py) only moves the
  check to now: what settles a payment is always the upstream's own status answer.

A payment the upstream keeps PENDING expires like any other (the worker's expiry).
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from payments import services
from payments.models import Payment
from payments.providers import momo

logger = logging.getLogger("payments.upstream")

FIRST_CHECK = 2.0  # seconds from acceptance to the first status check
MAX_BACKOFF = 60.0
SUBMIT_RETRY = 1.0  # first retry of a request to pay that got no definite answer


def backoff(attempts: int, *, first: float = FIRST_CHECK) -> float:
    """2 s, 4 s, 8 s … at most a minute (1 s, 2 s … for a request to pay)."""
    return min(MAX_BACKOFF, first * 2 ** min(attempts, 16))


def lease_seconds() -> float:
    # Long enough for a token fetch, the call and one token refresh and retry.
    return 4 * settings.MOMO_UPSTREAM_TIMEOUT + 5


def callback_token(reference: object) -> str:
    """Unguessable without SECRET_KEY, one per payment; nothing to store."""
    return salted_hmac("livesettle.momo-upstream-callback", str(reference), algorithm="sha256").hexdigest()


def callback_url(reference: object) -> str:
    path = reverse("momo-upstream-callback", kwargs={"reference": reference, "token": callback_token(reference)})
    return settings.MOMO_CALLBACK_BASE + path


@dataclass(frozen=True)
class Answer:
    """What one call learnt. `kind`: accepted | refused | unavailable | unknown | status."""

    kind: str
    code: str = ""
    error: str = ""
    status: momo.UpstreamStatus | None = None


def call(payment: Payment) -> Answer:
    """The HTTP side of one leased payment; touches no database (runs on a pool thread)."""
    reference = str(payment.reference)
    try:
        if payment.kind == Payment.Kind.REFUND:
            return _refund_call(payment, reference)
        if payment.upstream_submitted_at is None:
            momo.request_to_pay(
                reference=reference,
                amount=payment.amount,
                currency=payment.currency,
                phone_number=payment.phone_number,
                party_id_type=payment.party_id_type,
                external_id=payment.external_id or reference,
                callback_url=callback_url(reference),
                payer_message=payment.payer_message,
                payee_note=payment.payee_note,
            )
            return Answer("accepted")
        return Answer("status", status=momo.request_status(reference))
    except momo.UpstreamRefused as exc:
        return Answer("refused", code=exc.code, error=str(exc))
    except momo.UnknownUpstream as exc:
        return Answer("unknown", error=str(exc))
    except momo.UpstreamUnavailable as exc:
        return Answer("unavailable", error=str(exc))


def _refund_call(payment: Payment, reference: str) -> Answer:
    """A refund of an upstream payment goes upstream too, as a Disbursement refund naming
    the refunded payment's reference (loaded with the lease: no query on this thread)."""
    if payment.upstream_submitted_at is None:
        momo.refund(
            reference=reference, amount=payment.amount, currency=payment.currency,
            external_id=payment.external_id or reference, reference_to_refund=str(payment.refund_of.reference),
            callback_url=callback_url(reference), payer_message=payment.payer_message, payee_note=payment.payee_note,
        )
        return Answer("accepted")
    return Answer("status", status=momo.refund_status(reference))


def record(payment: Payment, answer: Answer, *, actor: str) -> bool:
    """Write what the call learnt through the services; True when the payment ended."""
    now = timezone.now()
    lease, attempts = payment.next_check_at, payment.upstream_attempts
    submitting = payment.upstream_submitted_at is None
    try:
        if answer.kind == "accepted":
            services.payment_upstream_accepted(
                payment_id=payment.pk, lease=lease, check_at=now + timedelta(seconds=FIRST_CHECK), actor=actor
            )
        elif answer.kind == "refused":
            services.payment_settle_upstream(payment_id=payment.pk, status="failed", reason=answer.code, actor=actor)
            return True
        elif answer.kind == "status" and answer.status.status != "PENDING":
            final = momo.FINAL_STATUSES[answer.status.status]
            services.payment_settle_upstream(
                payment_id=payment.pk, status=final, reason=answer.status.reason,
                financial_transaction_id=answer.status.financial_transaction_id, actor=actor,
            )
            return True
        else:  # PENDING, no definite answer, or unknown upstream
            first = SUBMIT_RETRY if submitting or answer.kind == "unknown" else FIRST_CHECK
            services.payment_upstream_later(
                payment_id=payment.pk, lease=lease, actor=actor, error=answer.error,
                check_at=now + timedelta(seconds=backoff(attempts, first=first)),
                resubmit=answer.kind == "unknown",
            )
    except services.PaymentError:
        pass  # ended meanwhile (expired, or a test override forced it)
    return False


def seconds_until_next(interval: float, now: datetime | None = None) -> float:
    now = now or timezone.now()
    due = Payment.objects.filter(status=Payment.Status.PROCESSING, provider=Payment.Provider.MOMO)
    first = due.aggregate(first=Min("next_check_at"))["first"]
    if first is None:
        return interval
    return max(0.0, min(interval, (first - now).total_seconds()))


class UpstreamWorker:
    """The settlement worker's upstream half: at most `concurrency` calls in flight."""

    def __init__(self, *, actor: str, interval: float = 10.0, concurrency: int = 8) -> None:
        self.actor = actor
        self.interval = interval
        self.concurrency = concurrency
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="momo-upstream")
        self.in_flight: set[asyncio.Future] = set()
        self.ended = 0

    def lease(self, limit: int) -> list[Payment]:
        now = timezone.now()
        return services.payment_lease_upstream(
            now=now, lease_until=now + timedelta(seconds=lease_seconds()), limit=limit
        )

    def handle_one(self) -> int:
        """One synchronous pass (tests): lease what is due, call, record; how many ended."""
        ended = 0
        for payment in self.lease(self.concurrency):
            ended += record(payment, call(payment), actor=self.actor)
        return ended

    async def run(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        logger.info("upstream schedule on %s started", momo.upstream_host())
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    delay = await self._pass(wake)
                except (OperationalError, InterfaceError) as exc:
                    logger.warning("database unavailable (%s); upstream schedule retries in 1 s", exc)
                    delay = 1.0
                await _sleep(wake, stop, delay)
        finally:
            if self.in_flight:  # each is bounded by the HTTP timeout; their leases cover a kill
                await asyncio.wait(self.in_flight, timeout=lease_seconds())
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def _pass(self, wake: asyncio.Event) -> float:
        free = self.concurrency - len(self.in_flight)
        if free > 0:
            for payment in await sync_to_async(self.lease)(free):
                task = asyncio.ensure_future(self._work(payment, wake))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)
        if len(self.in_flight) >= self.concurrency:
            return self.interval  # a finished call wakes the loop
        return await sync_to_async(seconds_until_next)(self.interval)

    async def _work(self, payment: Payment, wake: asyncio.Event) -> None:
        try:
            answer = await asyncio.get_running_loop().run_in_executor(self.pool, call, payment)
            if answer.kind == "unavailable":
                logger.warning("payment %s: %s; retried later", payment.reference, answer.error)
            self.ended += await sync_to_async(record)(payment, answer, actor=self.actor)
        except Exception:  # one payment must not stop the schedule; its lease expires
            logger.exception("payment %s: upstream call not recorded", payment.reference)
        finally:
            wake.set()


async def _sleep(wake: asyncio.Event, stop: asyncio.Event, delay: float) -> None:
    if delay <= 0 or stop.is_set():
        return
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
