"""The projector screen is staff-only, and carries the "Scan to pay" QR of the checkout."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_is_staff_only(operator, customer):
    assert Client().get("/dashboard/screen/").status_code == 302
    signed_in = Client()
    signed_in.force_login(customer)
    assert signed_in.get("/dashboard/screen/").status_code == 403
    staff = Client()
    staff.force_login(operator)
    page = staff.get("/dashboard/screen/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Scan to pay" in html and 'class="qr"' in html and 'ws-connect="/ws/dashboard/?view=room"' in html


def test_its_qr_carries_the_public_url(operator, settings):
    settings.PUBLIC_URL = "http://127.0.0.2:8000"
    staff = Client()
    staff.force_login(operator)
    assert "<code>http://127.0.0.2:8000/</code>" in staff.get("/dashboard/screen/").content.decode()


def test_its_simulated_phone_opens_the_newest_waiting_payment(operator):
    from decimal import Decimal

    from payments import services

    staff = Client()
    staff.force_login(operator)
    assert "No payment is waiting" in staff.get("/dashboard/screen/phone/").content.decode()
    older = services.payment_create(amount=Decimal("5.00"), currency="EUR", phone_number="46733123499")
    newer = services.payment_create(amount=Decimal("6.00"), currency="EUR", phone_number="46733123499")
    answer = staff.get("/dashboard/screen/phone/")
    assert answer.status_code == 302 and answer["Location"] == f"/p/{newer.approval_token}/"
    services.payment_force(payment=newer, outcome="successful", actor="operator:alice")
    assert staff.get("/dashboard/screen/phone/")["Location"] == f"/p/{older.approval_token}/"
    assert Client().get("/dashboard/screen/phone/").status_code == 302  # to the login page
    assert "/accounts/login/" in Client().get("/dashboard/screen/phone/")["Location"]
