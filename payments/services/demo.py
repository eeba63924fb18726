"""The demo's live settings (one row every process reads) and its operator account."""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from payments import events, generation
from payments.errors import InvalidValue, OperatorPasswordRejected
from payments.models import IdempotencyKey, LedgerAccount, LedgerEntry, Payment, PaymentLog, SimulatorSettings
from payments.selectors import settings_snapshot, simulator_settings
from payments.services.rules import SETTING_CHECKS

def settings_update(*, actor: str, **changes: Any) -> SimulatorSettings:
    """Change the live settings; every change is logged and pushed, and wakes the workers."""
    unknown = set(changes) - set(SETTING_CHECKS)
    if unknown:
        raise InvalidValue(min(unknown), f"Unknown settings: {', '.join(sorted(unknown))}.")
    changes = {name: SETTING_CHECKS[name](value) for name, value in changes.items() if value is not None}
    simulator_settings()  # make sure the row exists before locking it
    with transaction.atomic():
        config = SimulatorSettings.objects.select_for_update().get(pk=1)
        diff = {
            name: [getattr(config, name), value]
            for name, value in changes.items()
            if value is not None and getattr(config, name) != value
        }
        if not diff:
            return config
        for name, (_, value) in diff.items():
            setattr(config, name, value)
        config.version += 1
        config.save(update_fields=[*diff, "version", "updated_at"])
        PaymentLog.objects.create(event=PaymentLog.Event.CONFIG, actor=actor, details=diff)
        events.send_event_on_commit(events.settings_changed(settings_snapshot(config)))
    return config


def operator_ensure(*, username: str | None = None) -> tuple[str, bool]:
    """Make sure the demo operator exists; returns (password, generated_now_or_before).

    A given DEMO_OPERATOR_PASSWORD must pass AUTH_PASSWORD_VALIDATORS, like any password
    a person sets: the demo's account is the one a room can reach.
    """
    username = username or settings.DEMO_OPERATOR_USERNAME
    password = settings.DEMO_OPERATOR_PASSWORD
    generated = not password
    if not generated:
        try:
            password_validation.validate_password(password, user=get_user_model()(username=username))
        except ValidationError as exc:
            raise OperatorPasswordRejected(f"DEMO_OPERATOR_PASSWORD is refused: {' '.join(exc.messages)}") from None
    secret_file = settings.BASE_DIR / ".demo-operator-password"
    if generated:
        if secret_file.exists():
            password = secret_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = True
    if not user.check_password(password):
        user.set_password(password)
    user.save()
    return password, generated


def demo_reset(*, actor: str) -> int:
    """Remove every payment and log row in one transaction; returns how many payments went.

    The one row that records the reset (who, how many) is written after the clearing, in
    the same transaction, so it is the first row of the fresh log. Settings are kept. Every
    open page is told on commit: dashboards resync, checkout and phone pages say so.
    """
    with transaction.atomic():
        removed = Payment.objects.count()
        IdempotencyKey.objects.all().delete()
        PaymentLog.objects.all().delete()
        # The ledger starts afresh too: floats and wallets reopen with their starting balances.
        LedgerEntry.objects.all().delete()
        LedgerAccount.objects.all().delete()
        generation.bump()  # no process may trust a wallet it knew open (ledger.wallet_open)
        Payment.objects.all().delete()
        PaymentLog.objects.create(
            event=PaymentLog.Event.RESET, actor=actor, details={"payments_removed": removed}
        )
        events.send_event_on_commit(events.demo_reset())
    return removed
