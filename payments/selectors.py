"""Reads that several callers share. Snapshots are the wire format of a payment."""

import functools
import statistics
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from payments import accounts, validation
from payments.filters import Filter
from payments.models import (
    CallbackDelivery, LedgerAccount, MomoApiUser, Payment, PaymentLog, SimulatorSettings, WorkerHeartbeat,
)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def payment_snapshot(payment: Payment) -> dict[str, Any]:
    """The contract's payment JSON, used by the API, the pages and every push.

    A payment read with `booking_details` deferred (the dashboard's rows never show them)
    gives a snapshot without that key rather than a query per row. Stored booking details
    that break today's rule (rows written before it) show as {}: no stored value can break
    a render or a push.
    """
    snapshot = {
        "reference": str(payment.reference),
        "status": payment.status,
        "reason": payment.reason,
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        "phone_number": payment.phone_number,
        "external_id": validation.shown_text(payment.external_id),
        "booking_details": None,
        "financial_transaction_id": payment.financial_transaction_id,
        "created_at": _iso(payment.created_at),
        "settle_at": _iso(payment.settle_at),
        "settled_at": _iso(payment.settled_at),
        "version": payment.version,
        "kind": payment.kind,
        "direction": payment.direction,
        "refunded_amount": f"{payment.refunded_amount:.2f}",
        "checkout_url": f"{settings.PUBLIC_URL}/pay/{payment.reference}/",
    }
    if "booking_details" in payment.get_deferred_fields():
        del snapshot["booking_details"]
    else:
        snapshot["booking_details"] = validation.shown_booking_details(payment.booking_details)
    return snapshot


def mask_phone(phone: str) -> str:
    """What anyone with only a payment's reference sees of its phone number: 467•••••499."""
    return phone[:3] + "•" * max(0, len(phone) - 6) + phone[-3:]


def public_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The payment JSON for a reader who is neither staff nor the payment's owner."""
    return {**snapshot, "phone_number": mask_phone(snapshot["phone_number"])}


def callback_snapshot(delivery: CallbackDelivery) -> dict[str, Any]:
    """A callback delivery as the dashboard shows it (pushed in `callbacks.updated`)."""
    return {
        "id": delivery.pk,
        "reference": str(delivery.payment.reference),
        "url": delivery.url,
        "method": delivery.method,
        "copy": delivery.copy,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_latency_ms": delivery.last_latency_ms,
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "updated_at": _iso(delivery.updated_at),
    }


CALLBACKS_SHOWN = 20  # the dashboard's callbacks panel: the latest deliveries


def recent_callbacks(limit: int = CALLBACKS_SHOWN) -> list[dict[str, Any]]:
    # The panel never shows booking details: not read for its rows.
    deliveries = CallbackDelivery.objects.select_related("payment").defer("payment__booking_details")
    deliveries = deliveries.order_by("-id")[:limit]
    return [callback_snapshot(d) for d in deliveries]


def unique(queryset: QuerySet) -> Any:
    """The row of a lookup by a unique key, or None, without sorting it: `.first()` adds
    ORDER BY pk (a slice the model's default ordering), and compiling that ordering cost a
    MoMo status call and a page's connect a tenth of their CPU (docs/performance.md)."""
    return next(iter(queryset.order_by()[:1]), None)


def momo_user(user_id) -> MomoApiUser | None:
    return unique(MomoApiUser.objects.filter(id=user_id))


def payment_by_reference(reference) -> Payment | None:
    return unique(Payment.objects.filter(reference=reference))


def payment_snapshot_by_reference(reference) -> dict[str, Any] | None:
    payment = payment_by_reference(reference)
    return payment_snapshot(payment) if payment else None


def payment_snapshots_by_reference(references: list[str]) -> dict[str, dict[str, Any]]:
    """Several payments' snapshots in one query, by reference (str); one not found is absent."""
    return {str(p.reference): payment_snapshot(p) for p in Payment.objects.filter(reference__in=references).order_by()}


def momo_payment(user: MomoApiUser, reference, fields: tuple[str, ...] = ()) -> Payment | None:
    """An API user sees only its own payments: another user's reference is not found.
    With `fields`, only those columns are loaded (payments.wire.STATUS_FIELDS), by the SQL
    the ORM compiled for that lookup once (`_own_payment_read`), its row made a model
    instance as the ORM makes one (its columns' converters, then `Model.from_db`)."""
    if not fields:
        return unique(Payment.objects.filter(reference=reference, momo_user=user))
    alias = Payment.objects.db
    connection = connections[alias]
    read = _own_payment_read(alias, fields)
    params = [Payment._meta.get_field(name).get_db_prep_value(value, connection)
              for name, value in (("momo_user", user.pk), ("reference", reference))]
    with connection.cursor() as cursor:
        cursor.execute(read.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, (converters, column) in read.converters.items():
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    return Payment.from_db(alias, read.attnames, values)


@dataclass(frozen=True)
class _CompiledRead:
    sql: str
    attnames: list[str]  # the selected columns' fields, in the model's order (as Model.from_db takes them)
    converters: dict[int, tuple[list, Any]]  # column index: (its converters, its expression)


@functools.cache
def _own_payment_read(alias: str, fields: tuple[str, ...]) -> _CompiledRead:
    """The SQL of an API user's payment by reference with only `fields`, as the ORM compiles
    it, its parameters the user's id then the reference; its columns and their converters.
    Building and compiling the lookup on every call was two thirds of its CPU, and the raw
    queryset that ran the SQL half of the rest (docs/performance.md)."""
    user_id, reference = uuid.UUID(int=1), uuid.UUID(int=2)
    payments = Payment.objects.using(alias).filter(momo_user_id=user_id).filter(reference=reference)
    compiler = payments.only(*fields).order_by()[:1].query.get_compiler(alias)
    sql, params = compiler.as_sql()
    connection = connections[alias]
    expected = tuple(Payment._meta.get_field(name).get_db_prep_value(value, connection)
                     for name, value in (("momo_user", user_id), ("reference", reference)))
    if tuple(params) != expected:  # another Django orders them otherwise: found at the first call
        raise RuntimeError(f"the payment lookup's parameters are {params!r}, not {expected!r}")
    columns = [column for column, _sql, _alias in compiler.select]
    return _CompiledRead(sql, [column.target.attname for column in columns], compiler.get_converters(columns))


def momo_balance(user: MomoApiUser, currency: str) -> Decimal:
    """The API user's collection account in `currency`, from the ledger."""
    return product_balance(user, Payment.Product.COLLECTION, currency)


def product_balance(user: MomoApiUser | None, product: str, currency: str) -> Decimal:
    """A merchant's (None: the house's) account of `product` in `currency`, from the ledger;
    an account not opened yet answers what it will open with (its float, or 0)."""
    key = accounts.merchant_key(user.pk if user else None, accounts.PRODUCT_ACCOUNT[product], currency)
    balance = LedgerAccount.objects.filter(**key._asdict()).values_list("balance", flat=True).first()
    return balance if balance is not None else accounts.starting_balance(key, user)


def account_snapshot(account: LedgerAccount) -> dict[str, str]:
    """A ledger account as pages and pushes show it."""
    return {"owner": account.owner, "kind": account.kind, "currency": account.currency,
            "balance": f"{account.balance:.2f}"}


def merchant_balances(user: MomoApiUser | None) -> list[dict[str, str]]:
    """A merchant's opened accounts, one row per currency: {currency, collection, disbursement, remittance}."""
    owner = accounts.merchant_owner(user.pk if user else None)
    rows: dict[str, dict[str, str]] = {}
    for kind, currency, balance in LedgerAccount.objects.filter(owner=owner).values_list("kind", "currency", "balance"):
        rows.setdefault(currency, {"currency": currency})[kind] = f"{balance:.2f}"
    return [rows[currency] for currency in sorted(rows)]


MERCHANTS_SHOWN = 20  # the dashboard's balances panel: the house and the newest API users


def merchant_accounts(limit: int = MERCHANTS_SHOWN) -> list[dict[str, str]]:
    """The merchant accounts the dashboard shows (`account_snapshot`s), the house's first."""
    users = MomoApiUser.objects.order_by("-created_at").values_list("id", flat=True)[:limit]
    owners = [accounts.HOUSE, *(accounts.merchant_owner(user_id) for user_id in users)]
    rows = LedgerAccount.objects.filter(owner__in=owners, kind__in=accounts.MERCHANT_KINDS)
    found = sorted(rows, key=lambda a: (owners.index(a.owner), a.currency, a.kind))
    return [account_snapshot(account) for account in found]


def wallet_balances(party_id: str) -> list[dict[str, str]]:
    """A party's wallets: [{"currency": "EUR", "balance": "9900.00"}], by currency."""
    wallets = LedgerAccount.objects.filter(owner=accounts.party_owner(party_id), kind=LedgerAccount.Kind.WALLET)
    return [{"currency": c, "balance": f"{b:.2f}"} for c, b in wallets.order_by("currency").values_list("currency", "balance")]


def wallet_balance(party_id: str, currency: str) -> Decimal | None:
    """A party's wallet in `currency`; None if it has none yet."""
    key = accounts.wallet_key(party_id, currency)
    return LedgerAccount.objects.filter(**key._asdict()).values_list("balance", flat=True).first()


def momo_users() -> list[dict[str, Any]]:
    """The dashboard's "MoMo clients" panel: every API user with its payment count."""
    users = MomoApiUser.objects.annotate(payment_count=Count("payments")).order_by("-created_at")[:50]
    return [
        {
            "id": str(u.id),
            "provider_callback_host": u.provider_callback_host,
            "target_environment": u.target_environment,
            "reason_format": u.reason_format,
            "has_key": bool(u.api_key_hash),
            "payment_count": u.payment_count,
            "created_at": _iso(u.created_at),
        }
        for u in users
    ]


def newest_waiting_payment() -> Payment | None:
    """The newest processing payment its payer can still answer (the simulator's)."""
    waiting = Payment.objects.filter(
        status=Payment.Status.PROCESSING, provider=Payment.Provider.SIMULATOR, direction=Payment.Direction.IN
    )
    return waiting.order_by("-created_at", "-id").first()


def payment_by_approval_token(token: str) -> Payment | None:
    return Payment.objects.filter(approval_token=token).first()


def simulator_settings() -> SimulatorSettings:
    config = SimulatorSettings.objects.filter(pk=1).first()
    if config is None:
        config, _ = SimulatorSettings.objects.get_or_create(
            pk=1, defaults={"expiry_seconds": settings.PAYMENT_EXPIRY_SECONDS}
        )
    return config


def settings_snapshot(config: SimulatorSettings) -> dict[str, Any]:
    return {
        "timeout_seconds": config.timeout_seconds,
        "success_rate": config.success_rate,
        "paused": config.paused,
        "expiry_seconds": config.expiry_seconds,
        "approval_mode": config.approval_mode,
        "version": config.version,
    }


def worker_status() -> str:
    """'ok' when some worker has beaten recently, else 'stale'."""
    last = WorkerHeartbeat.objects.aggregate(last=Max("seen_at"))["last"]
    if last is None:
        return "stale"
    age = (timezone.now() - last).total_seconds()
    return "ok" if age <= settings.WORKER_STALE_SECONDS else "stale"


# --- the operator dashboard's counters ---------------------------------------------------

STATS_MEDIAN_OVER = 500  # latest settled payments the median time to settle is taken over
STATS_CHART_MINUTES = 15
FINAL_STATUSES = (Payment.Status.SUCCESSFUL, Payment.Status.FAILED)


def settlements_per_minute(now: datetime | None = None, minutes: int = STATS_CHART_MINUTES) -> list[dict[str, Any]]:
    """Final transitions per minute over the last `minutes`, oldest first, zeros included.

    Counted from the log (one row per final transition, `created_at` indexed), not from
    `Payment.settled_at`, which has no index. One pass with a filtered count per minute:
    grouping by TruncMinute runs a Python function per row on SQLite (~0.5 s at 75k rows).
    """
    now = now or timezone.now()
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    starts = [first + timedelta(minutes=i) for i in range(minutes + 1)]
    counts = PaymentLog.objects.filter(created_at__gte=first, to_status__in=FINAL_STATUSES).aggregate(
        **{
            f"m{i}": Count("id", filter=Q(created_at__gte=starts[i], created_at__lt=starts[i + 1]))
            for i in range(minutes)
        }
    )
    return [{"minute": _iso(starts[i]), "count": counts[f"m{i}"]} for i in range(minutes)]


def dashboard_stats() -> dict[str, Any]:
    """The dashboard's counters as plain JSON; a handful of queries, run once per push, not per client."""
    by_status = dict(Payment.objects.values_list("status").annotate(n=Count("id")).order_by())
    successful = by_status.get(Payment.Status.SUCCESSFUL, 0)
    failed = by_status.get(Payment.Status.FAILED, 0)
    # Newest first by primary key, so the median reads a bounded slice, not the table.
    recent = (
        Payment.objects.filter(status__in=FINAL_STATUSES)
        .order_by("-id")
        .values_list("created_at", "settled_at")[:STATS_MEDIAN_OVER]
    )
    durations = [(settled - created).total_seconds() for created, settled in recent if settled]
    return {
        "processing": by_status.get(Payment.Status.PROCESSING, 0),
        "successful": successful,
        "failed": failed,
        "success_ratio": successful / (successful + failed) if successful + failed else None,
        "median_settle_seconds": statistics.median(durations) if durations else None,
        "per_minute": settlements_per_minute(),
        "worker": worker_status(),
    }


def dashboard_snapshot(
    view: Filter, *, rows: int, stats: dict[str, Any] | None = None, details: bool = True
) -> dict[str, Any]:
    """Everything a dashboard shows, read once: the page and every socket (re)connect use it.

    `stats`: counters read moments ago by the consumers' hub, reused rather than re-read.
    `details=False`: the HTML rows never show booking details, so they are not read.
    """
    payments = view.apply(Payment.objects.all())
    if not details:
        payments = payments.defer("booking_details")
    payments = [payment_snapshot(p) for p in payments[:rows]]
    return {
        "payments": payments,
        "stats": stats if stats is not None else dashboard_stats(),
        "settings": settings_snapshot(simulator_settings()),
        "callbacks": recent_callbacks(CALLBACKS_SHOWN),
        "balances": merchant_accounts(),
    }
