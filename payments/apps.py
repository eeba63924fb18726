from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        # Every write to a table MoMo calls keep copies of replaces the generation.
        from payments import generation  # noqa: F401
