from datetime import timedelta
from decimal import Decimal

from channels.db import database_sync_to_async
from django.utils import timezone

from payments.models import Payment
from payments.services import payment_create

ORDINARY = "46733123499"
BOOKING = {"item": "Canopy walk", "guests": 2}


def make_payment(phone: str = ORDINARY, *, due_in: float | None = None, age: float = 0.0, amount: str = "100") -> Payment:
    """A payment created through the service; `due_in`/`age` move its clock for worker tests."""
    payment = payment_create(amount=Decimal(amount), currency="EUR", phone_number=phone, actor="test")
    changes = {}
    if due_in is not None:
        changes["settle_at"] = timezone.now() + timedelta(seconds=due_in)
    if age:
        changes["created_at"] = timezone.now() - timedelta(seconds=age)
    if changes:
        Payment.objects.filter(pk=payment.pk).update(**changes)
        payment.refresh_from_db()
    return payment


@database_sync_to_async
def create_payment(phone: str = ORDINARY, **fields) -> Payment:
    """For async tests: a checkout's payment (25.00 EUR, a booking) created through the service."""
    fields = {"booking_details": BOOKING, **fields}
    return payment_create(amount=Decimal("25.00"), currency="EUR", phone_number=phone, actor="customer", **fields)


def bulk_due(count: int, *, due_in: float = -1.0, phone: str = ORDINARY) -> list[int]:
    """Setup only (the service path is tested elsewhere): `count` processing payments due at once."""
    now = timezone.now()
    rows = [
        Payment(
            amount=Decimal("10.00"), currency="EUR", phone_number=phone, created_at=now,
            updated_at=now, settle_at=now + timedelta(seconds=due_in),
        )
        for _ in range(count)
    ]
    return [p.pk for p in Payment.objects.bulk_create(rows, batch_size=500)]


def created_apart(count: int, *, amount: str = "100.00") -> list[str]:
    """Setup only: `count` payments due now, created one microsecond apart, oldest first, as
    the benchmark makes them (bench/control.py); the dashboard orders and trims by creation."""
    now = timezone.now()
    rows = [
        Payment(amount=Decimal(amount), currency="EUR", phone_number=ORDINARY, updated_at=now,
                settle_at=now - timedelta(seconds=1), created_at=now - timedelta(microseconds=count - i))
        for i in range(count)
    ]
    return [str(p.reference) for p in Payment.objects.bulk_create(rows)]
