"""Sends the callback outbox: a task beside the settlement loop in every worker process.

Off the settlement path: the HTTP sends (aiohttp) are asyncio tasks on the worker's event loop, and
the database work (claim due rows, record finished attempts) is one short hop per pass to
the worker's ORM thread. A receiver that hangs costs one timeout of one task, never the
settlement loop: at most `concurrency` sends are in flight, each bounded in total time.

Each attempt: the delivery's method and URL (only to the API user's providerCallbackHost,
checked again here), the body as JSON, no redirects followed, at most BODY_READ_LIMIT
bytes of the answer read. 2xx is delivered; anything else, or no answer, is retried on the
schedule in force (`payments/callbacks.py`).
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from datetime import datetime, timezone as dt_timezone
from typing import Any

import aiohttp
from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from django.db.models import Min
from django.db.models.functions import Coalesce, Greatest

from payments import callbacks, calls, destinations, events, services
from payments.callback_slots import Slots
from payments.models import CallbackDelivery

logger = logging.getLogger("payments.callbacks")

PENDING = CallbackDelivery.Status.PENDING
# Between passes: finished sends are recorded together, not one database hop each (the ORM
# thread is the settlement loop's too; at 100 callbacks/s a hop per send cost it ~0.4 s).
MIN_PASS_GAP = 0.05
# Sends in flight per worker; a worker claims no more than it can start at once, so no claim
# waits for a slot while its lease runs. 200 at once made a loaded receiver (and this
# machine) time out the first attempts of a burst; 50 reused connections did not.
CONCURRENCY = 50
# Sends in flight per destination (scheme://host:port), so one receiver that hangs holds at
# most this many slots and every other receiver's callbacks keep their latency.
CONCURRENCY_PER_HOST = 10
SATURATED_PASS_GAP = 0.2
USER_AGENT = "LiveSettle-MoMo-Callback/1"


def request_of(delivery: CallbackDelivery, config: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body bytes and headers of an attempt (signed with Standard Webhooks if asked)."""
    body = json.dumps(delivery.body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    secret = config["signing_secret"]
    if config["signing"] and secret:
        from standardwebhooks.webhooks import Webhook

        message_id = f"msg_{delivery.pk}_{delivery.copy}"  # the same id on every retry
        now = datetime.now(dt_timezone.utc)
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        headers["webhook-signature"] = Webhook(secret).sign(message_id, now, body.decode())
    return body, headers


async def send_one(session: aiohttp.ClientSession, delivery: CallbackDelivery, config: dict[str, Any]) -> dict[str, Any]:
    """One attempt; never raises. The result is what `services.callback_record` takes.

    `session` must resolve through a `destinations.CheckedResolver` for the policy in
    `config` (`CallbackSender.session_for`); an IP literal never reaches a resolver, so the
    URL is checked here first."""
    started_at = timezone.now()
    started = time.monotonic()
    result: dict[str, Any] = {"delivery": delivery, "started_at": started_at, "status_code": None, "error": ""}
    if not callbacks.host_allowed(delivery.url, delivery.payment.momo_user):
        result["error"] = "not sent: the URL's host is not the API user's providerCallbackHost"
        result["latency_ms"] = 0.0
        return result
    body, headers = request_of(delivery, config)
    answer = b""
    try:
        destinations.check_url(delivery.url, config["destinations"])
        async with asyncio.timeout(config["timeout_seconds"]):
            async with session.request(
                delivery.method, delivery.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                answer = await response.content.read(callbacks.BODY_READ_LIMIT)  # at most this much
                result["status_code"] = response.status
        if not 200 <= response.status < 300:
            result["error"] = f"HTTP {response.status}"
    except destinations.Refused as exc:
        _refused(delivery, exc, result)
    except TimeoutError:
        result["error"] = f"timeout after {config['timeout_seconds']:g} s"
    except aiohttp.ClientError as exc:
        result["error"] = (f"{type(exc).__name__}: {exc}"[:300]) or type(exc).__name__
    except Exception as exc:  # a bad URL or anything else: an attempt that failed, not a crash
        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    _report(delivery, headers, body, answer, result)
    return result


def _refused(delivery: CallbackDelivery, exc: destinations.Refused, result: dict[str, Any]) -> None:
    """A destination the policy refuses: a failed attempt on the payment's timeline, nothing
    sent. Logged once per delivery (its first attempt), not once per retry."""
    result["error"] = str(exc)[:300]
    result["final"] = exc.final
    if delivery.attempts == 0:
        logger.warning("callback %s for payment %s not sent: %s", delivery.pk, delivery.payment.reference, exc)


def _report(delivery: CallbackDelivery, headers: dict[str, str], body: bytes, answer: bytes, result: dict[str, Any]) -> None:
    """The attempt, to the integration inspector's stream (payments/calls.py)."""
    calls.outbound_report(
        direction="callback", operation="callback", method=delivery.method, url=delivery.url,
        status=result["status_code"], latency_ms=result["latency_ms"], reference=str(delivery.payment.reference),
        api_user=delivery.payment.momo_user_id, request_headers=headers, request_body=body,
        response_body=answer, error=result["error"],
    )


def _threadsafe_setter(loop: asyncio.AbstractEventLoop, *flags: asyncio.Event):
    """A function any thread may call (an on-commit hook on the ORM thread) to set `flags`."""

    def set_all() -> None:
        for flag in flags:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(flag.set)

    return set_all


class CallbackSender:
    def __init__(
        self, *, worker_id: str, actor: str, concurrency: int = CONCURRENCY, interval: float = 10.0,
        per_host: int | None = None, lookup: destinations.Lookup | None = None,
    ) -> None:
        from django.conf import settings

        self.worker_id = worker_id
        self.actor = actor
        self.concurrency = concurrency
        self.per_host = per_host if per_host is not None else settings.CALLBACK_CONCURRENCY_PER_HOST
        self.interval = interval
        self.lookup = lookup  # None: the system's resolver (tests simulate one)
        self.slots = Slots(concurrency, self.per_host)
        self.in_flight: set[asyncio.Task] = set()
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.finished: list[dict[str, Any]] = []
        self.sent = 0
        self.loop: asyncio.AbstractEventLoop | None = None  # while running: hand-overs accepted
        self.wake: asyncio.Event | None = None

    # --- one pass on the ORM thread: record what finished, claim what is due -------------

    def handle_one(self, finished: list[dict[str, Any]], free: int) -> tuple[list[tuple[CallbackDelivery, dict]], float]:
        """Returns the claimed deliveries (with the settings for each) and the seconds until
        the next one falls due (at most `interval`)."""
        configs = callbacks.SettingsReader()  # read once per scope per pass
        if finished:
            services.callback_record(results=finished, actor=self.actor, settings=configs)
        startable, held = self.slots.claimable()
        free = min(free, startable)
        claimed = []
        if free > 0:
            claimer = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"[-64:]
            deliveries = services.callback_claim(
                claimer=claimer, limit=free, settings=configs, busy=held, per_host=self.per_host
            )
            claimed = [(delivery, configs(delivery.payment.momo_user_id)) for delivery in deliveries]
        if len(claimed) >= free:
            return claimed, self.interval  # no free slot: a finished send wakes the loop
        if self.slots.saturated():
            # What is still due may all be for a full destination: a finished send or a new
            # delivery wakes the loop; meanwhile look again 5 times a second, not 20.
            return claimed, max(self.seconds_until_next(), SATURATED_PASS_GAP)
        return claimed, self.seconds_until_next()

    # --- a settlement's hand-over (payments/handover.py), on the ORM thread ---------------

    def taker(self) -> "CallbackSender | None":
        """Offered to the worker's settlement transactions while this sender runs."""
        return self if self.loop is not None else None

    @property
    def claimer(self) -> str:
        return f"{self.worker_id}:{uuid.uuid4().hex[:12]}"[-64:]

    def reserve(self, key: str) -> bool:
        return self.slots.reserve(key)

    def release(self, keys: list[str]) -> None:
        for key in keys:
            self.slots.unreserve(key)

    def hand_over(self, deliveries: list[tuple[CallbackDelivery, dict[str, Any]]]) -> None:
        try:
            if self.loop is None:
                raise RuntimeError("stopped")
            self.loop.call_soon_threadsafe(self._start, deliveries, True)
        except RuntimeError:  # stopped meanwhile: their leases run out, then any sender claims them
            self.release([callbacks.destination_key(delivery.url) for delivery, _ in deliveries])

    def seconds_until_next(self) -> float:
        now = timezone.now()
        # A row in flight is due again only when its lease runs out: one aggregate for both.
        due = CallbackDelivery.objects.filter(status=PENDING).aggregate(
            at=Min(Greatest("next_attempt_at", Coalesce("claimed_until", "next_attempt_at")))
        )["at"]
        candidates = [self.interval] + ([(due - now).total_seconds()] if due else [])
        return max(0.0, min(candidates))

    # --- the loop --------------------------------------------------------------------

    def session_for(self, config: dict[str, Any]) -> aiohttp.ClientSession:
        """One session per destination policy in force: its resolver checks every address it
        hands the connector, and a policy change never reuses a connection made under another."""
        policy = destinations.in_force(config["destinations"])
        if policy not in self.sessions:
            # aiohttp, not httpx: on this 2-core machine httpx's pool managed ~100 requests/s
            # at 50 in flight (p50 0.3 s), aiohttp ~1,300/s (p50 30 ms), same receiver.
            connector = aiohttp.TCPConnector(
                limit=self.concurrency, limit_per_host=0, use_dns_cache=False,
                resolver=destinations.CheckedResolver(policy, self.lookup),
            )
            self.sessions[policy] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self.sessions[policy]

    async def run(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        """Passes until `stop`. `wake` (finished sends, the layer's wake message) brings the
        next pass forward to at most MIN_PASS_GAP after the last; a commit in this process
        that made callbacks due (`events.local_callback_senders`) starts one at once, and
        one that leased them to this sender (`handover`) starts their sends at once."""
        due = asyncio.Event()
        self.loop, self.wake = asyncio.get_running_loop(), wake
        due_now = _threadsafe_setter(self.loop, due, wake)
        events.local_callback_senders.add(due_now)
        try:
            while not stop.is_set():
                wake.clear()
                due.clear()
                started = time.monotonic()
                await self._pass(wake)
                gap = MIN_PASS_GAP - (time.monotonic() - started)
                if gap > 0 and not stop.is_set() and not due.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(due.wait(), timeout=gap)
        finally:
            events.local_callback_senders.discard(due_now)
            await self._stop()

    async def _pass(self, wake: asyncio.Event) -> None:
        finished, self.finished = self.finished, []
        try:
            claimed, delay = await sync_to_async(self.handle_one)(finished, self.concurrency)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database unavailable (%s); callbacks retried in 1 s", exc)
            self.finished = finished + self.finished  # recorded on a later pass
            claimed, delay = [], 1.0
        self._start(claimed)
        if delay > 0 and not wake.is_set():
            try:
                await asyncio.wait_for(wake.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass

    def _start(self, claimed: list[tuple[CallbackDelivery, dict[str, Any]]], reserved: bool = False) -> None:
        """On the loop: a send per delivery claimed (or handed over, `reserved`) that has a
        slot; the others wait for one (callback_slots)."""
        for delivery, config in claimed:
            key = callbacks.destination_key(delivery.url)
            if self.loop is None:  # stopped: its lease runs out, then any sender claims it
                if reserved:
                    self.slots.unreserve(key)
                continue
            if self.slots.admit(key, (delivery, config), reserved=reserved):
                self._fly(delivery, config, key)

    def _fly(self, delivery: CallbackDelivery, config: dict[str, Any], key: str) -> None:
        task = asyncio.ensure_future(self._send(self.session_for(config), delivery, config, key))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _stop(self) -> None:
        # Stopping: no more hand-overs; what is in flight is abandoned (its lease runs out
        # and it is sent again); what finished is recorded.
        self.loop = None
        self.slots.drop_waiting()  # their leases run out, then any sender claims them
        for task in self.in_flight:
            task.cancel()
        if self.finished:
            try:
                await sync_to_async(services.callback_record)(results=self.finished, actor=self.actor)
            except Exception as exc:
                logger.warning("could not record %d finished callbacks: %s", len(self.finished), exc)
        for session in self.sessions.values():
            await session.close()
        self.sessions.clear()

    async def _send(self, client: aiohttp.ClientSession, delivery: CallbackDelivery, config: dict, key: str) -> None:
        try:
            result = await send_one(client, delivery, config)
        except asyncio.CancelledError:
            self.slots.cancelled(key)
            raise
        self.sent += 1
        self.finished.append(result)
        ready, _ = self.slots.finished(key, _fresh)
        for waiting, waiting_config in ready:
            self._fly(waiting, waiting_config, callbacks.destination_key(waiting.url))
        if self.wake is not None:
            self.wake.set()


def _fresh(item: tuple[CallbackDelivery, dict[str, Any]]) -> bool:
    """Whether a waiting delivery's lease still covers a whole attempt and its recording
    (else it is left to run out and be claimed again: never sent twice for one attempt)."""
    delivery, config = item
    left = (delivery.claimed_until - timezone.now()).total_seconds()
    return left > config["timeout_seconds"] + callbacks.LEASE_MARGIN.total_seconds() / 2
