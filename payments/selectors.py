"""Reads that several callers share. Snapshots are the wire format of a payment."""

from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from payments.models import Payment, SimulatorSettings, WorkerHeartbeat


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def payment_snapshot(payment: Payment) -> dict[str, Any]:
    """The contract's payment JSON, used by the API, the pages and every push."""
    return {
        "reference": str(payment.reference),
        "status": payment.status,
        "reason": payment.reason,
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        "phone_number": payment.phone_number,
        "external_id": payment.external_id,
        "booking_details": payment.booking_details,
        "financial_transaction_id": payment.financial_transaction_id,
        "created_at": _iso(payment.created_at),
        "settle_at": _iso(payment.settle_at),
        "settled_at": _iso(payment.settled_at),
        "version": payment.version,
        "checkout_url": f"{settings.SITE_URL}/pay/{payment.reference}/",
    }


def payment_by_reference(reference) -> Payment | None:
    return Payment.objects.filter(reference=reference).first()


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
        "version": config.version,
    }


def worker_status() -> str:
    """'ok' when some worker has beaten recently, else 'stale'."""
    last = WorkerHeartbeat.objects.aggregate(last=Max("seen_at"))["last"]
    if last is None:
        return "stale"
    age = (timezone.now() - last).total_seconds()
    return "ok" if age <= settings.WORKER_STALE_SECONDS else "stale"
