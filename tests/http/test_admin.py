import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model

from payments.models import Payment, PaymentLog
from payments.selectors import simulator_settings
from payments.services import operator_ensure, payment_force
from tests.support.factories import make_payment

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


@pytest.fixture
def operator_admin(client):
    """The demo's operator, a superuser, as `demo` makes it."""
    operator_ensure()
    client.force_login(get_user_model().objects.get(username=settings.DEMO_OPERATOR_USERNAME))
    return client


def _admin_url(obj, view: str = "") -> str:
    base = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
    return f"{base}{obj.pk}/{view}/" if view else base


def test_it_refuses_to_delete_payments_and_log_rows_even_for_the_operator(operator_admin):
    payment = make_payment()
    log = payment.logs.get()
    config = simulator_settings()
    for obj in (payment, log, config):
        assert operator_admin.get(_admin_url(obj, "delete")).status_code == 403
        assert operator_admin.post(_admin_url(obj, "delete"), {"post": "yes"}).status_code == 403
        changelist = operator_admin.get(_admin_url(obj)).content.decode()
        assert "delete_selected" not in changelist
        bulk = {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
        operator_admin.post(_admin_url(obj), bulk)
        assert type(obj).objects.filter(pk=obj.pk).exists()
    assert operator_admin.get("/admin/payments/payment/add/").status_code == 403
    assert Payment.objects.filter(pk=payment.pk, status="processing").exists()
    assert PaymentLog.objects.filter(pk=log.pk).exists()


def test_every_model_of_the_domain_is_read_only_in_the_admin(operator_admin, rf):
    request = rf.get("/admin/")
    request.user = get_user_model().objects.get(username=settings.DEMO_OPERATOR_USERNAME)
    for model in apps.get_app_config("payments").get_models():
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue  # not in the admin at all (idempotency keys)
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
        assert "delete_selected" not in model_admin.get_actions(request), model
