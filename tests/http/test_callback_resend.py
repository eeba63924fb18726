"""An operator's "Resend callback", without a browser: the service and the dashboard's POST.

A resend makes a delivery due now with a fresh maximum age, logs who asked, and wakes the
workers' senders; while a sender holds the delivery (a lease in the future) it is refused
in words and nothing changes, so a callback is never sent twice at once.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from payments import events, services
from payments.models import CallbackDelivery, PaymentLog
from tests.support.callback_receiver import api_user, momo_payment
from tests.support.clients import logged_in

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/momo/callback"  # a closed loopback port: nothing is sent here


@pytest.fixture
def pushed(monkeypatch) -> list:
    """Every event sent after a commit (on_commit callbacks run: see `committed`)."""
    sent: list = []
    monkeypatch.setattr(events, "send_events", sent.extend)
    return sent


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def given_up() -> CallbackDelivery:
    """A failed payment's callback that ran out of time after three attempts."""
    payment = momo_payment(api_user(), URL)
    services.payment_force(payment=payment, outcome="failed", reason="EXPIRED", actor="test")
    past = timezone.now() - timedelta(hours=1)
    CallbackDelivery.objects.filter(payment=payment).update(
        status=CallbackDelivery.Status.FAILED, attempts=3, next_attempt_at=past, give_up_at=past, last_status_code=500
    )
    return CallbackDelivery.objects.select_related("payment").get(payment=payment)


@pytest.fixture
def in_flight(given_up) -> CallbackDelivery:
    """The same delivery while a sender holds it: claimed, its lease in the future."""
    services.callback_resend(delivery=given_up, actor="test")
    [claimed] = services.callback_claim(claimer="worker-1:1", limit=10)
    assert claimed.pk == given_up.pk and claimed.claimed_until > timezone.now()
    return claimed


def row_of(delivery: CallbackDelivery) -> dict:
    return CallbackDelivery.objects.filter(pk=delivery.pk).values().get()


def resends() -> int:
    return PaymentLog.objects.filter(event="callback", details__resend=True).count()


def test_it_makes_a_given_up_callback_due_now_with_a_fresh_maximum_age(given_up, committed, pushed):
    before = timezone.now()
    with committed():
        services.callback_resend(delivery=given_up, actor="operator:alice")
    after = row_of(given_up)
    assert after["status"] == CallbackDelivery.Status.PENDING
    assert before <= after["next_attempt_at"] <= timezone.now()
    assert after["give_up_at"] - after["next_attempt_at"] == timedelta(days=1)  # max_age_seconds' default
    assert after["claimed_until"] is None and after["attempts"] == 3  # the count of attempts goes on
    [log] = PaymentLog.objects.filter(payment=given_up.payment, event="callback", details__resend=True)
    assert log.actor == "operator:alice" and log.details["url"] == URL
    assert (events.WORKER_GROUP, events.CALLBACKS_WAKE) in pushed  # a sender picks it up now
    [update] = [message for group, message in pushed if group == events.DASHBOARD_GROUP]
    assert update["type"] == "callbacks.updated" and update["callbacks"][0]["status"] == "pending"


def test_it_refuses_a_resend_while_a_sender_holds_the_callback_and_changes_nothing(in_flight, committed, pushed):
    before, logged = row_of(in_flight), resends()
    with committed(), pytest.raises(services.PaymentError, match="being sent right now"):
        services.callback_resend(delivery=in_flight, actor="operator:alice")
    assert row_of(in_flight) == before
    assert resends() == logged and pushed == []


def test_it_resends_a_callback_whose_senders_lease_ran_out(in_flight):
    """The sender died mid-send: once its lease is over, the operator is not locked out."""
    CallbackDelivery.objects.filter(pk=in_flight.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    services.callback_resend(delivery=in_flight, actor="operator:alice")
    after = row_of(in_flight)
    assert after["claimed_until"] is None and after["next_attempt_at"] <= timezone.now()


def test_the_dashboard_resends_and_answers_with_a_toast_and_the_new_row(staff, given_up):
    response = staff.post(f"/dashboard/callbacks/{given_up.pk}/resend/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Callback for payment {str(given_up.payment.reference)[:8]} resent now." in body
    assert f'id="callback-{given_up.pk}"' in body and 'data-status="pending"' in body and "<html" not in body
    assert row_of(given_up)["status"] == CallbackDelivery.Status.PENDING
    assert PaymentLog.objects.get(event="callback", details__resend=True).actor == "operator:operator"


def test_the_dashboard_refuses_a_resend_in_flight_with_a_409_toast_and_changes_nothing(staff, in_flight):
    before, logged = row_of(in_flight), resends()
    response = staff.post(f"/dashboard/callbacks/{in_flight.pk}/resend/")
    assert response.status_code == 409
    body = response.content.decode()
    assert "being sent right now" in body and 'class="toast toast-warn"' in body and "<html" not in body
    assert row_of(in_flight) == before and resends() == logged


def test_the_dashboard_answers_an_unknown_callback_with_a_404_toast(staff):
    response = staff.post("/dashboard/callbacks/999999/resend/")
    assert response.status_code == 404
    assert "No callback with that id." in response.content.decode()


def test_only_staff_may_resend_and_only_with_the_csrf_token(customer, operator, given_up):
    before = row_of(given_up)
    url = f"/dashboard/callbacks/{given_up.pk}/resend/"
    assert logged_in(customer).post(url).status_code == 403
    assert Client().post(url).status_code == 403  # anonymous
    assert logged_in(operator, csrf=True).post(url).status_code == 403  # no token: a forged POST
    assert row_of(given_up) == before and resends() == 0
