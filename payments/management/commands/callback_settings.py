import uuid
from typing import Any

from django.core.management.base import CommandError

from payments import callbacks, services
from payments.management.flags import SimulatorCommand
from payments.models import MomoApiUser


class Command(SimulatorCommand):
    help = (
        "Show or change the live callback settings (schedule and faults), globally or for one "
        "MoMo API user: callback_settings [--api-user ID] [name=value ...]; name= removes an "
        "API user's override. Every change is logged."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("changes", nargs="*", metavar="name=value")
        parser.add_argument("--api-user", metavar="ID", help="the MoMo API user (X-Reference-Id it was made with)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = _user(options["api_user"]) if options["api_user"] else None
        changes = {}
        for change in options["changes"]:
            name, sep, value = change.partition("=")
            if not sep:
                raise CommandError(f"{change!r} is not name=value; names: {', '.join(callbacks.SETTINGS)}", returncode=2)
            changes[name.strip()] = value.strip() if value.strip() or user is None else None
        try:
            values = services.callback_settings_update(actor="command", momo_user=user, **changes)
        except callbacks.SettingError as exc:
            raise CommandError(str(exc), returncode=2) from None
        secret = values.pop("signing_secret")
        for name, value in values.items():
            self.stdout.write(f"{name} = {value}")
        if user is not None and values["signing"] and secret:
            self.stdout.write(f"signing secret = {secret}")


def _user(value: str) -> MomoApiUser:
    try:
        user = MomoApiUser.objects.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        user = None
    if user is None:
        raise CommandError(f"no MoMo API user {value!r} (see the dashboard's MoMo clients panel)", returncode=2)
    return user
