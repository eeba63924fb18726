import uuid

from django.db import models


class Payment(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        SUCCESSFUL = "successful", "Successful"
        FAILED = "failed", "Failed"

    class Provider(models.TextChoices):
        SIMULATOR = "simulator", "Simulator"
        MOMO = "momo", "MoMo upstream"

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    phone_number = models.CharField(max_length=15)
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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "settle_at"], name="payment_due_idx"),
            models.Index(fields=["status", "next_check_at"], name="payment_check_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} {self.currency} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status != self.Status.PROCESSING


class PaymentLog(models.Model):
    class Event(models.TextChoices):
        CREATED = "created", "Created"
        SETTLED = "settled", "Settled"
        FORCED = "forced", "Forced"
        EXPIRED = "expired", "Expired"
        CONFIG = "config", "Config change"
        SKIPPED = "skipped", "Skipped (error)"
        UPSTREAM = "upstream", "Upstream (MoMo)"

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


class SimulatorSettings(models.Model):
    """The single row every worker process reads: the live source of truth."""

    timeout_seconds = models.FloatField(default=30.0)
    success_rate = models.FloatField(default=0.9)
    paused = models.BooleanField(default=False)
    expiry_seconds = models.PositiveIntegerField(default=300)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "simulator settings"
        verbose_name_plural = "simulator settings"

    def __str__(self) -> str:
        return "Simulator settings"


class IdempotencyKey(models.Model):
    """The first response to an `Idempotency-Key`, replayed verbatim for the same body."""

    key = models.CharField(max_length=255, unique=True)
    request_hash = models.CharField(max_length=64)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE)
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class WorkerHeartbeat(models.Model):
    worker_id = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField()
    started_at = models.DateTimeField()
    settled_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.worker_id
