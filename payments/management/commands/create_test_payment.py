from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from payments import services
from payments.management.flags import SimulatorCommand, positive_int


class Command(SimulatorCommand):
    help = "Create test payments; print each reference and checkout URL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--amount", default="100")
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--phone", default="46733123499")
        parser.add_argument("--count", type=positive_int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        fields = {"amount": options["amount"], "currency": options["currency"], "phone_number": options["phone"]}
        base = settings.PUBLIC_URL or "http://127.0.0.1:8000"
        for _ in range(options["count"]):
            try:
                payment = services.payment_create(**fields, actor="command")
            except services.InvalidValue as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{payment.reference} {base}/pay/{payment.reference}/")
