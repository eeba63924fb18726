from datetime import timedelta
from typing import Any

from payments.management.flags import SimulatorCommand, rate, seconds
from payments.selectors import simulator_settings
from payments.services import payment_settle_all


class Command(SimulatorCommand):
    help = "One pass: settle every processing payment older than --timeout seconds."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=seconds, default=30.0, help="settle payments older than this (0: all)")
        parser.add_argument("--success-rate", type=rate, default=None, help="default: the live setting")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        success_rate = options["success_rate"]
        if success_rate is None:
            success_rate = simulator_settings().success_rate
        counts = payment_settle_all(
            older_than=timedelta(seconds=options["timeout"]),
            success_rate=success_rate,
            seed=options["seed"],
            actor="command",
        )
        self.stdout.write(f"settled {counts['successful'] + counts['failed']}: {counts['successful']} successful, {counts['failed']} failed")

