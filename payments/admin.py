import json

from django.contrib import admin
from django.utils.html import format_html

from payments.models import MomoApiUser, Payment, PaymentLog, SimulatorSettings, WorkerHeartbeat


class PaymentLogInline(admin.TabularInline):
    model = PaymentLog
    fields = ["created_at", "event", "actor", "from_status", "to_status", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Read-only: every state change goes through the services (dashboard, API, commands)."""

    list_display = ["reference", "amount", "currency", "phone_number", "status", "reason", "created_at", "settled_at"]
    list_filter = ["status", "reason", "currency"]
    search_fields = ["reference", "phone_number", "external_id"]
    date_hierarchy = "created_at"
    inlines = [PaymentLogInline]
    readonly_fields = [
        "reference", "amount", "currency", "phone_number", "party_id_type", "external_id", "booking",
        "status", "reason", "financial_transaction_id", "settle_at", "settled_at",
        "created_at", "updated_at", "version", "momo_user", "payer_message", "payee_note", "callback_url",
    ]
    exclude = ["booking_details"]

    @admin.display(description="Booking details")
    def booking(self, obj: Payment) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.booking_details, indent=2, ensure_ascii=False))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)


@admin.register(PaymentLog)
class PaymentLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event", "actor", "payment", "from_status", "to_status"]
    list_filter = ["event"]
    search_fields = ["actor", "payment__reference"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SimulatorSettings, WorkerHeartbeat)
class ReadOnlyAdmin(admin.ModelAdmin):
    """Settings change on the dashboard or by command flags, so every change is logged."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MomoApiUser)
class MomoApiUserAdmin(ReadOnlyAdmin):
    """Provisioned through MoMo's sandbox paths, the dashboard's panel or `momo_credentials`."""

    list_display = ["id", "provider_callback_host", "target_environment", "reason_format", "created_at"]
    search_fields = ["id", "provider_callback_host"]
    exclude = ["api_key_hash"]
