"""Scenarios: small timeline files (YAML or TOML) that play a demo the same way every time.

A file has a `name`, optional `description`, `seed` and `settings` (applied at t=0), and a
`timeline` of steps, each `at` a time in seconds with exactly one action:
- `create`: {phone?, amount?, currency?, booking?, count?, over?} payments through the
  normal service (`count` of them spread evenly `over` seconds; no phone: a random ordinary
  number from the seeded generator);
- `force`: {outcome, reason?}: the newest of the scenario's payments still processing;
- `refund`: {amount?}: a cancellation: the newest of the scenario's successful bookings
  with something left to refund gives back `amount` (default: all that is left), through
  `payment_refund`, paid from the house's disbursement float;
- `transfer`: {phone?, amount?, currency?, count?, over?}: a payout from the house's
  disbursement float to a payee (`phone`, else a random ordinary number);
- `settings`: any live setting (timeout_seconds, success_rate, paused, expiry_seconds,
  approval_mode), through `settings_update`;
- `callbacks`: global MoMo callback settings and faults (drop_rate, delay_seconds,
  duplicates, status_lag_seconds, api_error_rate, …: `payments/callbacks.py`), through
  `callback_settings_update`.

Replayable: the scenario settles its own payments (they are created `scripted`, so the
worker leaves them alone) at their due time in scenario time, with outcomes drawn from
one generator seeded by `seed`, in creation order. Same file and seed: the same payments,
outcomes and order, whatever `speed` (which only compresses the clock).

`load()` validates everything before anything runs: a bad file is one line, nothing created.
"""

import heapq
import logging
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F

from payments import outcomes, services
from payments.models import Payment
from payments.selectors import simulator_settings
from presenter.overrides import SettingsOverride

from presenter.loading import (  # noqa: F401 (the format's names, used as scenarios.X)
    ACTIONS, BUNDLED, MAX_PAYMENTS, MAX_SECONDS, ORDINARY_PHONES, Scenario, ScenarioError, Step, bundled, load, resolve,
)

logger = logging.getLogger("payments.scenarios")


# --- playing ------------------------------------------------------------------------------


@dataclass(order=True)
class _Due:
    at: float
    order: int
    kind: str = field(compare=False)  # an action (create, refund, transfer, ...) or settle
    args: dict[str, Any] = field(compare=False)


class Player:
    """Plays a scenario on a clock of its own (`speed` x wall time); sync steps that the
    command and the dashboard's task both drive: `wait()` says how long until the next is
    due, `run_due()` does what is due. Settlements are scheduled as payments are created."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None, speed: float = 1.0) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.speed = speed
        self.rng = random.Random(self.seed)
        self.actor = f"scenario:{scenario.name}"[:64]
        self.queue: list[_Due] = []
        self.created: list[int] = []  # payment ids, in creation order
        self.decided: dict[int, outcomes.Outcome] = {}
        self.started: float | None = None
        self.settings = SettingsOverride(self.actor)  # restored by finish()
        self._order = 0
        for step in scenario.steps:
            if step.action in ("create", "transfer"):
                args = step.args
                for i in range(args["count"]):
                    offset = args["over"] * i / args["count"] if args["count"] > 1 else 0
                    self._push(step.at + offset, step.action, args)
            else:
                self._push(step.at, step.action, step.args)

    def _push(self, at: float, kind: str, args: dict[str, Any]) -> None:
        self._order += 1
        heapq.heappush(self.queue, _Due(at, self._order, kind, args))

    def now(self) -> float:
        if self.started is None:
            self.started = time.monotonic()
        return (time.monotonic() - self.started) * self.speed

    @property
    def done(self) -> bool:
        return not self.queue

    def start(self) -> None:
        self.now()
        if self.scenario.settings:
            self.settings.apply(self.scenario.settings)

    def finish(self) -> dict[str, Any]:
        """Ended, stopped or reset: the live settings it changed go back (presenter/overrides.py)."""
        return self.settings.restore()

    def wait(self) -> float:
        """Wall seconds until the next step is due (0: now)."""
        return max(0.0, (self.queue[0].at - self.now()) / self.speed) if self.queue else 0.0

    def run_due(self) -> int:
        ran = 0
        while self.queue and self.queue[0].at <= self.now():
            due = heapq.heappop(self.queue)
            getattr(self, f"_{due.kind}")(due)
            ran += 1
        return ran

    def _create(self, due: _Due) -> None:
        args = due.args
        phone = args["phone"] or self.rng.choice(ORDINARY_PHONES)
        payment = services.payment_create(
            amount=args["amount"], currency=args["currency"], phone_number=phone,
            booking_details=args["booking"], actor=self.actor, scripted=True,
        )
        self._decide(payment, due.at)

    def _transfer(self, due: _Due) -> None:
        """A payout from the house's disbursement float, settled like any payment."""
        args = due.args
        phone = args["phone"] or self.rng.choice(ORDINARY_PHONES)
        payment = services.payment_create(
            amount=args["amount"], currency=args["currency"], phone_number=phone,
            kind=Payment.Kind.TRANSFER, actor=self.actor, scripted=True,
        )
        self._decide(payment, due.at)

    def _refund(self, due: _Due) -> None:
        """A cancellation: the newest successful booking with something left gives it back."""
        booked = Payment.objects.filter(
            pk__in=self.created, kind=Payment.Kind.REQUEST_TO_PAY, status=Payment.Status.SUCCESSFUL,
            refunded_amount__lt=F("amount"),
        ).order_by("-id").first()
        if booked is None:
            return
        amount = min(due.args["amount"] or booked.amount, booked.amount - booked.refunded_amount)
        try:
            refund = services.payment_refund(payment=booked, amount=amount, actor=self.actor, strict=True, scripted=True)
        except services.PaymentError as exc:
            logger.info("scenario refund skipped: %s", exc)
            return
        self._decide(refund, due.at)

    def _decide(self, payment: Payment, at: float) -> None:
        """Its outcome, drawn now in creation order (the sequence depends on the seed and the
        file only), and when it settles in scenario time."""
        config = simulator_settings()
        self.created.append(payment.pk)
        case = {"kind": payment.kind, "external_id": payment.external_id}
        self.decided[payment.pk] = outcomes.decide(payment.phone_number, rng=self.rng, success_rate=config.success_rate, **case)
        settle_at = outcomes.settle_at_for(payment.phone_number, payment.created_at, config.timeout_seconds,
                                           approval_mode=config.approval_mode, **case)
        if settle_at is None:
            return  # left to its payer (phone mode), or never answers: expiry ends it
        self._push(at + (settle_at - payment.created_at).total_seconds(), "settle", {"payment_id": payment.pk})

    def _settle(self, due: _Due) -> None:
        payment_id = due.args["payment_id"]
        try:
            services.payment_settle(payment_id=payment_id, outcome=self.decided[payment_id], actor=self.actor)
        except services.PaymentError:
            payment = Payment.objects.filter(pk=payment_id).only("status").first()
            if payment is not None and not payment.is_final:
                self._push(due.at + 0.5, "settle", due.args)  # paused: try again after a moment

    def _force(self, due: _Due) -> None:
        waiting = Payment.objects.filter(pk__in=self.created, status=Payment.Status.PROCESSING).order_by("-id").first()
        if waiting is None:
            return
        outcome = due.args["outcome"]
        self.decided[waiting.pk] = outcome
        try:
            services.payment_force(payment=waiting, outcome=outcome.status, reason=outcome.reason, actor=self.actor)
        except services.PaymentError:
            pass  # ended meanwhile

    def _settings(self, due: _Due) -> None:
        self.settings.apply(due.args["changes"])

    def _callbacks(self, due: _Due) -> None:
        services.callback_settings_update(actor=self.actor, **due.args["changes"])

    def summary(self) -> list[tuple[str, str, str]]:
        """(phone, status, reason) of every payment the scenario created, in creation order."""
        rows = Payment.objects.in_bulk(self.created)
        return [(rows[pk].phone_number, rows[pk].status, rows[pk].reason) for pk in self.created if pk in rows]


def run(player: Player, *, should_stop=lambda: False, sleep=time.sleep) -> None:
    """Play to the end (every payment final, or the queue empty), or until `should_stop()`."""
    player.start()
    try:
        while not player.done and not should_stop():
            sleep(min(player.wait(), 0.25))
            player.run_due()
    finally:
        player.finish()


# --- background traffic ----------------------------------------------------------------------

MAX_RATE = 200.0  # payments per second


def parse_rate(value: str) -> float:
    """`2/s`, `30/min` or a plain number per second; ValueError in words."""
    text = str(value).strip().lower()
    number, _, unit = text.partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0}.get(unit.strip())
    try:
        rate = float(number) / per if per else -1.0
    except ValueError:
        rate = -1.0
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"{value!r} is not a rate like 2/s or 30/min (more than 0, at most {MAX_RATE:g}/s)")
    return rate


class Traffic:
    """Ordinary payments at a steady rate, settled by the worker like any other: the
    dashboard stays lively between live payments."""

    def __init__(self, *, rate: float, seed: int | None = None) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.created = 0
        self.started = time.monotonic()

    def wait(self) -> float:
        return max(0.0, self.started + self.created / self.rate - time.monotonic())

    def run_due(self) -> int:
        due = int((time.monotonic() - self.started) * self.rate) + 1 - self.created
        for _ in range(max(0, due)):
            services.payment_create(
                amount=Decimal(self.rng.randrange(500, 20000)) / 100,
                currency="EUR",
                phone_number=self.rng.choice(ORDINARY_PHONES),
                booking_details={"item": "Background traffic"},
                actor="traffic",
            )
            self.created += 1
        return max(0, due)
