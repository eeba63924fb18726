import secrets
import uuid

from django.conf import settings
from django.db import models


class MomoApiUser(models.Model):
    """A MoMo API user (sandbox provisioning): its id is the X-Reference-Id it was created with.

    Only a hash of its API key is kept (keys are 32 random hex characters, so a plain sha256
    is enough and keeps the token call fast); the key itself is shown once, at creation.
    """

    class ReasonFormat(models.TextChoices):
        STRING = "string", "string (live sandbox and production)"
        OBJECT = "object", "object (MTN's swagger)"

    class Readings(models.TextChoices):
        """Where MTN's API pages and its 2023 sandbox captures disagree (shared/MOMO.md)."""

        PAGES = "pages", "MTN's API pages (notification 200, a deposit's financialTransactionId)"
        CAPTURED = "captured", "the sandbox captures (notification 202, no financialTransactionId on a deposit)"

    id = models.UUIDField(primary_key=True, editable=False)
    provider_callback_host = models.CharField(max_length=255)
    target_environment = models.CharField(max_length=32, default="sandbox")
    api_key_hash = models.CharField(max_length=64, blank=True, default="")
    reason_format = models.CharField(max_length=8, choices=ReasonFormat.choices, default=ReasonFormat.STRING)
    readings = models.CharField(max_length=8, choices=Readings.choices, default=Readings.PAGES)
    # The float its disbursement and remittance accounts open with in each currency;
    # NULL: MOMO_DEFAULT_FLOAT (`momo_credentials --float`).
    starting_float = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    # Who may get it a new key over the wire: a hash of the subscription key that provisioned
    # it; empty for one the operator made (demo, momo_credentials, the dashboard), whose new
    # keys come from the operator only.
    owner_key_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "MoMo API user"

    def __str__(self) -> str:
        return f"{self.id} ({self.provider_callback_host})"


def new_approval_token() -> str:
    """The phone page's capability: 128 random bits, URL-safe, separate from the reference."""
    return secrets.token_urlsafe(16)


class Payment(models.Model):
    class PartyIdType(models.TextChoices):
        MSISDN = "MSISDN"
        EMAIL = "EMAIL"
        PARTY_CODE = "PARTY_CODE"

    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        SUCCESSFUL = "successful", "Successful"
        FAILED = "failed", "Failed"

    class Provider(models.TextChoices):
        SIMULATOR = "simulator", "Simulator"
        MOMO = "momo", "MoMo upstream"

    class Kind(models.TextChoices):
        REQUEST_TO_PAY = "request_to_pay", "Request to pay"
        REQUEST_TO_WITHDRAW = "request_to_withdraw", "Request to withdraw"
        TRANSFER = "transfer", "Transfer"
        DEPOSIT = "deposit", "Deposit"
        REFUND = "refund", "Refund"
        REMITTANCE_TRANSFER = "remittance_transfer", "Remittance transfer"
        CASH_TRANSFER = "cash_transfer", "Cash transfer"

    class Product(models.TextChoices):
        COLLECTION = "collection", "Collection"
        DISBURSEMENT = "disbursement", "Disbursement"
        REMITTANCE = "remittance", "Remittance"

    class Direction(models.TextChoices):
        IN = "in", "Money in"
        OUT = "out", "Money out"

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Opens the payer's phone page (approve / decline). Never in a snapshot: the reference,
    # which the checkout page, the API and the dashboard show, must not be enough to approve.
    approval_token = models.CharField(max_length=32, unique=True, default=new_approval_token, editable=False)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    # The party: the payer of money in, the payee of money out. An MSISDN from the checkout
    # and the REST API; a MoMo call may name it by EMAIL or PARTY_CODE (or ALIAS) instead
    # (`party_id_type`), hence the width. A refund's party is the refunded payment's payer.
    phone_number = models.CharField(max_length=128)
    party_id_type = models.CharField(max_length=16, choices=PartyIdType.choices, default=PartyIdType.MSISDN)
    external_id = models.CharField(max_length=64, blank=True, default="")
    booking_details = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROCESSING, db_index=True
    )
    reason = models.CharField(max_length=48, blank=True, default="")
    financial_transaction_id = models.CharField(max_length=32, blank=True, default="")
    # NULL: the payment never settles by itself (the "pending" test number); expiry ends it.
    settle_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)
    # Who decides the outcome; a `momo` payment is settled from its upstream's answers.
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.SIMULATOR)
    # The upstream schedule (momo only): when a worker next submits or checks the status.
    # While a worker calls the upstream it holds a lease: this is moved past the call's end.
    next_check_at = models.DateTimeField(null=True, blank=True)
    upstream_submitted_at = models.DateTimeField(null=True, blank=True)
    upstream_attempts = models.PositiveIntegerField(default=0)
    # Set for payments made through the MoMo Collections API (momo/).
    momo_user = models.ForeignKey(MomoApiUser, null=True, blank=True, related_name="payments", on_delete=models.PROTECT)
    payer_message = models.CharField(max_length=160, blank=True, default="")
    payee_note = models.CharField(max_length=160, blank=True, default="")
    callback_url = models.CharField(max_length=2048, blank=True, default="")
    # The signed-in API caller that created it: it reads the full phone number, like staff.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    # What kind of money movement it is; product and direction follow from the kind
    # (`KIND_PRODUCT`, `KIND_DIRECTION`) and are stored so pages and filters read them plainly.
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.REQUEST_TO_PAY)
    product = models.CharField(max_length=16, choices=Product.choices, default=Product.COLLECTION)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.IN)
    # A refund: the request to pay it gives money back for (NULL: the reference named none we know).
    refund_of = models.ForeignKey(
        "self", null=True, blank=True, related_name="refunds", on_delete=models.SET_NULL
    )
    # The sum of this payment's successful refunds, kept by the transition that settles them
    # (under the lock on this row), so it never passes `amount`: a database constraint too.
    refunded_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # Fields of one product that its status call echoes (a cash transfer's sender KYC).
    wire_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "settle_at"], name="payment_due_idx"),
            models.Index(fields=["status", "next_check_at"], name="payment_check_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0, refunded_amount__lte=models.F("amount")),
                name="payment_refunds_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} {self.currency} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status != self.Status.PROCESSING


KIND_PRODUCT: dict[str, str] = {
    Payment.Kind.REQUEST_TO_PAY: Payment.Product.COLLECTION,
    Payment.Kind.REQUEST_TO_WITHDRAW: Payment.Product.COLLECTION,
    Payment.Kind.TRANSFER: Payment.Product.DISBURSEMENT,
    Payment.Kind.DEPOSIT: Payment.Product.DISBURSEMENT,
    Payment.Kind.REFUND: Payment.Product.DISBURSEMENT,
    Payment.Kind.REMITTANCE_TRANSFER: Payment.Product.REMITTANCE,
    Payment.Kind.CASH_TRANSFER: Payment.Product.REMITTANCE,
}
KIND_DIRECTION: dict[str, str] = {
    kind: Payment.Direction.IN if product == Payment.Product.COLLECTION else Payment.Direction.OUT
    for kind, product in KIND_PRODUCT.items()
}


class PaymentLog(models.Model):
    class Event(models.TextChoices):
        CREATED = "created", "Created"
        SETTLED = "settled", "Settled"
        FORCED = "forced", "Forced"
        EXPIRED = "expired", "Expired"
        CONFIG = "config", "Config change"
        SKIPPED = "skipped", "Skipped (error)"
        UPSTREAM = "upstream", "Upstream (MoMo)"
        NOTIFIED = "notified", "Payer notified (MoMo)"
        MOMO_USER = "momo_user", "MoMo API user change"
        APPROVED = "approved", "Approved on the phone"
        DECLINED = "declined", "Declined on the phone"
        WRONG_PIN = "wrong_pin", "Wrong PIN"
        RESET = "reset", "Demo reset"
        CALLBACK = "callback", "Callback attempt"
        LEDGER = "ledger", "Balance change (operator)"

    payment = models.ForeignKey(
        Payment, null=True, blank=True, related_name="logs", on_delete=models.CASCADE
    )
    event = models.CharField(max_length=16, choices=Event.choices)
    actor = models.CharField(max_length=64)
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.event} by {self.actor}"


class ApprovalMode(models.TextChoices):
    TIMER = "timer", "Timer"
    PHONE = "phone", "Phone"


class SimulatorSettings(models.Model):
    """The single row every worker process reads: the live source of truth."""

    timeout_seconds = models.FloatField(default=30.0)
    success_rate = models.FloatField(default=0.9)
    paused = models.BooleanField(default=False)
    expiry_seconds = models.PositiveIntegerField(default=300)
    # timer: the worker settles at the timeout unless the payer answered first;
    # phone: the worker leaves a payment to its payer until it expires (test numbers still settle).
    approval_mode = models.CharField(max_length=8, choices=ApprovalMode.choices, default=ApprovalMode.TIMER)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "simulator settings"
        verbose_name_plural = "simulator settings"

    def __str__(self) -> str:
        return "Simulator settings"


class IdempotencyKey(models.Model):
    """The first response to an `Idempotency-Key`, replayed verbatim for the same body.

    Keys are scoped to the caller (`api.caller_scope`): `user:<id>` for a signed-in caller,
    `client:<address>` for an anonymous one. Another caller's same key is another key.
    """

    scope = models.CharField(max_length=80, default="")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE)
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_per_caller")]

    def __str__(self) -> str:
        return self.key


class WorkerHeartbeat(models.Model):
    worker_id = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField()
    started_at = models.DateTimeField()
    settled_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.worker_id


class CallbackDelivery(models.Model):
    """The outbox: one callback to send, written in the transaction that ended the payment.

    A worker claims a row by setting `claimed_until` (a lease) with a compare-and-set; a
    worker killed mid-send leaves the lease to run out, and the attempt is sent again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # gave up: schedule exhausted or too old
        DROPPED = "dropped", "Dropped (fault injection)"

    payment = models.ForeignKey(Payment, related_name="callbacks", on_delete=models.CASCADE)
    url = models.CharField(max_length=2048)
    method = models.CharField(max_length=8, default="POST")
    body = models.JSONField()  # the status JSON at the moment the payment became final
    copy = models.PositiveSmallIntegerField(default=1)  # > 1: an injected duplicate
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    give_up_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    first_sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    last_latency_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="callback_due_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.url} ({self.status}, {self.attempts} attempts)"


class CallbackSettings(models.Model):
    """Live callback settings: the row without an API user is global; an API user's row
    overrides only the keys it holds. Keys and defaults: `payments/callbacks.py`."""

    GLOBAL = "global"

    scope = models.CharField(max_length=40, unique=True)  # "global" or the API user's id
    momo_user = models.OneToOneField(
        MomoApiUser, null=True, blank=True, on_delete=models.CASCADE, related_name="callback_settings"
    )
    values = models.JSONField(default=dict, blank=True)
    # Standard Webhooks secret ("whsec_" + base64), used while the `signing` setting is on.
    signing_secret = models.CharField(max_length=80, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "callback settings"

    def __str__(self) -> str:
        return f"callback settings for {self.momo_user_id or 'everyone'}"


# The ledger's tables live in their own module; imported here so Django and callers find
# every model of the app in `payments.models`.
from payments.ledger_models import LedgerAccount, LedgerEntry  # noqa: E402, F401
