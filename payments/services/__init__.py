"""Every state change of LiveSettle, each in one transaction with its log row.

Callers import from here (`from payments import services`); the modules split the write
path by what it changes:
- `lifecycle`: create, and the one transition to a final state (settle, force, expire,
  approve, decline), with the callback outbox rows it writes;
- `upstream`: the status schedule of payments a real MoMo upstream decides;
- `ledger`: the double-entry ledger: accounts, the booking of a payment's movement (which
  the one transition calls in its transaction), an operator's float and wallet changes;
- `refunds`: a refund of a payment (a payment of kind refund);
- `rules`: every range and the outcome/reason pair, written once;
- `phone`: the payer's approve and decline;
- `demo`: the live settings row, the operator account and the reset;
- `credentials`: MoMo API users, keys and subscription keys;
- `outbox`: claiming, recording and resending callback deliveries, and their settings.
"""

from payments.errors import IdempotencyConflict, InvalidValue, OperatorPasswordRejected, PaymentError, SettingError
from payments.services.credentials import (
    momo_credentials_create,
    momo_demo_credentials,
    momo_key_hash,
    momo_product_subscription_keys,
    momo_subscription_keys,
    momo_user_create,
    momo_user_new_key,
    NotKeyOwner,
    payment_notify,
)
from payments.services.demo import demo_reset, operator_ensure, settings_update
from payments.services.lifecycle import (
    EXPIRED,
    UPSTREAM_DECIDES,
    Decision,
    payment_create,
    payment_create_idempotent,
    payment_expire,
    payment_expire_many,
    payment_force,
    payment_force_many,
    payment_log_skip,
    payment_settle,
    payment_settle_many,
    request_fingerprint,
)
from payments.services.ledger import (
    NOT_ALLOWED,
    NOT_ENOUGH_FUNDS,
    TRANSACTION_NOT_FOUND,
    accounts_open,
    check_money,
    float_set,
    float_top_up,
    merchant_accounts_open,
    wallet_set_balance,
)
from payments.services.batch import payment_settle_all
from payments.services.refunds import payment_refund
from payments.services.phone import APPROVED, DECLINED, PAYER, PIN_PATTERN, WRONG_PIN, WrongPin, payment_approve, payment_decline
from payments.services.outbox import (
    CALLBACK_PENDING,
    callback_claim,
    callback_record,
    callback_resend,
    callback_settings_update,
)
from payments.services.rules import (
    PARTY_RULES,
    payment_check,
    DEFAULT_FAIL_REASON,
    EXPIRY_RANGE,
    FINAL_STATUSES,
    PROCESSING,
    SETTING_CHECKS,
    SUCCESS_RATE_RANGE,
    TIMEOUT_RANGE,
    check_approval_mode,
    check_expiry,
    check_outcome,
    check_paused,
    check_success_rate,
    check_timeout,
)
from payments.services.upstream import (
    MOMO,
    payment_check_now,
    payment_lease_upstream,
    payment_settle_upstream,
    payment_upstream_accepted,
    payment_upstream_later,
)

__all__ = [name for name in dir() if not name.startswith("_")]
