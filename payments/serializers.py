from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from payments import outcomes, validation
from payments.models import Payment
from payments.selectors import payment_snapshot


def _adapt(clean):
    """Run a shared field rule, turning its error into a DRF field error."""

    def run(value: Any) -> Any:
        try:
            return clean(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from None

    return run


class PaymentCreateSerializer(serializers.Serializer):
    # Strings (or JSON numbers) in, exact Decimals out: a float never touches an amount.
    amount = serializers.CharField(max_length=32, help_text='Decimal string, e.g. "100.00".')
    currency = serializers.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    phone_number = serializers.CharField(max_length=20, help_text="MSISDN, 8-15 digits.")
    external_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    booking_details = serializers.DictField(required=False, default=dict)

    def validate_amount(self, value: str):
        return _adapt(validation.clean_amount)(value)

    def validate_currency(self, value: str) -> str:
        return _adapt(validation.clean_currency)(value)

    def validate_phone_number(self, value: str) -> str:
        return _adapt(validation.clean_phone)(value)


class PaymentSerializer(serializers.ModelSerializer):
    """Read-only: the contract's payment JSON (the same dict the WebSocket pushes)."""

    reference = serializers.UUIDField()
    amount = serializers.CharField()
    checkout_url = serializers.CharField()

    class Meta:
        model = Payment
        fields = [
            "reference", "status", "reason", "amount", "currency", "phone_number",
            "external_id", "booking_details", "financial_transaction_id", "created_at",
            "settle_at", "settled_at", "version", "checkout_url",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Payment) -> dict[str, Any]:
        return payment_snapshot(instance)


class CompleteSerializer(serializers.Serializer):
    """The schema's enums; the outcome/reason rule is `payment_force`'s (the view translates it)."""

    outcome = serializers.ChoiceField(choices=[Payment.Status.SUCCESSFUL, Payment.Status.FAILED])
    reason = serializers.ChoiceField(
        choices=sorted(outcomes.REASONS), required=False, allow_blank=True,
        help_text="Only with outcome 'failed' (default APPROVAL_REJECTED).",
    )
