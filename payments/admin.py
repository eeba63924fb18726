import json

from django.contrib import admin
from django.utils.html import format_html

from payments.models import MomoApiUser, Payment, PaymentLog, SimulatorSettings, WorkerHeartbeat


class ReadOnly:
    """Admin pages only show: every change goes through the services, which log and push it
    (a deletion here would do neither and leave an open checkout page resyncing to nothing).
    tests/http/test_admin.py tries add, change, delete and "delete selected" as the operator."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


class PaymentLogInline(ReadOnly, admin.TabularInline):
    model = PaymentLog
    fields = ["created_at", "event", "actor", "from_status", "to_status", "details"]
    readonly_fields = fields
    extra = 0


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):

    list_display = ["reference", "amount", "currency", "phone_number", "status", "reason", "created_at", "settled_at"]
    list_filter = ["status", "reason", "currency"]
    search_fields = ["reference", "phone_number", "external_id"]
    date_hierarchy = "created_at"
    inlines = [PaymentLogInline]
    readonly_fields = [
        "reference", "amount", "currency", "phone_number", "party_id_type", "external_id", "booking",
        "status", "reason", "financial_transaction_id", "settle_at", "settled_at",
        "created_at", "updated_at", "version", "momo_user", "payer_message", "payee_note", "callback_url", "owner",
    ]
    exclude = ["booking_details"]

    @admin.display(description="Booking details")
    def booking(self, obj: Payment) -> str:
        text = json.dumps(obj.booking_details, indent=2, ensure_ascii=False)
        # As stored, even a lone surrogate from before the input rules: escaped, not a 500.
        return format_html("<pre>{}</pre>", text.encode("utf-8", "backslashreplace").decode())


@admin.register(PaymentLog)
class PaymentLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event", "actor", "payment", "from_status", "to_status"]
    list_filter = ["event"]
    search_fields = ["actor", "payment__reference"]


admin.site.register([SimulatorSettings, WorkerHeartbeat], ReadOnlyAdmin)


@admin.register(MomoApiUser)
class MomoApiUserAdmin(ReadOnlyAdmin):
    """Provisioned through MoMo's sandbox paths, the dashboard's panel or `momo_credentials`."""

    list_display = ["id", "provider_callback_host", "target_environment", "reason_format", "created_at"]
    search_fields = ["id", "provider_callback_host"]
    exclude = ["api_key_hash"]
