"""One row per MoMo call the inspector saw: inbound (a client's call on a MoMo path) or
outbound (a callback attempt, a call to the upstream provider).

No foreign keys: a row outlives its payment (a demo reset) and its API user, and the
recorder's bulk insert must never wait on, or fail for, a row of another table.
"""

from django.db import models


class ApiCall(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "inbound"
        CALLBACK = "callback", "callback (outbound)"
        UPSTREAM = "upstream", "upstream provider (outbound)"

    at = models.DateTimeField()
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.INBOUND)
    api_user = models.UUIDField(null=True, blank=True)
    product = models.CharField(max_length=16, blank=True, default="")
    operation = models.CharField(max_length=40, blank=True, default="")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    host = models.CharField(max_length=120, blank=True, default="")
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: no answer (timeout)
    code = models.CharField(max_length=48, blank=True, default="")
    reason = models.CharField(max_length=400, blank=True, default="")
    fix = models.CharField(max_length=400, blank=True, default="")
    latency_ms = models.FloatField(default=0.0)
    user_agent = models.CharField(max_length=200, blank=True, default="")
    request_headers = models.JSONField(default=dict, blank=True)  # redacted
    request_body = models.TextField(blank=True, default="")  # bounded, redacted
    response_body = models.TextField(blank=True, default="")  # bounded, redacted
    reference = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["api_user", "id"], name="apicall_user_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"

    @property
    def outcome(self) -> str:
        """2xx / 4xx / 5xx, or "none" when nothing answered."""
        return f"{self.status // 100}xx" if self.status else "none"
