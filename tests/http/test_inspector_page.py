"""The inspector's pages and socket: staff only, filters, a call expanded with Copy as curl,
the JSON export, a payment's calls; and no secret on any of them."""

import uuid
from html import unescape

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from inspector.models import ApiCall
from tests.support.clients import headers_for, logged_in, receive_until
from tests.support.momo_client import SUBSCRIPTION_KEY, DjangoMomoClient, basic

URLS = ["/dashboard/inspector/", "/dashboard/inspector/calls.json", "/dashboard/inspector/report/", "/dashboard/inspector/report.json"]


@pytest.fixture(autouse=True)
def _momo_settings(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_ENVIRONMENTS = {"sandbox": "EUR"}


def momo_client() -> DjangoMomoClient:
    client = DjangoMomoClient(Client()).provision("merchant.example")
    client.get_token()
    return client


def secrets_of(client: DjangoMomoClient) -> list[str]:
    encoded = basic(client.user_id, client.api_key).split()[1]
    return [SUBSCRIPTION_KEY, client.api_key, client.token, encoded, client.token[:-4], client.api_key[:-4]]


def traffic(client: DjangoMomoClient) -> str:
    """Accepted and refused calls, with every kind of secret sent."""
    reference, _ = client.request_to_pay(X_Callback_Url="https://merchant.example/cb")
    client.status(reference)
    client.request_to_pay(reference=str(uuid.uuid1()))
    client.call("POST", "/collection/token/", raw=b"", Authorization=basic(client.user_id, client.api_key))
    client.call("POST", "/collection/token/", raw=b"", Authorization=basic(client.user_id, "wrong-" + client.api_key))
    return reference


@pytest.mark.django_db
@pytest.mark.parametrize("url", [*URLS, "/dashboard/inspector/calls/1/"])
def test_only_staff_see_the_inspector(url, customer):
    assert Client().get(url).status_code == 302  # to the login page
    assert logged_in(customer).get(url).status_code == 403


@pytest.mark.django_db
def test_the_page_shows_each_call_with_its_reason_and_filters_them(operator):
    merchant, other = momo_client(), momo_client()
    reference = traffic(merchant)
    other.request_to_pay()
    staff = logged_in(operator)
    page = staff.get("/dashboard/inspector/").content.decode()
    assert "X-Reference-Id must be a UUID version 4; this one is version 1" in page
    assert page.count('class="call ') == ApiCall.objects.count()

    def shown(query: str) -> set[int]:
        html = staff.get(f"/dashboard/inspector/?{query}").content.decode()
        return {call.pk for call in ApiCall.objects.all() if f'id="call-{call.pk}"' in html}

    assert shown(f"api_user={other.user_id}") == set(ApiCall.objects.filter(api_user=other.user_id).values_list("id", flat=True))
    assert shown("outcome=4xx") == set(ApiCall.objects.filter(status__gte=400, status__lt=500).values_list("id", flat=True))
    assert shown(f"reference={reference}") == set(ApiCall.objects.filter(reference=reference).values_list("id", flat=True))
    assert shown("product=provisioning") == set(ApiCall.objects.filter(product="provisioning").values_list("id", flat=True))
    assert len(shown(f"reference={reference}")) == 2  # created, then read
    assert shown("outcome=nonsense") == set(ApiCall.objects.values_list("id", flat=True))  # ignored, not an error


@pytest.mark.django_db
def test_no_secret_reaches_the_page_a_call_its_curl_or_the_export(operator):
    merchant = momo_client()
    traffic(merchant)
    staff = logged_in(operator)
    texts = [staff.get(url).content.decode() for url in URLS]
    for call in ApiCall.objects.all():
        texts.append(staff.get(f"/dashboard/inspector/calls/{call.pk}/").content.decode())
    everything = unescape("\n".join(texts))
    assert "$MOMO_SUBSCRIPTION_KEY" in everything and "$MOMO_ACCESS_TOKEN" in everything and "$MOMO_API_USER:$MOMO_API_KEY" in everything
    for secret in secrets_of(merchant):
        assert secret not in everything


@pytest.mark.django_db
def test_an_expanded_call_has_its_headers_bodies_and_curl(operator):
    merchant = momo_client()
    reference, _ = merchant.request_to_pay(User_Agent="shop-app/2.1")
    call = ApiCall.objects.get(reference=reference, operation="requesttopay")
    html = unescape(logged_in(operator).get(f"/dashboard/inspector/calls/{call.pk}/").content.decode())
    assert "X-Reference-Id" in html and reference in html and "shop-app/2.1" in html
    assert "46733123499" in html  # the request body
    assert f"/dashboard/payments/{reference}/" in html
    assert "curl -sS -i -X POST http://testserver/collection/v1_0/requesttopay" in html
    assert "-H 'X-Reference-Id: " + reference + "'" in html


@pytest.mark.django_db
def test_the_json_export_holds_every_field_of_the_filtered_calls(operator):
    merchant = momo_client()
    traffic(merchant)
    body = logged_in(operator).get("/dashboard/inspector/calls.json?outcome=4xx").json()
    assert body["calls"] and all(400 <= c["status"] < 500 for c in body["calls"])
    first = body["calls"][0]
    assert {"request_headers", "request_body", "response_body", "reason", "fix", "code", "latency_ms"} <= set(first)


@pytest.mark.django_db
def test_a_payment_page_counts_the_calls_about_it(operator):
    merchant = momo_client()
    reference, _ = merchant.request_to_pay()
    for _ in range(14):
        merchant.status(reference)
    html = logged_in(operator).get(f"/dashboard/payments/{reference}/").content.decode()
    assert "status read 14 times, last 0 s ago" in html
    assert "request to pay sent once" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("empty_layer")
async def test_a_call_is_pushed_to_an_open_inspector_with_its_reason_and_no_secret(operator):
    staff = await sync_to_async(logged_in)(operator)
    merchant = await sync_to_async(momo_client)()
    socket = WebsocketCommunicator(application, f"/ws/inspector/?api_user={merchant.user_id}", headers=headers_for(staff))
    assert (await socket.connect(timeout=5))[0]
    other = await sync_to_async(momo_client)()
    await sync_to_async(other.request_to_pay)(reference="not-a-uuid")  # another API user: filtered out
    await sync_to_async(merchant.request_to_pay)(reference=str(uuid.uuid1()))
    frame, before = await receive_until(socket, lambda m: "this one is version 1" in m, what="the refused call")
    assert not any(other.user_id[:8] in m for m in before) and other.user_id[:8] not in frame
    for secret in secrets_of(merchant):
        assert secret not in frame
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_inspector_socket_refuses_who_is_not_staff(customer):
    browser = await sync_to_async(logged_in)(customer)
    for headers in (headers_for(None), headers_for(browser)):
        socket = WebsocketCommunicator(application, "/ws/inspector/", headers=headers)
        connected, _ = await socket.connect(timeout=5)
        assert not connected
