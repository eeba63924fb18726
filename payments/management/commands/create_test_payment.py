from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from payments import services, validation
from payments.management.flags import SimulatorCommand, positive_int


class Command(SimulatorCommand):
    help = "Create test payments; print each reference and checkout URL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--amount", default="100")
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--phone", default="46733123499")
        parser.add_argument("--count", type=positive_int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            amount = validation.clean_amount(options["amount"])
            currency = validation.clean_currency(options["currency"])
            phone = validation.clean_phone(options["phone"])
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        base = settings.PUBLIC_URL or "http://127.0.0.1:8000"
        for _ in range(options["count"]):
            payment = services.payment_create(
                amount=amount, currency=currency, phone_number=phone, actor="command"
            )
            self.stdout.write(f"{payment.reference} {base}/pay/{payment.reference}/")
