"""Create limits keyed on the real client, on every create path, shared across processes.

The probes of issue 10: a varying X-Forwarded-For reset the anonymous API limit (behind the
shipped nginx + `--proxy-headers` too), the checkout form had no limit, signed-in
customers had none, and each process counted alone.
"""

import json
import urllib.parse
import uuid

import pytest
from django.test import Client

from payments.models import Payment
from tests.support.two_servers import FORM, Browser, stop_all, two_daphnes

VALID = {"amount": "12.50", "currency": "EUR", "phone_number": "46733123499"}


def spoofed(i: int, appended: str | None = None) -> dict[str, str]:
    """A fresh X-Forwarded-For per request; `appended` is what a proxy adds to it."""
    value = f"198.51.100.{i % 250 + 1}" + (f", {appended}" if appended else "")
    return {"HTTP_X_FORWARDED_FOR": value}


@pytest.fixture
def limited(settings):
    settings.PAYMENT_CREATE_RATE = "3/min"
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize("proxies, appended", [(0, None), (1, "127.0.0.1")], ids=["direct", "behind-nginx"])
def test_it_ignores_a_spoofed_forwarded_for_on_the_api(outsider_api, limited, proxies, appended):
    limited.TRUSTED_PROXY_COUNT = proxies
    codes = [
        outsider_api.post("/api/payments/", VALID, format="json", **spoofed(i, appended)).status_code
        for i in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
    assert Payment.objects.count() == 3


@pytest.mark.django_db
def test_it_keeps_real_clients_behind_the_proxy_apart(outsider_api, limited):
    limited.TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        assert outsider_api.post("/api/payments/", VALID, format="json", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 201
    assert outsider_api.post("/api/payments/", VALID, format="json", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert outsider_api.post("/api/payments/", VALID, format="json", HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 201


@pytest.mark.django_db
def test_it_limits_the_checkout_form_with_a_friendly_page(client, limited):
    answers = [client.post("/", FORM, **spoofed(i)) for i in range(5)]
    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    page = answers[3].content.decode()
    assert "Too many payments" in page and "try again" in page
    assert int(answers[3]["Retry-After"]) >= 1
    assert Payment.objects.count() == 3
    assert client.get(answers[0]["Location"]).status_code == 200  # earlier payments still render


@pytest.mark.django_db
def test_it_counts_the_api_and_the_form_together(client, outsider_api, limited):
    assert outsider_api.post("/api/payments/", VALID, format="json").status_code == 201
    assert client.post("/", FORM).status_code == 302
    assert outsider_api.post("/api/payments/", VALID, format="json").status_code == 201
    assert client.post("/", FORM).status_code == 429
    assert outsider_api.post("/api/payments/", VALID, format="json").status_code == 429
    assert Payment.objects.count() == 3


@pytest.mark.django_db
def test_it_limits_signed_in_customers_but_not_staff(customer, operator, limited):
    shopper = Client()
    shopper.force_login(customer)
    codes = [shopper.post("/api/payments/", VALID, content_type="application/json").status_code for _ in range(2)]
    codes += [shopper.post("/", FORM, **spoofed(i)).status_code for i in range(2)]
    assert codes == [201, 201, 302, 429]
    staff = Client()
    staff.force_login(operator)
    assert [staff.post("/", FORM).status_code for _ in range(5)] == [302] * 5
    assert Payment.objects.count() == 3 + 5


@pytest.mark.django_db
def test_it_limits_momo_request_to_pay_per_address_whatever_the_api_user(limited):
    from payments.models import MomoApiUser
    from tests.support.momo_client import SUBSCRIPTION_KEY, DjangoMomoClient

    limited.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    limited.MOMO_ENVIRONMENTS = {"sandbox": "EUR"}

    def fresh_api_user(i: int) -> DjangoMomoClient:
        # A new API user (provisioning needs only the subscription key) and a new spoof each time.
        momo = DjangoMomoClient(Client(**spoofed(i))).provision()
        momo.get_token()
        return momo

    first = fresh_api_user(1)  # hit 1: the API user
    assert first.request_to_pay()[1].status == 202  # hit 2
    second = fresh_api_user(2)  # hit 3
    _, refused = second.request_to_pay()  # hit 4
    assert refused.status == 429 and refused.json()["statusCode"] == 429
    assert int(refused.headers["Retry-After"]) >= 1
    created = DjangoMomoClient(Client(**spoofed(3))).call("POST", "/v1_0/apiuser", json_body={"providerCallbackHost": "x.example"}, X_Reference_Id=str(uuid.uuid4()))
    assert created.status == 429
    assert Payment.objects.count() == 1 and MomoApiUser.objects.count() == 2


# --- across two server processes sharing Redis --------------------------------------------


@pytest.mark.slow
def test_it_counts_spoofed_creates_once_across_two_daphnes_sharing_redis(transactional_db, redis_url, tmp_path):
    servers = two_daphnes(tmp_path, redis_url, API_CREATE_RATE="4/min", TRUSTED_PROXY_COUNT="1")
    try:
        browser = Browser()
        answers = []
        for i in range(6):
            # What an appending proxy passes on: the client's own header, then the real peer.
            headers = {"X-Forwarded-For": f"198.51.100.{i + 1}, 127.0.0.1"}
            server = servers[i % 2]
            if i % 3 == 2:
                answers.append(browser.submit(server.base_url + "/", FORM, headers)[0])
            else:
                body = json.dumps(VALID).encode()  # the API takes JSON only
                answers.append(browser.send(server.base_url + "/api/payments/", body, {**headers, "Content-Type": "application/json"})[0])
        assert answers == [201, 201, 302, 201, 429, 429]
        assert Payment.objects.count() == 4
    finally:
        stop_all(servers)
