"""Who may see and steer the dashboard: staff only, on every page, action and socket.

Three actors: an operator (staff), a customer (logged in, not staff), an anonymous visitor.
Every action is a POST with CSRF; a GET never changes anything.
"""

from decimal import Decimal

import pytest
from django.test import Client

from payments import services
from payments.models import MomoApiUser, Payment, PaymentLog, SimulatorSettings
from payments.selectors import simulator_settings
from tests.support.clients import logged_in, open_dashboard

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS_FORM = {"timeout_seconds": "7", "success_rate": "0.5", "expiry_seconds": "120"}


@pytest.fixture
def payment() -> Payment:
    return services.payment_create(amount=Decimal("40.00"), currency="EUR", phone_number="46733123499", actor="test")


def actions(payment: Payment) -> list[tuple[str, dict[str, str]]]:
    force = f"/dashboard/payments/{payment.reference}/force/"
    return [
        (force, {"outcome": "failed", "reason": "NOT_ENOUGH_FUNDS"}),
        ("/dashboard/settle-all/", {}),
        ("/dashboard/pause/", {}),
        ("/dashboard/resume/", {}),
        ("/dashboard/settings/", SETTINGS_FORM),
        ("/dashboard/momo-clients/", {"callback_host": "shop.example"}),
    ]


def pages(payment: Payment) -> list[str]:
    return ["/dashboard/", "/dashboard/?status=failed&q=4673", f"/dashboard/payments/{payment.reference}/"]


def state() -> tuple:
    """Everything an action could change."""
    config = simulator_settings()
    return (
        list(Payment.objects.order_by("id").values_list("status", "version")),
        PaymentLog.objects.count(),
        (config.version, config.paused, config.timeout_seconds, config.success_rate, config.expiry_seconds),
        list(MomoApiUser.objects.values_list("id", "api_key_hash")),
    )


def csrf_token(client: Client) -> str:
    client.get("/")  # any page with a form sets the csrftoken cookie, for every actor
    return client.cookies["csrftoken"].value


def test_it_shows_every_page_to_the_operator_only(operator, customer, payment):
    staff, other, anonymous = logged_in(operator), logged_in(customer), Client()
    for url in pages(payment):
        assert staff.get(url).status_code == 200, url
        assert other.get(url).status_code == 403, url
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=/dashboard/"), url


def test_it_refuses_every_action_to_non_staff_and_changes_nothing(operator, customer, payment):
    before = state()
    for client in (logged_in(customer, csrf=True), Client(enforce_csrf_checks=True)):
        token = csrf_token(client)
        for url, data in actions(payment):
            response = client.post(url, data, HTTP_X_CSRFTOKEN=token)
            assert response.status_code == 403, url
    assert state() == before


def test_it_refuses_an_action_without_the_csrf_token(operator, payment):
    client = logged_in(operator, csrf=True)
    before = state()
    for url, data in actions(payment):
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, data, HTTP_X_CSRFTOKEN="not-the-token" * 3).status_code == 403, url
    assert state() == before


def test_it_runs_each_action_for_the_operator_with_the_token_and_logs_the_name(operator, payment):
    client = logged_in(operator, csrf=True)
    token = csrf_token(client)
    for url, data in actions(payment):
        response = client.post(url, data, HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 200, (url, response.content)
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", "NOT_ENOUGH_FUNDS")
    assert PaymentLog.objects.get(payment=payment, event="forced").actor == "operator:operator"
    config = SimulatorSettings.objects.get(pk=1)
    assert (config.timeout_seconds, config.success_rate, config.expiry_seconds, config.paused) == (7, 0.5, 120, False)
    assert MomoApiUser.objects.get().provider_callback_host == "shop.example"
    changes = PaymentLog.objects.filter(event="config", actor="operator:operator")
    assert [sorted(c.details) for c in changes] == [
        ["paused"], ["paused"], ["expiry_seconds", "success_rate", "timeout_seconds"],
    ]


def test_it_never_changes_state_on_a_get(operator, payment):
    client = logged_in(operator)
    before = state()
    for url, _ in actions(payment):
        assert client.get(url).status_code == 405, url
    for url in pages(payment):
        assert client.get(url).status_code == 200
    assert state() == before


async def test_it_opens_the_socket_for_the_operator_only(operator, customer):
    from asgiref.sync import sync_to_async

    staff, other = await sync_to_async(logged_in)(operator), await sync_to_async(logged_in)(customer)
    for client in (None, other):
        socket, connected, _ = await open_dashboard(client)
        assert not connected  # closed before accept: Daphne answers the handshake with 403
        await socket.disconnect()
    socket, connected, _ = await open_dashboard(staff)
    assert connected
    snapshot = await socket.receive_from(timeout=5)
    assert 'id="payment-rows"' in snapshot and 'id="stats"' in snapshot and 'id="settings-panel"' in snapshot
    await socket.disconnect()
