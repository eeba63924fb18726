import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from consumers import rendering


@pytest.fixture(autouse=True)
def _fresh_render_cache():
    # References and versions repeat across tests that reuse a flushed database.
    rendering._cache.clear()


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user("operator", password="op-pass-123", is_staff=True)


@pytest.fixture
def customer(db):
    """Logged in, but not staff."""
    return get_user_model().objects.create_user("customer", password="cu-pass-123")


@pytest.fixture
def operator_api(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator)
    return client


@pytest.fixture
def customer_api(customer) -> APIClient:
    client = APIClient()
    client.force_authenticate(customer)
    return client


@pytest.fixture
def outsider_api() -> APIClient:
    return APIClient()
