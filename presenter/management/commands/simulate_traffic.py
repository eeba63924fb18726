import argparse
import signal
import time
from typing import Any

from presenter import scenarios
from payments.management.flags import SimulatorCommand, positive_seconds


def rate(value: str) -> float:
    try:
        return scenarios.parse_rate(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Command(SimulatorCommand):
    help = "Create ordinary payments at a steady rate (the worker settles them) until Ctrl+C or --duration."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rate", type=rate, default=2.0, help="payments per second: 2/s (default), 30/min")
        parser.add_argument("--duration", type=positive_seconds, default=None, help="stop after this many seconds")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        traffic = scenarios.Traffic(rate=options["rate"], seed=options["seed"])
        stopping: list[bool] = []
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        end = time.monotonic() + options["duration"] if options["duration"] else None
        self.stdout.write(f"traffic: {options['rate']:g} payments/s{'' if end else '; Ctrl+C stops'}")
        self.stdout.flush()
        while not stopping and (end is None or time.monotonic() < end):
            time.sleep(min(traffic.wait(), 0.25, max(0.0, end - time.monotonic()) if end else 0.25))
            if end is None or time.monotonic() < end:
                traffic.run_due()
        self.stdout.write(f"traffic: {traffic.created} payments created")
