"""Pointing the `momo` provider at a fake upstream (pytest-httpserver) in unit tests."""


API_USER = "3f2b6a1c-8d4e-4f5a-9b7c-2e1d0a9f8b7c"
API_KEY = "0123456789abcdef0123456789abcdef"
SUBSCRIPTION_KEY = "f" * 32


def use_upstream(settings, httpserver, *, callback_base: str = "http://127.0.0.1:9") -> None:
    """This test's process becomes a MoMo client of `httpserver`."""
    settings.PAYMENT_PROVIDER = "momo"
    settings.MOMO_UPSTREAM_URL = httpserver.url_for("").rstrip("/")
    settings.MOMO_UPSTREAM_SUBSCRIPTION_KEY = SUBSCRIPTION_KEY
    settings.MOMO_UPSTREAM_API_USER = API_USER
    settings.MOMO_UPSTREAM_API_KEY = API_KEY
    settings.MOMO_UPSTREAM_ENVIRONMENT = "sandbox"
    settings.MOMO_CALLBACK_BASE = callback_base
