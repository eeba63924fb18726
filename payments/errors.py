"""The one family of domain errors: every service refuses with a `PaymentError`.

Views, serializers, forms, flags and the MoMo API translate it into their channel's
message; its text is a full sentence a person can act on.
"""


class PaymentError(Exception):
    """The one domain error: an illegal transition (already final, paused) or a bad value."""


class InvalidValue(PaymentError):
    """A value a service refuses, in words; `field` names it, `low`/`high` bound a range.

    Forms, serializers and flags translate it into their channel's message: they do not
    repeat the rule."""

    def __init__(self, field: str, message: str, *, low: float | None = None, high: float | None = None) -> None:
        super().__init__(message)
        self.field, self.low, self.high = field, low, high


class IdempotencyConflict(PaymentError):
    """The same Idempotency-Key was used with a different request body."""


class OperatorPasswordRejected(PaymentError):
    """DEMO_OPERATOR_PASSWORD fails Django's password validators (the message says why)."""


class SettingError(PaymentError):
    """A bad value for a callback setting; the message says what is allowed."""
