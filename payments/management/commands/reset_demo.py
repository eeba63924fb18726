import sys
from typing import Any

from django.core.management.base import CommandError

from payments.management.flags import SimulatorCommand
from payments.services import demo_reset


class Command(SimulatorCommand):
    help = "Remove every payment and its log (settings stay); every open page is told."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError("reset_demo removes every payment: pass --yes to confirm", returncode=2)
            if input("Remove every payment and its log? Type 'reset' to confirm: ").strip() != "reset":
                raise CommandError("not confirmed; nothing was removed", returncode=2)
        removed = demo_reset(actor="command")
        self.stdout.write(f"demo reset: {removed} payment{'s' if removed != 1 else ''} removed")
