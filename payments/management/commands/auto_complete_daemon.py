import asyncio
import signal
from typing import Any

from payments.management.flags import SimulatorCommand, positive_seconds
from payments.services import settings_update
from payments.worker import SettlementWorker


class Command(SimulatorCommand):
    help = "Run the settlement worker as its own process (set REDIS_URL so pushes reach the server)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=positive_seconds, default=10.0, help="sweep at least this often, in seconds")
        self.add_settings_flags(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        settings_update(actor="command", timeout_seconds=options["timeout"], success_rate=options["success_rate"])
        worker = SettlementWorker(seed=options["seed"], interval=options["interval"])
        self.stdout.write(f"settlement worker {worker.worker_id} running; Ctrl+C stops it")
        asyncio.run(_run_until_signal(worker))
        self.stdout.write(f"stopped cleanly after {worker.settled} settlements")


async def _run_until_signal(worker: SettlementWorker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)
