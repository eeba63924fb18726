import argparse
import asyncio
from typing import Any

from django.conf import settings
from django.core.management import CommandError, call_command

from payments import providers
from payments.management import lan
from payments.network import is_loopback
from payments.management.flags import SimulatorCommand, port, positive_seconds
from payments.management.commands.momo_credentials import credentials_text
from payments.services import OperatorPasswordRejected, callback_settings_update, momo_demo_credentials, operator_ensure, settings_update
from payments.worker import SettlementWorker


class Command(SimulatorCommand):
    help = "Run the whole demo in one process: Daphne plus a settlement worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; 0.0.0.0 with --lan)")
        parser.add_argument(
            "--lan", action="store_true",
            help="serve the room: bind 0.0.0.0 and advertise the address other devices reach",
        )
        parser.add_argument(
            "--public-url", type=_public_url, default=None,
            help="the address other devices reach, e.g. http://192.168.1.20:8000 (implies LAN mode)",
        )
        parser.add_argument("--port", type=port, default=8000)
        parser.add_argument("--interval", type=positive_seconds, default=10.0)
        parser.add_argument(
            "--approval-mode", choices=["timer", "phone"], default=None,
            help="timer: settle at the timeout unless the payer answers first; phone: wait for the payer",
        )
        self.add_settings_flags(parser)

    def _lan(self, options: dict[str, Any]) -> str:
        """LAN mode (--lan or --public-url): the URL to advertise, let in; "" on loopback."""
        if options["host"] is None:
            options["host"] = "0.0.0.0" if options["lan"] else "127.0.0.1"
        if not (options["lan"] or options["public_url"]):
            return ""
        public_url = options["public_url"]
        if public_url is None:
            try:
                public_url = f"http://{lan.lan_address()}:{options['port']}"
            except lan.NoNetworkAddress as exc:
                raise CommandError(
                    f"--lan: {exc}; pass --public-url http://<address>:{options['port']}", returncode=2
                ) from None
        lan.advertise(public_url)
        return public_url

    def handle(self, *args: Any, **options: Any) -> None:
        public_url = self._lan(options)
        _network_mode(options["host"], on_network=not is_loopback(options["host"]) or bool(public_url))
        call_command("migrate", interactive=False, verbosity=0)
        try:
            password, generated = operator_ensure()
        except OperatorPasswordRejected as exc:
            raise CommandError(str(exc), returncode=2) from None
        config = settings_update(
            actor="command", timeout_seconds=options["timeout"], success_rate=options["success_rate"],
            approval_mode=options["approval_mode"],
        )
        if options["seed"] is not None:  # injected callback and API faults replay too
            callback_settings_update(actor="command", seed=options["seed"])
        base = public_url or f"http://{_url_host(options['host'])}:{options['port']}"
        if providers.active().decides_upstream:
            settling = f"settled by the {providers.describe()}"
        else:
            settling = f"approval {_approval_line(config)}, {config.success_rate:.0%} success"
            settling += " (PAUSED)" if config.paused else ""
        self.stdout.write(
            "LiveSettle demo\n"
            f"  checkout:  {base}/\n"
            f"  dashboard: {base}/dashboard/\n"
            f"  projector: {base}/dashboard/screen/  (F: fullscreen)\n"
            f"{_secrets_text(password, generated, base, shown=not public_url)}"
            f"  {settling}; Ctrl+C stops\n"
        )
        if public_url:
            self.stdout.write(f"\nScan to open the checkout on a phone ({base}/):\n{lan.terminal_qr(base + '/')}")
        self.stdout.flush()
        worker = SettlementWorker(seed=options["seed"], interval=options["interval"])
        serve(host=options["host"], port=options["port"], worker=worker)


def _network_mode(host: str, *, on_network: bool) -> None:
    """Reachable from other devices (LAN mode always is): DEBUG off, callbacks' `auto`
    destinations public. DEBUG=1 from the environment is refused there, in one line."""
    settings.SERVES_LOOPBACK_ONLY = not on_network
    if on_network and settings.DEBUG and not settings.ALLOW_DEBUG_ON_NETWORK:
        if settings.DEBUG_FROM_ENVIRONMENT:
            raise CommandError(
                f"DEBUG=1 would show tracebacks to every device that reaches {host}: "
                "unset DEBUG, or set ALLOW_DEBUG_ON_NETWORK=1 to do it anyway",
                returncode=2,
            )
        # Error pages are the plain ones. Static files are still served from the app
        # directories (WHITENOISE_USE_FINDERS was settled).
        settings.DEBUG = False


def _secrets_text(password: str, generated: bool, base: str, *, shown: bool) -> str:
    """The operator's password and the MoMo credentials: printed on loopback; in LAN mode
    (a room may see this terminal, right above its QR code) only where to find them."""
    user = settings.DEMO_OPERATOR_USERNAME
    if shown:
        return (
            f"  operator:  {user} / {password}\n"
            f"  api docs:  {base}/api/docs/\n"
            f"  MoMo API (collection, disbursement, remittance): base URL {base}\n{credentials_text(*momo_demo_credentials(), indent='    ')}"
        )
    momo_demo_credentials()  # made now, so the command below shows the set this server knows
    where = f"in {settings.BASE_DIR / '.demo-operator-password'}" if generated else "the DEMO_OPERATOR_PASSWORD you set"
    return (
        f"  operator:  {user} (password: {where})\n"
        f"  api docs:  {base}/api/docs/\n"
        f"  MoMo API (collection, disbursement, remittance): base URL {base}\n"
        "    credentials: `python manage.py momo_credentials --demo` on this machine;\n"
        "    the subscription keys also in the dashboard's MoMo clients panel (Show)\n"
    )


def _public_url(value: str) -> str:
    try:
        return lan.parse_public_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _approval_line(config) -> str:
    if config.approval_mode == "phone":
        return "on the payer's phone (no timer)"
    return f"by timer after {config.timeout_seconds:g} s unless the payer answers first"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


BACKLOG = 4096  # Daphne's default listen backlog (50) stalled connect bursts by 1-4 s


def endpoints(host: str, port: int) -> list[str]:
    """Daphne's own endpoint for host:port, with Twisted's `backlog` option added.

    Daphne has no backlog option (`daphne -e` takes a whole endpoint string), and Twisted
    endpoint options may come in any order, so one is appended; tests/domain/test_framework_patches.py
    parses the result as Twisted does."""
    from daphne.endpoints import build_endpoint_description_strings

    return [f"{e}:backlog={BACKLOG}" for e in build_endpoint_description_strings(host=host, port=port)]


def serve(*, host: str, port: int, worker: SettlementWorker) -> None:
    """Run Daphne with the worker as a task on Daphne's own event loop.

    The in-memory channel layer's queues belong to one event loop, so the worker must
    live on the server's loop (its ORM work goes through sync_to_async), not in a thread.
    """
    from channels.routing import get_default_application
    from payments.serving import GuardedServer as Server  # Daphne with the room's limits
    from twisted.internet import defer, reactor

    application = get_default_application()  # settings.ASGI_APPLICATION

    stop = asyncio.Event()
    task: list[asyncio.Future] = []

    def start_worker() -> None:
        task.append(asyncio.ensure_future(worker.run(stop)))

    def stop_worker() -> defer.Deferred | None:
        stop.set()
        return defer.Deferred.fromFuture(task[0]) if task else None

    reactor.addSystemEventTrigger("before", "shutdown", stop_worker)
    Server(
        application=application,
        endpoints=endpoints(host, port),
        ready_callable=start_worker,
        verbosity=0,
        websocket_timeout=settings.WEBSOCKET_TIMEOUT,
    ).run()
