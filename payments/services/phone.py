"""The payer's phone: approve with a PIN, or decline, through the one transition path."""

import re

from payments import outcomes, providers
from payments.errors import InvalidValue, PaymentError
from payments.models import Payment, PaymentLog
from payments.services.lifecycle import UPSTREAM_DECIDES, _finalize
from payments.services.logbook import payment_log_bounded

PIN_PATTERN = re.compile(r"[0-9]{4,5}")
WRONG_PIN = "0000"  # the simulator's "wrong PIN": shown on the phone and counted in the log
PAYER = "payer"


class WrongPin(PaymentError):
    """The payer typed the simulator's wrong PIN; `attempts` counts this payment's so far."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"Wrong PIN (attempt {attempts}).")
        self.attempts = attempts


APPROVED = outcomes.Outcome(Payment.Status.SUCCESSFUL)
DECLINED = outcomes.Outcome(Payment.Status.FAILED, "APPROVAL_REJECTED")


def _payer_may_answer(payment: Payment) -> None:
    if payment.is_final:
        raise PaymentError(f"This payment is already settled ({payment.status}).")
    if payment.direction != Payment.Direction.IN:
        raise PaymentError("Money out needs no approval from its payee.")
    if providers.of(payment.provider).decides_upstream:
        raise PaymentError(UPSTREAM_DECIDES)


def payment_approve(*, payment: Payment, pin: str, actor: str = PAYER) -> Payment:
    """The payer approves on the phone: successful at once (paused or not), like MoMo's prompt."""
    _payer_may_answer(payment)
    if not PIN_PATTERN.fullmatch(pin or ""):
        raise InvalidValue("pin", "A PIN is 4 or 5 digits.")
    if pin == WRONG_PIN:
        attempts = payment_log_bounded(payment_id=payment.pk, event=PaymentLog.Event.WRONG_PIN, actor=actor)
        raise WrongPin(attempts)
    decisions = [(payment.pk, APPROVED)]
    return _finalize(decisions=decisions, event=PaymentLog.Event.APPROVED, actor=actor, respect_pause=False)[0]


def payment_decline(*, payment: Payment, actor: str = PAYER) -> Payment:
    """The payer declines on the phone: failed with APPROVAL_REJECTED, at once."""
    _payer_may_answer(payment)
    decisions = [(payment.pk, DECLINED)]
    return _finalize(decisions=decisions, event=PaymentLog.Event.DECLINED, actor=actor, respect_pause=False)[0]
