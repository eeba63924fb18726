import pytest
from django.contrib.auth import get_user_model

from payments.services import payment_force
from tests.factories import make_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    user = get_user_model().objects.create_superuser("root", password="root-pass-123")
    client.force_login(user)
    return client


def test_it_finds_payments_by_reference_phone_and_external_id(admin_client_):
    wanted = make_payment("46733123461")
    wanted.external_id = "order-991"
    wanted.save(update_fields=["external_id"])
    other = make_payment("46733123499")
    for query in [str(wanted.reference), "46733123461", "order-991"]:
        page = admin_client_.get("/admin/payments/payment/", {"q": query}).content.decode()
        assert str(wanted.reference) in page and str(other.reference) not in page, query


def test_it_filters_by_status_and_reason(admin_client_):
    failed = make_payment()
    payment_force(payment=failed, outcome="failed", reason="NOT_ENOUGH_FUNDS", actor="test")
    processing = make_payment()
    page = admin_client_.get("/admin/payments/payment/", {"status__exact": "failed", "reason": "NOT_ENOUGH_FUNDS"}).content.decode()
    assert str(failed.reference) in page and str(processing.reference) not in page


def test_it_shows_booking_details_and_a_read_only_log(admin_client_):
    payment = make_payment()
    payment.booking_details = {"item": "Gorilla trekking", "guests": 2}
    payment.save(update_fields=["booking_details"])
    payment_force(payment=payment, outcome="successful", actor="operator:alice")
    response = admin_client_.get(f"/admin/payments/payment/{payment.pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "&quot;item&quot;: &quot;Gorilla trekking&quot;" in page
    assert "operator:alice" in page and "forced" in page
    assert 'name="status"' not in page  # read-only: no way around the services
    post = admin_client_.post(f"/admin/payments/payment/{payment.pk}/change/", {"status": "processing"})
    assert post.status_code == 403
    payment.refresh_from_db()
    assert payment.status == "successful"
