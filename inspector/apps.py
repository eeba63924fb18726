from django.apps import AppConfig


class InspectorConfig(AppConfig):
    name = "inspector"
    verbose_name = "Integration inspector"

    def ready(self) -> None:
        # The domain reports its outbound calls (callbacks, upstream) through a hook it
        # owns (payments/calls.py), so it imports nothing of this package.
        from inspector import recorder
        from payments import calls

        calls.register(recorder.record_outbound)
