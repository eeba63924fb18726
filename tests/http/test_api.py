import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from payments.models import IdempotencyKey, Payment, PaymentLog
from payments.services import payment_create

pytestmark = pytest.mark.django_db

VALID = {"amount": "100.50", "currency": "EUR", "phone_number": "+46733123499"}


def test_it_creates_a_payment_with_exact_amount(outsider_api):
    response = outsider_api.post("/api/payments/", {**VALID, "external_id": "order-7", "booking_details": {"item": "Safari"}}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get(reference=body["reference"])
    assert payment.amount == Decimal("100.50")
    assert body["amount"] == "100.50"
    assert body["status"] == "processing"
    assert body["phone_number"] == "46733123499"
    assert body["booking_details"] == {"item": "Safari"}
    assert body["version"] == 1
    assert body["checkout_url"].endswith(f"/pay/{payment.reference}/")
    assert set(body) == {
        "reference", "status", "reason", "amount", "currency", "phone_number", "external_id",
        "booking_details", "financial_transaction_id", "created_at", "settle_at", "settled_at",
        "version", "checkout_url", "kind", "direction", "refunded_amount",
    }
    assert PaymentLog.objects.filter(payment=payment, event="created", actor="api").count() == 1


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("amount", "0", "more than 0"),
        ("amount", "-5", "more than 0"),
        ("amount", "1.005", "2 decimal places"),
        ("amount", "ten", "not a number"),
        ("amount", "NaN", "more than 0"),
        ("currency", "XYZ", "not supported"),
        ("phone_number", "12345", "8 to 15 digits"),
        ("phone_number", "46733abc450", "8 to 15 digits"),
        ("phone_number", "1234567890123456", "8 to 15 digits"),
    ],
)
def test_it_rejects_bad_fields_in_words_and_writes_nothing(outsider_api, field, value, words):
    response = outsider_api.post("/api/payments/", {**VALID, field: value}, format="json")
    assert response.status_code == 400
    assert words in response.json()[field][0]
    assert Payment.objects.count() == 0


def test_it_rejects_missing_fields_and_non_objects(outsider_api):
    response = outsider_api.post("/api/payments/", {"amount": "5"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"currency", "phone_number"}
    assert outsider_api.post("/api/payments/", [1, 2], format="json").status_code == 400
    bad_booking = outsider_api.post("/api/payments/", {**VALID, "booking_details": "nope"}, format="json")
    assert bad_booking.status_code == 400 and "booking_details" in bad_booking.json()
    assert Payment.objects.count() == 0


def test_it_replays_the_first_response_for_the_same_idempotency_key(outsider_api):
    first = outsider_api.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    payment = Payment.objects.get()
    payment_force_success(payment)
    replay = outsider_api.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert Payment.objects.count() == 1


def payment_force_success(payment):
    from payments.services import payment_force

    payment_force(payment=payment, outcome="successful", actor="test")


def test_it_refuses_the_same_key_with_another_body(outsider_api):
    outsider_api.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    conflict = outsider_api.post("/api/payments/", {**VALID, "amount": "7"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert conflict.status_code == 409
    assert "different request body" in conflict.json()["detail"]
    assert Payment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_creates_one_payment_for_concurrent_requests_with_one_key():
    barrier = threading.Barrier(8)
    results: list[tuple[int, str]] = []

    def post() -> None:
        client = APIClient()
        barrier.wait()
        response = client.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        results.append((response.status_code, response.json().get("reference", "")))
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8
    assert {code for code, _ in results} == {201}
    assert len({ref for _, ref in results}) == 1
    assert Payment.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_it_throttles_anonymous_creates(outsider_api, settings):
    settings.PAYMENT_CREATE_RATE = "3/min"
    codes = [outsider_api.post("/api/payments/", VALID, format="json").status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    assert Payment.objects.count() == 3


def test_it_shows_a_payment_to_anyone_with_its_reference(outsider_api):
    payment = payment_create(amount=Decimal("5"), currency="EUR", phone_number="46733123499")
    response = outsider_api.get(f"/api/payments/{payment.reference}/")
    assert response.status_code == 200 and response.json()["reference"] == str(payment.reference)
    assert outsider_api.get("/api/payments/00000000-0000-4000-8000-000000000000/").status_code == 404
    assert outsider_api.get("/api/payments/42/").status_code == 404


def test_it_lists_payments_for_staff_only(operator_api, customer_api, outsider_api):
    first = payment_create(amount=Decimal("5"), currency="EUR", phone_number="46733123499")
    payment_create(amount=Decimal("6"), currency="EUR", phone_number="46733123499")
    payment_force_success(first)
    assert outsider_api.get("/api/payments/").status_code == 403
    assert customer_api.get("/api/payments/").status_code == 403
    everything = operator_api.get("/api/payments/")
    assert everything.status_code == 200 and len(everything.json()) == 2
    done = operator_api.get("/api/payments/?status=successful").json()
    assert [p["reference"] for p in done] == [str(first.reference)]
    bad = operator_api.get("/api/payments/?status=paid")
    assert bad.status_code == 400 and "must be one of" in bad.json()["detail"]


def test_it_lets_staff_complete_a_payment_once(operator_api, customer_api, outsider_api):
    payment = payment_create(amount=Decimal("5"), currency="EUR", phone_number="46733123499")
    url = f"/api/payments/{payment.reference}/complete/"
    assert outsider_api.post(url, {"outcome": "failed"}, format="json").status_code == 403
    assert customer_api.post(url, {"outcome": "failed"}, format="json").status_code == 403
    assert operator_api.post(url, {"outcome": "lost"}, format="json").status_code == 400
    bad_reason = operator_api.post(url, {"outcome": "failed", "reason": "BECAUSE"}, format="json")
    assert bad_reason.status_code == 400 and "reason" in bad_reason.json()
    payment.refresh_from_db()
    assert payment.status == "processing"

    done = operator_api.post(url, {"outcome": "failed", "reason": "NOT_ENOUGH_FUNDS"}, format="json")
    assert done.status_code == 200
    assert done.json()["status"] == "failed" and done.json()["reason"] == "NOT_ENOUGH_FUNDS"
    again = operator_api.post(url, {"outcome": "successful"}, format="json")
    assert again.status_code == 409 and "already settled" in again.json()["detail"]
    log = PaymentLog.objects.get(payment=payment, event="forced")
    assert log.actor == "operator:operator" and log.to_status == "failed"


def test_it_serves_the_openapi_schema_and_docs_without_a_cdn(outsider_api):
    schema = outsider_api.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/payments/{reference}/complete/" in schema.content
    docs = outsider_api.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()


def test_it_has_a_valid_schema_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
