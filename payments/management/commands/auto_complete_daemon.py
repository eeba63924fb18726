import asyncio
import logging
import signal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection

from payments import providers
from payments.management.flags import SimulatorCommand, positive_int, positive_seconds
from payments.services import callback_settings_update, settings_update
from payments.worker import SettlementWorker

logger = logging.getLogger("payments.worker")
RETRY_SECONDS = 2.0


class Command(SimulatorCommand):
    help = "Run the settlement worker as its own process (set REDIS_URL so pushes reach the server)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=positive_seconds, default=10.0, help="sweep at least this often, in seconds")
        parser.add_argument("--batch-size", type=positive_int, default=200,
                            help="payments settled per transaction at most (1: one by one)")
        self.add_settings_flags(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        flags = {"timeout_seconds": options["timeout"], "success_rate": options["success_rate"]}
        if options["seed"] is not None:
            flags["seed"] = options["seed"]
        worker = SettlementWorker(seed=options["seed"], interval=options["interval"], batch_size=options["batch_size"])
        self.stdout.write(f"settlement worker {worker.worker_id} running; Ctrl+C stops it")
        if providers.active().decides_upstream:
            self.stdout.write(f"settling upstream payments from the {providers.describe()}")
        asyncio.run(_run_until_signal(worker, flags))
        self.stdout.write(f"stopped cleanly after {worker.settled} settlements")


async def _run_until_signal(worker: SettlementWorker, flags: dict[str, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if await _apply_flags(flags, stop):
        await worker.run(stop)


async def _apply_flags(flags: dict[str, Any], stop: asyncio.Event) -> bool:
    """Write the flags to the live settings, waiting while the database is down.

    A supervisor (systemd, honcho) may start workers before the database is up; dying here
    would take `make up` down with it. Runs on the worker's own ORM thread, so the process
    holds one database connection, not two.
    """
    while not stop.is_set():
        try:
            await sync_to_async(_write_flags)(flags)
            return True
        except (OperationalError, InterfaceError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            logger.warning("database unavailable (%s); retrying in %g s", reason, RETRY_SECONDS)
            await sync_to_async(connection.close_if_unusable_or_obsolete)()
            try:
                await asyncio.wait_for(stop.wait(), timeout=RETRY_SECONDS)
            except asyncio.TimeoutError:
                pass
    return False


def _write_flags(flags: dict[str, Any]) -> None:
    flags = dict(flags)
    seed = flags.pop("seed", None)
    settings_update(actor="command", **flags)
    if seed is not None:  # injected callback and API faults replay too
        callback_settings_update(actor="command", seed=seed)
