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
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db.models import F

from payments import callbacks, outcomes, services, validation
from payments.models import Payment
from payments.selectors import simulator_settings
from presenter.overrides import SettingsOverride

logger = logging.getLogger("payments.scenarios")
BUNDLED = Path(django_settings.BASE_DIR) / "scenarios"
MAX_PAYMENTS = 10_000
MAX_SECONDS = 24 * 3600
ORDINARY_PHONES = [f"4673312{n:04d}" for n in range(3470, 3500)]  # never a sandbox test number
ANY_PHONE = ORDINARY_PHONES[0]  # stands in while a step without a phone is checked
SETTING_NAMES = set(services.SETTING_CHECKS)


ACTIONS = ("create", "force", "settings", "callbacks", "refund", "transfer")


class ScenarioError(ValueError):
    """A file that cannot be played, in one line that names the place."""


@dataclass(frozen=True)
class Step:
    at: float
    action: str  # create | force | settings
    args: dict[str, Any]


@dataclass
class Scenario:
    name: str
    description: str
    seed: int
    settings: dict[str, Any]
    steps: list[Step]
    source: str = ""

    @property
    def payments(self) -> int:
        return sum(s.args["count"] for s in self.steps if s.action in ("create", "transfer"))


# --- loading and validation -----------------------------------------------------------------


MAX_FILE_BYTES = 256 * 1024  # the bundled ones are a few hundred bytes


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*name` is how a 541-byte file expands to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a scenario file", mark)
        return super().compose_node(parent, index)


def _read(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(f"the file is {size:,} bytes; a scenario file is at most {MAX_FILE_BYTES:,}")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.load(text, Loader=_NoAliasLoader)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"not valid {kind}: {_first_line(exc)}") from None
    except RecursionError:
        raise ScenarioError(f"not valid {kind}: nested too deep") from None
    except ValueError as exc:  # an integer too long to read (Python's digit limit), a bad date
        raise ScenarioError(f"not valid {kind}: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError("the file must be a mapping with a `timeline` list")
    return data


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return validation.shown_text(text.splitlines()[0])[:200] if text else type(exc).__name__


def _text(value: Any, where: str, *, max_length: int) -> str:
    """A scenario's name or description, by the same text rule as every other input."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: must be text")
    try:
        return validation.clean_text(value, label=where, max_length=max_length)
    except ValidationError as exc:
        raise ScenarioError(exc.messages[0].rstrip(".")) from None


def _number(value: Any, where: str, *, low: float = 0, high: float = MAX_SECONDS) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ScenarioError(f"{where}: must be a number from {low:g} to {high:g}")
    return float(value)


def _settings(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a mapping of live settings")
    unknown = set(value) - SETTING_NAMES
    if unknown:
        raise ScenarioError(f"{where}: unknown setting {sorted(unknown)[0]!r} (use {', '.join(sorted(SETTING_NAMES))})")
    checked = {}
    for name, item in value.items():
        try:
            checked[name] = services.SETTING_CHECKS[name](item)
        except services.InvalidValue as exc:
            raise ScenarioError(f"{where}.{name}: {exc}") from None
    return checked


def _callbacks(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise ScenarioError(f"{where}: must be a mapping of callback settings")
    try:
        return {"changes": callbacks.clean(value, per_user=False)}
    except callbacks.SettingError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _create(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a mapping (phone, amount, currency, booking, count, over)")
    unknown = set(value) - {"phone", "amount", "currency", "booking", "count", "over"}
    if unknown:
        raise ScenarioError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    try:  # the payment's own rules (payment_create's), checked as the file loads
        checked = services.payment_check(
            amount=value.get("amount", "25.00"), currency=value.get("currency", "EUR"),
            phone_number=value.get("phone", ANY_PHONE), booking_details=value.get("booking", {}),
        )
    except services.InvalidValue as exc:
        raise ScenarioError(f"{where}{'.booking' if exc.field == 'booking_details' else ''}: {exc}") from None
    phone = checked["phone_number"] if "phone" in value else None
    amount, currency, booking = checked["amount"], checked["currency"], checked["booking_details"]
    count = value.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PAYMENTS:
        raise ScenarioError(f"{where}.count: must be a whole number from 1 to {MAX_PAYMENTS}")
    over = _number(value.get("over", 0), f"{where}.over")
    return {"phone": phone, "amount": amount, "currency": currency, "booking": booking, "count": count, "over": over}


def _force(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a mapping (outcome, reason)")
    try:
        outcome = services.check_outcome(value.get("outcome"), value.get("reason", ""))
    except services.InvalidValue as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return {"outcome": outcome}


def _refund(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict) or set(value) - {"amount"}:
        raise ScenarioError(f"{where}: must be a mapping with at most an `amount`")
    try:
        amount = validation.clean_amount(value["amount"]) if "amount" in value else None
    except ValidationError as exc:
        raise ScenarioError(f"{where}: {exc.messages[0]}") from None
    return {"amount": amount}


def _transfer(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict) and "booking" in value:
        raise ScenarioError(f"{where}: unknown field 'booking'")
    return _create(value, where)


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict) or "at" not in raw:
        raise ScenarioError(f"{where}: each step needs `at` (seconds) and one action")
    at = _number(raw["at"], f"{where}.at")
    actions = [name for name in ACTIONS if name in raw]
    extra = set(raw) - {"at", *ACTIONS}
    if extra:
        raise ScenarioError(f"{where}: unknown action {sorted(extra)[0]!r} (use {', '.join(ACTIONS)})")
    if len(actions) != 1:
        raise ScenarioError(f"{where}: exactly one of {', '.join(ACTIONS)}")
    action = actions[0]
    check = {"create": _create, "force": _force, "settings": _settings, "callbacks": _callbacks,
             "refund": _refund, "transfer": _transfer}[action]
    args = check(raw[action], f"{where}.{action}")
    return Step(at, action, args if action != "settings" else {"changes": args})


def load(path: str | Path) -> Scenario:
    """The validated scenario; ScenarioError (`<file>: <where>: <what>`) otherwise."""
    path = Path(path)
    try:
        data = _read(path)
        unknown = set(data) - {"name", "description", "seed", "settings", "timeline"}
        if unknown:
            raise ScenarioError(f"unknown key {sorted(unknown)[0]!r}")
        timeline = data.get("timeline")
        if not isinstance(timeline, list) or not timeline:
            raise ScenarioError("`timeline` must be a non-empty list of steps")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ScenarioError("seed: must be a whole number from 0 to 2**63 - 1")
        scenario = Scenario(
            name=_text(data.get("name"), "name", max_length=80) or validation.shown_text(path.stem)[:80],
            description=_text(data.get("description"), "description", max_length=300),
            seed=seed,
            settings=_settings(data.get("settings", {}), "settings"),
            steps=sorted((_step(raw, f"timeline[{i}]") for i, raw in enumerate(timeline)), key=lambda s: s.at),
            source=str(path),
        )
        if scenario.payments > MAX_PAYMENTS:
            raise ScenarioError(f"at most {MAX_PAYMENTS} payments in one scenario")
        return scenario
    except ScenarioError as exc:
        raise ScenarioError(f"{validation.shown_text(path.name)[:120]}: {exc}") from None


def resolve(name_or_path: str) -> Path:
    """A path, or the stem of a bundled scenario (`rush_hour`)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    for candidate in (BUNDLED / f"{name_or_path}.yaml", BUNDLED / f"{name_or_path}.toml"):
        if candidate.exists():
            return candidate
    return path


def bundled() -> list[tuple[str, Scenario]]:
    """The scenarios in scenarios/, by file stem; a bad file is left out with one log line."""
    found = []
    for path in sorted(BUNDLED.glob("*.y*ml")) + sorted(BUNDLED.glob("*.toml")):
        try:
            found.append((path.stem, load(path)))
        except ScenarioError as exc:
            logger.warning("scenario left out: %s", exc)
    return found


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
