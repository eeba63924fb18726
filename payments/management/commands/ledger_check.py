from typing import Any

from django.core.management.base import CommandError

from payments.ledger_audit import ledger_discrepancies
from payments.management.flags import SimulatorCommand
from payments.models import LedgerAccount, LedgerEntry


class Command(SimulatorCommand):
    help = (
        "Check the ledger: every balance equals the sum of its entries, each currency sums to zero, "
        "no balance is negative, each movement is two entries summing to zero, each successful payment "
        "is booked once and refunds add up. Exits 1 on any discrepancy."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_discrepancies()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger discrepancies", returncode=1)
        accounts, entries = LedgerAccount.objects.count(), LedgerEntry.objects.count()
        self.stdout.write(f"ledger ok: {accounts} accounts, {entries} entries")
