import random
import time
import uuid
from typing import Any

from django.core.management.base import CommandError

from payments import outcomes, services
from payments.management.flags import SimulatorCommand, rate, seconds
from payments.models import Payment
from payments.selectors import payment_by_reference


class Command(SimulatorCommand):
    help = "Settle one payment now (or after --delay seconds)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("reference")
        parser.add_argument("--delay", type=seconds, default=0.0)
        parser.add_argument("--success-rate", type=rate, default=1.0)
        parser.add_argument("--outcome", choices=[Payment.Status.SUCCESSFUL, Payment.Status.FAILED])
        parser.add_argument("--reason", choices=sorted(outcomes.REASONS), metavar="CODE")

    def handle(self, *args: Any, **options: Any) -> None:
        outcome, reason = options["outcome"], options["reason"] or ""
        if outcome is None and reason:
            outcome = Payment.Status.FAILED
        if outcome is not None:
            _check(outcome, reason)  # before the wait
        payment = _find(options["reference"])
        if payment.is_final:
            raise CommandError(f"payment {payment.reference} is already settled ({payment.status})")
        if options["delay"]:
            time.sleep(options["delay"])
        if outcome is None:
            drawn = outcomes.decide("", rng=random.Random(), success_rate=options["success_rate"])
            outcome, reason = drawn.status, drawn.reason
        try:
            payment = services.payment_force(payment=payment, outcome=outcome, reason=reason, actor="command")
        except services.PaymentError as exc:
            raise CommandError(f"payment {payment.reference}: {exc}") from None
        suffix = f" ({payment.reason})" if payment.reason else ""
        self.stdout.write(f"{payment.reference} {payment.status}{suffix}")


def _check(outcome: str, reason: str) -> None:
    """The service's outcome/reason rule, said in flags (argparse's choices catch the rest)."""
    try:
        services.check_outcome(outcome, reason)
    except services.InvalidValue as exc:
        raise CommandError("--reason only goes with --outcome failed" if exc.field == "reason" else str(exc)) from None


def _find(reference: str) -> Payment:
    try:
        uuid.UUID(reference)
    except ValueError:
        raise CommandError(f"{reference!r} is not a payment reference (a UUID)") from None
    payment = payment_by_reference(reference)
    if payment is None:
        raise CommandError(f"no payment with reference {reference}")
    return payment
