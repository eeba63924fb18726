"""Property tests: any input gets either a clean value or a clear error in words, never a crash."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import validation
from payments.models import Payment

amounts = st.decimals(min_value=Decimal("0.01"), max_value=validation.MAX_AMOUNT, places=2)


@given(amounts)
def test_it_keeps_every_valid_amount_exact(amount):
    assert validation.clean_amount(str(amount)) == amount


@given(st.one_of(st.text(max_size=20), st.floats(), st.integers(max_value=0), st.decimals(places=3)))
def test_it_accepts_or_explains_any_amount(value):
    try:
        cleaned = validation.clean_amount(value)
    except ValidationError as exc:
        assert exc.messages[0].startswith("Amount")
    else:
        assert cleaned > 0 and cleaned.as_tuple().exponent == -2


@given(st.from_regex(r"\+?[0-9]{8,15}", fullmatch=True))
def test_it_accepts_every_msisdn(phone):
    assert validation.clean_phone(phone) == phone.lstrip("+")


@given(st.text(max_size=30))
def test_it_accepts_or_explains_any_phone(value):
    try:
        cleaned = validation.clean_phone(value)
    except ValidationError as exc:
        assert "8 to 15 digits" in exc.messages[0]
    else:
        assert cleaned.isdigit() and 8 <= len(cleaned) <= 15


body_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@pytest.mark.django_db
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.dictionaries(st.sampled_from(["amount", "currency", "phone_number", "external_id", "booking_details", "extra"]), body_values))
def test_it_answers_any_json_body_with_201_or_a_field_error(customer_api, settings, body):
    settings.PAYMENT_CREATE_RATE = "100000/min"  # 150 examples by one signed-in customer
    before = Payment.objects.count()
    response = customer_api.post("/api/payments/", body, format="json")
    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert Payment.objects.count() == before
        assert all(isinstance(v, (list, str, dict)) for v in response.json().values())


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ['{"amount": 1e999, "currency": "EUR", "phone_number": "46733123499"}', '{"amount": NaN}', "{not json", ""])
def test_it_answers_malformed_json_with_a_400(outsider_api, raw):
    response = outsider_api.generic("POST", "/api/payments/", raw, content_type="application/json")
    assert response.status_code == 400
    assert Payment.objects.count() == 0
