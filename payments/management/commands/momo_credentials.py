from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from payments import services
from payments.management.flags import SimulatorCommand, money
from payments.models import MomoApiUser


def credentials_text(user: MomoApiUser, api_key: str, *, indent: str = "") -> str:
    """The values a MoMo client needs, one per line (the demo prints them too): the key good
    for every product, each product's own key, the API user and its key."""
    lines = [f"subscription key (Ocp-Apim-Subscription-Key): {services.momo_subscription_keys()[0]}"]
    for product in settings.MOMO_PRODUCTS:
        label = f"{product} key ({product} paths only):"
        lines.append(f"{label:<46} {services.momo_product_subscription_keys(product)[0]}")
    lines.append(f"{'API user (X-Reference-Id):':<46} {user.id}")
    lines.append(f"{'API key:':<46} {api_key}")
    return "".join(f"{indent}{line}\n" for line in lines)


class Command(SimulatorCommand):
    help = "Provision a MoMo API user and key (the sandbox CLI's job); print the three values a client needs."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--callback-host", default="localhost", help="the API user's providerCallbackHost")
        parser.add_argument("--target-environment", default="sandbox", choices=sorted(settings.MOMO_ENVIRONMENTS))
        parser.add_argument("--reason-format", default="string", choices=MomoApiUser.ReasonFormat.values,
                            help="shape of `reason` on FAILED status: string (live MoMo) or object (MTN's swagger)")
        parser.add_argument("--readings", default="pages", choices=MomoApiUser.Readings.values,
                            help="where MTN's sources disagree: pages (its API pages: a delivery notification is 200, "
                                 "a SUCCESSFUL deposit has financialTransactionId) or captured (its sandbox captures: 202, none)")
        parser.add_argument("--float", dest="starting_float", type=money, metavar="AMOUNT",
                            help="its disbursement and remittance float in each currency (default MOMO_DEFAULT_FLOAT)")
        parser.add_argument("--demo", action="store_true",
                            help="instead: print the demo's ready set (what `demo` prints on loopback)")
        parser.add_argument("--new-key", metavar="API_USER_ID",
                            help="instead: a new API key for this existing API user (the old key stops working)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["demo"]:
            self.stdout.write(credentials_text(*services.momo_demo_credentials()), ending="")
            return
        if options["new_key"]:
            self._new_key(options["new_key"])
            return
        try:
            user, api_key = services.momo_credentials_create(
                provider_callback_host=options["callback_host"], target_environment=options["target_environment"],
                reason_format=options["reason_format"], readings=options["readings"],
                starting_float=options["starting_float"], actor="command",
            )
        except services.InvalidValue as exc:
            flag = "--callback-host: " if exc.field == "provider_callback_host" else ""
            raise CommandError(f"{flag}{exc}", returncode=2) from None
        except services.PaymentError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(credentials_text(user, api_key), ending="")

    def _new_key(self, user_id: str) -> None:
        """The operator's way to re-key any API user (over the wire only its provisioner may)."""
        user = MomoApiUser.objects.filter(pk=_uuid(user_id)).first() if _uuid(user_id) else None
        if user is None:
            raise CommandError(f"--new-key: no MoMo API user {user_id[:40]!r}", returncode=2)
        api_key = services.momo_user_new_key(user=user, actor="command")
        self.stdout.write(credentials_text(user, api_key), ending="")


def _uuid(value: str):
    import uuid

    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None
