from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from rest_framework import serializers

from payments import outcomes, validation
from payments.models import Payment
from payments.selectors import payment_snapshot


class RuleField(serializers.Field):
    """A field passed as sent to the service, whose rule (in `payment_create`, the write
    path) checks it; this only carries the OpenAPI schema of what that rule accepts. The
    schema is a little stricter where JSON Schema cannot say it (bytes, stripping,
    "+46 733..."), so every body the schema describes is accepted."""

    def __init__(self, *, schema: dict[str, Any], **kwargs: Any) -> None:
        self.schema = schema
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class RuleFieldSchema(OpenApiSerializerFieldExtension):
    target_class = RuleField

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        return {**self.target.schema, "description": self.target.help_text or ""}


AMOUNT_PATTERN = r"^(0\.(0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,11}(\.[0-9]{1,2})?)$"
PHONE_PATTERN = r"^\+?[0-9]{8,15}$"
# No control characters or bidi controls (validation.text_problem; a lone surrogate cannot
# be written in a pattern that every regex engine takes, and no generator sends one).
CLEAN_TEXT_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
_CLEAN_TEXT = {"type": "string", "pattern": CLEAN_TEXT_PATTERN}
# A subset of what the rule accepts, so that every body the schema allows is accepted:
# plain ASCII keys (patternProperties: generators honour it, not propertyNames), at most
# 8 of them, text values of at most 80 characters (8 x (32 + 80 x 4 bytes) < 4 KiB).
BOOKING_SCHEMA = {
    "type": "object",
    "maxProperties": 8,
    "patternProperties": {
        "^[A-Za-z0-9_.-]{1,32}$": {
            "oneOf": [
                {**_CLEAN_TEXT, "maxLength": 80},
                {"type": "integer", "minimum": -validation.JS_SAFE_INTEGER, "maximum": validation.JS_SAFE_INTEGER},
                {"type": "number", "not": {"type": "integer"}},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    },
    "additionalProperties": False,
}
BOOKING_HELP = (
    "A flat JSON object of plain values (text, number, true/false, null; no lists or nested "
    f"objects): at most {validation.BOOKING_MAX_KEYS} keys of at most {validation.BOOKING_KEY_MAX} "
    f"characters, text values of at most {validation.BOOKING_VALUE_MAX} characters, at most "
    f"{validation.BOOKING_MAX_BYTES} bytes as JSON. Control, bidi and surrogate characters are refused."
)


class PaymentCreateSerializer(serializers.Serializer):
    # Strings (or JSON numbers) in, exact Decimals out: a float never touches an amount.
    amount = RuleField(
        schema={"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": 15},
        help_text='Decimal string with ASCII digits 0-9, more than 0, at most 2 decimals, e.g. "100.00".',
    )
    currency = RuleField(
        schema={"type": "string", "enum": settings.PAYMENT_CURRENCIES},
        help_text="ISO 4217 code from the configured list, e.g. EUR.",
    )
    phone_number = RuleField(
        schema={"type": "string", "pattern": PHONE_PATTERN},
        help_text="MSISDN: 8-15 digits 0-9, a leading + allowed.",
    )
    external_id = RuleField(
        schema={**_CLEAN_TEXT, "maxLength": 64},
        required=False, default="", help_text="Your own id for the payment, up to 64 characters.",
    )
    booking_details = RuleField(
        schema=BOOKING_SCHEMA,
        required=False, default=dict, help_text=BOOKING_HELP,
    )


class PaymentSerializer(serializers.ModelSerializer):
    """Read-only: the contract's payment JSON (the same dict the WebSocket pushes)."""

    reference = serializers.UUIDField()
    amount = serializers.CharField()
    checkout_url = serializers.CharField()
    refunded_amount = serializers.CharField(help_text="The sum of its successful refunds, e.g. \"30.00\".")

    class Meta:
        model = Payment
        fields = [
            "reference", "status", "reason", "amount", "currency", "phone_number",
            "external_id", "booking_details", "financial_transaction_id", "created_at",
            "settle_at", "settled_at", "version", "kind", "direction", "refunded_amount", "checkout_url",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Payment) -> dict[str, Any]:
        return payment_snapshot(instance)


class CompleteSerializer(serializers.Serializer):
    """The outcome/reason rule is `payment_force`'s (the view translates it); the schema says
    it exactly (CompleteSchema), so a body the schema calls valid is never refused."""

    outcome = serializers.ChoiceField(choices=[Payment.Status.SUCCESSFUL, Payment.Status.FAILED])
    reason = serializers.ChoiceField(
        choices=sorted(outcomes.REASONS), required=False, allow_blank=True,
        help_text="Only with outcome 'failed' (default APPROVAL_REJECTED).",
    )


class CompleteSchema(OpenApiSerializerExtension):
    target_class = CompleteSerializer

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        reasons = sorted(outcomes.REASONS)
        return {
            "type": "object",
            "properties": {
                "outcome": {"type": "string", "enum": [Payment.Status.SUCCESSFUL, Payment.Status.FAILED]},
                "reason": {"type": "string", "enum": [*reasons, ""]},
            },
            "required": ["outcome"],  # and so the body itself is required
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "outcome": {"type": "string", "const": Payment.Status.SUCCESSFUL},
                        "reason": {"type": "string", "const": ""},
                    },
                    "required": ["outcome"],
                },
                {
                    "type": "object",
                    "properties": {
                        "outcome": {"type": "string", "const": Payment.Status.FAILED},
                        "reason": {"type": "string", "enum": [*reasons, ""]},
                    },
                    "required": ["outcome"],
                },
            ]
        }
