"""HTTP tests: every route as a client sees it, in this process (Django's test client,
DRF's APIClient, the MoMo contract through DjangoMomoClient), and the outgoing calls to a
fake server on a loopback port (pytest-httpserver: the upstream client, callbacks)."""

import pytest
from rest_framework.test import APIClient


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
