import signal
from collections import Counter
from typing import Any

from django.core.management.base import CommandError

from presenter import scenarios
from payments.management.flags import SimulatorCommand, positive_seconds


def speed(value: str) -> float:
    number = positive_seconds(value)
    if number > 1000:
        import argparse

        raise argparse.ArgumentTypeError(f"{value} is too fast (at most 1000)")
    return number


class Command(SimulatorCommand):
    help = "Play a scenario file (YAML or TOML) or a bundled one by name; print what it did."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="a scenario file, or a bundled one: happy_path, rainy_day, rush_hour")
        parser.add_argument("--seed", type=int, default=None, help="replace the file's seed")
        parser.add_argument("--speed", type=speed, default=1.0, help="play X times faster (default 1)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scenario = scenarios.load(scenarios.resolve(options["file"]))
        except scenarios.ScenarioError as exc:
            raise CommandError(str(exc), returncode=2) from None
        player = scenarios.Player(scenario, seed=options["seed"], speed=options["speed"])
        stopping: list[bool] = []
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write(
            f"playing {scenario.name!r}: {scenario.payments} payments, seed {player.seed}, speed {player.speed:g}x"
        )
        self.stdout.flush()
        scenarios.run(player, should_stop=lambda: bool(stopping))
        self._summary(player, stopped=bool(stopping))

    def _summary(self, player: scenarios.Player, *, stopped: bool) -> None:
        rows = player.summary()
        for i, (phone, status, reason) in enumerate(rows, 1):
            self.stdout.write(f"{i:4d} {phone} {status} {reason}".rstrip())
        counts = Counter(status for _, status, _ in rows)
        reasons = Counter(reason for _, status, reason in rows if reason)
        self.stdout.write(
            f"{'stopped' if stopped else 'done'}: {len(rows)} payments, {counts['successful']} successful, "
            f"{counts['failed']} failed, {counts['processing']} still processing"
        )
        if reasons:
            self.stdout.write("reasons: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())))
