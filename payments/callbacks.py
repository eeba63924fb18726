"""MoMo callbacks: live settings, retry schedules, the outbox rows, and the injected faults.

A payment that carries a callback URL gets its `CallbackDelivery` rows in the transaction
that makes it final (`outbox_rows`, called from the one transition path in services), so
no final state is without its delivery and none exists for a change that rolled back.
The worker (`payments/callback_sender.py`) sends them.

Settings are one JSON object per scope: the global row, then an API user's row overriding
only the keys it holds. Every key, its default and its check are in `SETTINGS`.

Injected faults stay reproducible: each decision is drawn from a generator seeded with
the `seed` setting (the demo's `--seed`) and the payment's reference, so the same seed
and the same references give the same drops and the same refusals in any worker.
"""

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlsplit

from payments.errors import SettingError
from payments import destinations
from payments.models import CallbackDelivery, CallbackSettings, MomoApiUser, Payment

MOMO_SCHEDULE = "momo"
ONCE_SCHEDULE = "once"
MAX_CUSTOM_RETRIES = 100
MAX_DUPLICATES = 20
BODY_READ_LIMIT = 4096  # bytes of a receiver's answer read, at most
LEASE_MARGIN = timedelta(seconds=5)  # a claim outlives the send's timeout by this much


def _number(low: float, high: float, *, integer: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        try:
            number = int(value) if integer else float(value)
        except (TypeError, ValueError):
            raise SettingError(f"must be a {'whole ' if integer else ''}number from {low:g} to {high:g}") from None
        if integer and float(value) != number or not low <= number <= high:
            raise SettingError(f"must be a {'whole ' if integer else ''}number from {low:g} to {high:g}")
        return number

    return check


def _schedule(value: Any) -> str:
    text = str(value).strip().lower()
    if text in (MOMO_SCHEDULE, ONCE_SCHEDULE):
        return text
    try:
        delays = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        delays = []
    if not delays or len(delays) > MAX_CUSTOM_RETRIES or not all(0 <= d <= 86_400 for d in delays):
        raise SettingError(
            "must be 'momo', 'once', or a comma-separated list of retry delays in seconds (e.g. 1,5,30)"
        )
    return ",".join(f"{d:g}" for d in delays)


def _method(value: Any) -> str:
    method = str(value).upper()
    if method not in ("POST", "PUT"):
        raise SettingError("must be POST or PUT")
    return method


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingError("must be true or false")


def _destinations(value: Any) -> str:
    policy = str(value).strip().lower()
    if policy not in destinations.POLICIES:
        raise SettingError(f"must be one of {', '.join(destinations.POLICIES)}")
    return policy


def _seed(value: Any) -> int | None:
    if value is None or str(value).lower() in ("", "none"):
        return None
    return int(_number(0, 2**63 - 1, integer=True)(value))


@dataclass(frozen=True)
class Setting:
    default: Any
    check: Callable[[Any], Any]
    help: str
    per_user: bool = True


SETTINGS: dict[str, Setting] = {
    "schedule": Setting(MOMO_SCHEDULE, _schedule, "retries: momo (20 x 1 s, 30 x 2 min, then hourly), once, or a list of delays in s"),
    "max_age_seconds": Setting(86_400, _number(1, 30 * 86_400, integer=True), "give up this long after the payment became final"),
    "timeout_seconds": Setting(2.0, _number(0.1, 60), "per attempt, connect to answer read", per_user=False),
    "method": Setting("POST", _method, "POST or PUT"),
    "destinations": Setting(
        destinations.AUTO, _destinations,
        "where callbacks may go: public, loopback (+ this machine), private (+ the LAN), "
        "auto (loopback while the server listens on loopback only, else public)",
    ),
    "signing": Setting(False, _boolean, "sign with Standard Webhooks headers (a LiveSettle extension)"),
    "delay_seconds": Setting(0.0, _number(0, 3600), "fault: hold each callback this long before its first attempt"),
    "drop_rate": Setting(0.0, _number(0, 1), "fault: share of callbacks never sent"),
    "duplicates": Setting(1, _number(1, MAX_DUPLICATES, integer=True), "fault: copies of each callback"),
    "duplicate_spread_seconds": Setting(0.0, _number(0, 3600), "fault: the copies spread evenly over this long"),
    "status_lag_seconds": Setting(0.0, _number(0, 3600), "fault: the status call says PENDING until this long after the callback was sent"),
    "api_latency_ms": Setting(0, _number(0, 30_000, integer=True), "fault: added to every request to pay and status call"),
    "api_error_rate": Setting(0.0, _number(0, 1), "fault: share of requests to pay and status calls refused with 503/500"),
    "seed": Setting(None, _seed, "seeds every fault decision (the demo's --seed); unset: random", per_user=False),
}


def clean(changes: dict[str, Any], *, per_user: bool) -> dict[str, Any]:
    """Checked values, or SettingError naming the first bad key. None removes a per-user key."""
    cleaned = {}
    for name, value in changes.items():
        setting = SETTINGS.get(name)
        if setting is None:
            raise SettingError(f"Unknown callback setting {name!r}; known: {', '.join(SETTINGS)}.")
        if per_user and not setting.per_user:
            raise SettingError(f"The callback setting {name} is global only.")
        if value is None and per_user:
            cleaned[name] = None
            continue
        try:
            cleaned[name] = setting.check(value)
        except SettingError as exc:
            raise SettingError(f"The callback setting {name} {exc}.") from None
    return cleaned


def scope_of(momo_user_id: Any) -> str:
    return str(momo_user_id) if momo_user_id else CallbackSettings.GLOBAL


def effective(momo_user_id: Any = None) -> dict[str, Any]:
    """The settings in force for an API user's callbacks (or the global ones)."""
    rows = {
        scope: (values, secret)
        for scope, values, secret in CallbackSettings.objects.filter(
            scope__in={CallbackSettings.GLOBAL, scope_of(momo_user_id)}
        ).values_list("scope", "values", "signing_secret")
    }
    values = {name: setting.default for name, setting in SETTINGS.items()}
    values.update(rows.get(CallbackSettings.GLOBAL, ({}, ""))[0])
    values["signing_secret"] = ""
    if momo_user_id:
        own, secret = rows.get(scope_of(momo_user_id), ({}, ""))
        values.update({k: v for k, v in own.items() if SETTINGS[k].per_user})
        values["signing_secret"] = secret
    return values


class SettingsReader:
    """`effective()` read at most once per scope: one pass of a worker, one batch."""

    def __init__(self) -> None:
        self.read: dict[Any, dict[str, Any]] = {}

    def __call__(self, momo_user_id: Any = None) -> dict[str, Any]:
        if momo_user_id not in self.read:
            self.read[momo_user_id] = effective(momo_user_id)
        return self.read[momo_user_id]


# --- retry schedules -----------------------------------------------------------------------


def retry_delay(schedule: str, attempts: int) -> float | None:
    """Seconds to wait after the `attempts`-th failed attempt, or None: give up."""
    if schedule == ONCE_SCHEDULE:
        return None
    if schedule == MOMO_SCHEDULE:
        # MTN: 20 retries 1 s apart, then every 2 minutes 30 times, then hourly.
        if attempts <= 20:
            return 1.0
        if attempts <= 50:
            return 120.0
        return 3600.0
    delays = [float(d) for d in schedule.split(",")]
    return delays[attempts - 1] if attempts <= len(delays) else None


# --- reproducible fault decisions ------------------------------------------------------------


def chance(seed: int | None, *parts: Any) -> float:
    """A number in [0, 1): fixed by (seed, parts) when seeded, else random."""
    if seed is None:
        return random.random()
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --- the outbox ------------------------------------------------------------------------------


def host_allowed(url: str, momo_user: MomoApiUser | None) -> bool:
    """Callbacks go only to the API user's providerCallbackHost (MoMo's rule)."""
    if momo_user is None or not momo_user.provider_callback_host:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return parts.hostname.lower() == _host_name(momo_user.provider_callback_host)


def _host_name(host: str) -> str:
    """The name in a providerCallbackHost: `example.com:8080`, `[::1]:80`, `::1` or a name."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.split(":")[0] if host.count(":") == 1 else host


def destination_key(url: str) -> str:
    """What the per-host cap counts: `scheme://host:port` as written in the URL, lower case."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def outbox_rows(
    payments: list[Payment], *, now: datetime, body_of: Callable[[Payment], dict], settings: SettingsReader | None = None
) -> list[CallbackDelivery]:
    """The deliveries for payments just made final (unsaved; the caller bulk-creates them)."""
    rows = []
    settings = settings or SettingsReader()
    for payment in payments:
        if not payment.callback_url:
            continue
        config = settings(payment.momo_user_id)
        dropped = chance(config["seed"], payment.reference, "drop") < config["drop_rate"]
        first = now + timedelta(seconds=config["delay_seconds"])
        copies = config["duplicates"]
        for copy in range(1, copies + 1):
            spread = config["duplicate_spread_seconds"] * (copy - 1) / max(copies - 1, 1)
            rows.append(
                CallbackDelivery(
                    payment=payment,
                    url=payment.callback_url,
                    method=config["method"],
                    body=body_of(payment),
                    copy=copy,
                    status=CallbackDelivery.Status.DROPPED if dropped else CallbackDelivery.Status.PENDING,
                    next_attempt_at=first + timedelta(seconds=spread),
                    give_up_at=now + timedelta(seconds=config["max_age_seconds"]),
                    created_at=now,
                    updated_at=now,
                )
            )
            if dropped:
                break
    return rows


def status_lag_pending(payment: Payment, now: datetime, config: dict[str, Any] | None = None) -> bool:
    """Callback-before-status fault: the status call still answers PENDING for
    `status_lag_seconds` after the callback was first sent (and before it was). `config`:
    the payment's API user's settings in force, if the caller has them (else read)."""
    if not payment.is_final or not payment.callback_url:
        return False
    lag = (config or effective(payment.momo_user_id))["status_lag_seconds"]
    if not lag:
        return False
    first_sent = (
        CallbackDelivery.objects.filter(payment=payment, first_sent_at__isnull=False)
        .order_by("first_sent_at")
        .values_list("first_sent_at", flat=True)
        .first()
    )
    return first_sent is None or now < first_sent + timedelta(seconds=lag)


# --- faults on the MoMo API itself -----------------------------------------------------------

API_REFUSALS = ((503, "SERVICE_UNAVAILABLE"), (500, "INTERNAL_PROCESSING_ERROR"))
_api_calls = iter(range(2**62))  # this process's call number: seeded runs repeat call by call


@dataclass(frozen=True)
class ApiFault:
    latency_seconds: float
    refusal: tuple[int, str] | None  # (HTTP status, MoMo code) to answer instead


def api_fault(momo_user_id: Any, *, operation: str, config: dict[str, Any] | None = None) -> ApiFault:
    """What the fault settings (`config`, else read: `effective`) do to one request to pay
    or status call."""
    config = effective(momo_user_id) if config is None else config
    refusal = None
    if config["api_error_rate"]:
        call = next(_api_calls)
        if chance(config["seed"], "api", operation, call) < config["api_error_rate"]:
            refusal = API_REFUSALS[int(chance(config["seed"], "api-kind", call) * len(API_REFUSALS))]
    return ApiFault(config["api_latency_ms"] / 1000, refusal)
