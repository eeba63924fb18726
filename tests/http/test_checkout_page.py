"""The checkout pages over plain HTTP: the form, its errors in words, the payment page,
the status fragment of the polling fallback, and the 404 for an unknown reference."""

import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client

from payments import services
from payments.models import Payment, PaymentLog
from tests.support.factories import make_payment

pytestmark = pytest.mark.django_db

VALID = {
    "item": "Gorilla trekking permit",
    "date": "2026-12-24",
    "guests": "3",
    "amount": "42.50",
    "currency": "EUR",
    "phone_number": "+46 733-123-499",
}


def csrf_client() -> tuple[Client, str]:
    """A client that checks CSRF like a browser would, with the token from the form."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token, "the form carries a CSRF token"
    return client, token.group(1)


def settle(payment: Payment, outcome: str, reason: str = "") -> Payment:
    return services.payment_force(payment=payment, outcome=outcome, reason=reason, actor="operator:test")


def test_it_shows_the_form_with_the_sandbox_test_numbers(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("item", "date", "guests", "amount", "currency", "phone_number"):
        assert f'name="{name}"' in html
    assert "46733123451" in html and "rejected on the phone" in html
    assert 'name="viewport"' in html  # mobile-friendly


def test_it_creates_the_payment_and_redirects_to_its_page():
    client, token = csrf_client()
    response = client.post("/", {**VALID, "csrfmiddlewaretoken": token})
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/pay/{payment.reference}/"
    assert payment.amount == Decimal("42.50")
    assert payment.phone_number == "46733123499"
    assert payment.status == "processing"
    assert payment.booking_details == {"item": "Gorilla trekking permit", "guests": 3, "date": "2026-12-24"}
    assert PaymentLog.objects.filter(payment=payment, event="created", actor="customer").exists()


def test_it_refuses_a_post_without_the_csrf_token():
    response = Client(enforce_csrf_checks=True).post("/", VALID)
    assert response.status_code == 403
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("amount", "0", "Amount must be more than 0."),
        ("amount", "ten", "is not a number"),
        ("amount", "1.005", "at most 2 decimal places"),
        ("phone_number", "12345", "must be 8 to 15 digits"),
        ("currency", "XYZ", "Select a valid choice"),
        ("guests", "0", "greater than or equal to 1"),
        ("item", "", "This field is required."),
    ],
)
def test_it_shows_field_errors_in_words_next_to_the_field(client, field, value, words):
    response = client.post("/", {**VALID, field: value})
    assert response.status_code == 200
    html = response.content.decode()
    # The error sits inside that field's label, marked for screen readers.
    field_block = re.search(rf'<label class="field invalid">(?:(?!</label>).)*name="{field}"(?:(?!</label>).)*</label>', html, re.S)
    assert field_block, f"{field} is not marked invalid"
    assert 'role="alert"' in field_block.group(0)
    assert words in field_block.group(0)
    assert Payment.objects.count() == 0


def test_it_shows_errors_for_an_empty_post_instead_of_a_blank_form(client):
    response = client.post("/", {})
    assert response.status_code == 200
    assert response.content.decode().count("This field is required.") >= 3
    assert Payment.objects.count() == 0


def test_it_shows_the_waiting_page_with_amount_masked_phone_and_booking(client):
    payment = services.payment_create(
        amount=Decimal("42.50"), currency="UGX", phone_number="46733123499",
        booking_details={"item": "Canopy walk", "guests": 2}, actor="customer",
    )
    response = client.get(f"/pay/{payment.reference}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Waiting for payment authorization..." in html
    assert "42.50 UGX" in html
    assert "467•••••499" in html and "46733123499" not in html
    assert "Canopy walk" in html
    assert f'data-settle-at="{payment.settle_at.isoformat()}"' in html
    status = re.search(rf'<div id="payment-{payment.reference}"[^>]*>', html).group(0)
    assert 'aria-live="polite"' in status and 'data-version="1"' in status
    assert f'ws-connect="/ws/payments/{payment.reference}/"' in html


def test_it_shows_a_failure_in_words_with_a_way_to_try_again(client):
    payment = settle(make_payment(), "failed", "PAYER_NOT_FOUND")
    html = client.get(f"/pay/{payment.reference}/").content.decode()
    assert "Payment failed" in html
    assert "The mobile money account for this number was not found." in html
    assert '<a class="button" href="/">Try again</a>' in html
    assert "ws-connect" not in html  # a final status never changes: no socket needed


def test_it_shows_a_success_with_the_transaction_id(client):
    payment = settle(make_payment(), "successful")
    html = client.get(f"/pay/{payment.reference}/").content.decode()
    assert "Payment successful" in html
    assert payment.financial_transaction_id in html


def test_it_serves_the_status_fragment_with_200_while_processing_and_286_when_final(client):
    payment = make_payment()
    waiting = client.get(f"/pay/{payment.reference}/status/")
    assert waiting.status_code == 200
    html = waiting.content.decode()
    assert html.lstrip().startswith(f'<div id="payment-{payment.reference}"')
    assert "<html" not in html
    settle(payment, "successful")
    final = client.get(f"/pay/{payment.reference}/status/")
    assert final.status_code == 286  # htmx stops polling on 286
    assert "Payment successful" in final.content.decode()


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug-demo"])
@pytest.mark.parametrize("path", ["/pay/{ref}/", "/pay/{ref}/status/"])
def test_it_answers_an_unknown_reference_with_the_404_page(client, settings, path, debug):
    settings.DEBUG = debug  # the demo runs with DEBUG on: the customer still gets the real page
    response = client.get(path.format(ref=uuid.uuid4()))
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and "Start a new payment" in html


def test_it_answers_a_malformed_reference_with_the_404_page(client):
    response = client.get("/pay/not-a-reference/")
    assert response.status_code == 404
    assert "Start a new payment" in response.content.decode()
