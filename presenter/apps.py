from django.apps import AppConfig


class PresenterConfig(AppConfig):
    """Scenarios, background traffic and the projector's runner: the presenter's tools."""

    name = "presenter"
