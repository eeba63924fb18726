"""The dashboard's "MoMo clients" panel: one click gives an operator three working values."""

import re

import pytest
from django.test import Client

from payments.models import MomoApiUser
from tests.support.momo_client import PRODUCT_KEYS, SUBSCRIPTION_KEY, DjangoMomoClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _key(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_PRODUCT_SUBSCRIPTION_KEYS = PRODUCT_KEYS


def test_it_creates_a_momo_client_whose_three_values_work(staff):
    page = staff.get("/dashboard/").content.decode()
    assert 'id="momo-clients"' in page and SUBSCRIPTION_KEY in page
    assert "base URL <code>http://testserver</code>" in page

    for product, keys in PRODUCT_KEYS.items():
        assert f'id="momo-{product}-key">{keys[0]}<' in page  # each product's own key, behind Show

    answer = staff.post("/dashboard/momo-clients/", {"callback_host": "https://Shop.example/hooks", "reason_format": "object",
                                                     "readings": "captured"})
    assert answer.status_code == 200
    html = answer.content.decode()
    api_user = re.search(r'id="momo-api-user">([^<]+)<', html).group(1)
    api_key = re.search(r'id="momo-api-key">([^<]+)<', html).group(1)
    assert "shown once" in html and "created" in html
    user = MomoApiUser.objects.get(id=api_user)
    assert (user.provider_callback_host, user.reason_format, user.readings) == ("shop.example", "object", "captured")

    client = DjangoMomoClient(Client())
    client.user_id, client.api_key = api_user, api_key
    client.get_token()
    assert client.call("GET", "/collection/v1_0/account/balance").json()["currency"] == "EUR"

    # Listed from now on; its key is never shown again.
    again = staff.get("/dashboard/").content.decode()
    assert api_user in again and api_key not in again


def test_it_refuses_a_bad_callback_host_in_words_and_creates_nothing(staff):
    answer = staff.post("/dashboard/momo-clients/", {"callback_host": "not a host"})
    assert answer.status_code == 422
    assert "providerCallbackHost must be a host name" in answer.content.decode()
    assert not MomoApiUser.objects.exists()
