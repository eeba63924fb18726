"""Issue 10's probe payloads on every input path: each is a clear 4xx in that channel's
format, nothing is stored, and the payments already there still render everywhere."""

import json
import uuid
from decimal import Decimal

import pytest
from django.test import Client

from payments import services
from payments.models import IdempotencyKey, Payment
from tests.support.factories import make_payment
from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, DjangoMomoClient

pytestmark = pytest.mark.django_db

VALID = {"amount": "100.00", "currency": "EUR", "phone_number": "46733123499"}


@pytest.fixture
def staff(operator) -> Client:
    operator.is_superuser = True  # the admin's change page too (the demo operator is one)
    operator.save()
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def existing(db) -> Payment:
    return services.payment_create(
        amount=Decimal("12.00"), currency="EUR", phone_number="46733123499",
        booking_details={"item": "Canopy walk", "guests": 2}, actor="customer",
    )


def assert_everything_still_renders(staff: Client, payment: Payment) -> None:
    anyone = Client()
    for client, path in [
        (anyone, f"/pay/{payment.reference}/"),
        (anyone, f"/pay/{payment.reference}/status/"),
        (anyone, f"/api/payments/{payment.reference}/"),
        (staff, "/dashboard/"),
        (staff, f"/dashboard/payments/{payment.reference}/"),
        (staff, "/api/payments/"),
        (staff, f"/admin/payments/payment/{payment.pk}/change/"),
    ]:
        response = client.get(path)
        assert response.status_code in (200, 286), (path, response.status_code)


def raw_post(client: Client, body: str):
    return client.generic("POST", "/api/payments/", body.encode("utf-8", "surrogatepass"), content_type="application/json")


# Written as the JSON text a client sends: "\ud800" is a lone surrogate escape.
BAD_BOOKINGS = {
    "lone surrogate in a value": r'{"item": "x\ud800y"}',
    "lone surrogate in a key": r'{"\udfff": "x"}',
    "NUL in a value": r'{"item": "a\u0000b"}',
    "NUL in a key": r'{"a\u0000": 1}',
    "bidi override in a value": r'{"item": "\u202egnp.exe"}',
    "bidi isolate in a key": r'{"\u2066item": "x"}',
    "a list value": '{"item": [1, 2]}',
    "nested object": '{"item": {"deeper": 1}}',
    "not an object": '["item"]',
    "a number too large for JavaScript": '{"n": 9007199254740993}',
    "too many keys": json.dumps({f"k{i}": i for i in range(21)}),
    "a key too long": json.dumps({"k" * 41: 1}),
    "a value too long": json.dumps({"item": "x" * 201}),
    "over 4 KiB in all": json.dumps({f"k{i}": "é" * 150 for i in range(20)}, ensure_ascii=False),
}


@pytest.mark.parametrize("details", BAD_BOOKINGS.values(), ids=BAD_BOOKINGS.keys())
def test_it_refuses_unsafe_booking_details_with_a_field_error(staff, existing, details):
    body = '{"amount": "10.00", "currency": "EUR", "phone_number": "46733123499", "booking_details": %s}' % details
    response = raw_post(Client(), body)
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["booking_details"]
    assert response.json()["booking_details"][0].endswith((".", "try again."))
    assert Payment.objects.count() == 1
    assert_everything_still_renders(staff, existing)


TEXT_PROBES = {
    "lone surrogate": r"x\ud800", "NUL": r"a\u0000b", "bidi override": r"\u202eevil", "newline": r"a\nb",
    "combining marks": "Z" + r"\u0301" * 40,
}


@pytest.mark.parametrize("text", TEXT_PROBES.values(), ids=TEXT_PROBES.keys())
def test_it_refuses_unsafe_characters_in_every_api_string(staff, existing, text):
    for field in ("external_id", "amount", "currency", "phone_number"):
        fields = {**VALID, field: "PLACEHOLDER"}
        body = json.dumps(fields).replace("PLACEHOLDER", text)
        response = raw_post(Client(), body)
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()
    assert Payment.objects.count() == 1
    assert_everything_still_renders(staff, existing)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("amount", "١٠٠", "ASCII digits"),
        ("amount", "1_000.00", "ASCII digits"),
        ("amount", "1e3", "ASCII digits"),
        ("amount", "１００", "ASCII digits"),  # fullwidth
        ("amount", 1e3, "ASCII digits"),  # a JSON float written 1000.0 is fine, 1e+21 is not
        ("phone_number", "٤٦٧٣٣١٢٣٤٩٩", "Use the digits 0-9."),
        ("phone_number", "4673312_3499", "Use the digits 0-9."),
        ("phone_number", "46733123499\u202e", "Use the digits 0-9."),
    ],
)
def test_it_reads_only_ascii_digits_as_numbers(staff, existing, field, value, words):
    if value == 1e3:
        value = 1e21
    response = Client().post("/api/payments/", {**VALID, field: value}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert words in response.json()[field][0]
    assert Payment.objects.count() == 1
    assert_everything_still_renders(staff, existing)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_it_answers_deeply_nested_json_with_a_400_not_a_500(staff, existing, depth):
    for nested in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        body = '{"amount": "10.00", "currency": "EUR", "phone_number": "46733123499", "booking_details": %s}' % nested
        response = raw_post(Client(), body)
        assert 400 <= response.status_code < 500, response.status_code
        assert "detail" in response.json() or "booking_details" in response.json()
    assert Payment.objects.count() == 1
    assert_everything_still_renders(staff, existing)


def test_it_refuses_a_2_4_mb_booking_before_reading_it(staff, existing):
    body = json.dumps({**VALID, "booking_details": {"blob": "x" * 2_400_000}})
    response = raw_post(Client(), body)
    assert response.status_code == 413
    assert "larger than 16 KiB" in response.json()["detail"]
    just_over = json.dumps({**VALID, "booking_details": {f"k{i}": "x" * 200 for i in range(20)}})
    response = raw_post(Client(), just_over)
    assert response.status_code == 400 and "bytes as JSON" in response.json()["booking_details"][0]
    assert Payment.objects.count() == 1
    assert_everything_still_renders(staff, existing)


def test_it_shows_a_key_named_like_a_dict_method_as_data(staff):
    """`{"items": 5}` made the checkout and detail pages 500 (the template read the key)."""
    body = {**VALID, "booking_details": {"items": 5, "keys": "x", "values": None, "get": True}}
    response = Client().post("/api/payments/", body, content_type="application/json")
    assert response.status_code == 201
    payment = Payment.objects.get()
    page = Client().get(f"/pay/{payment.reference}/").content.decode()
    assert "<dt>Items</dt><dd>5</dd>" in page and "<dt>Get</dt><dd>True</dd>" in page
    detail = staff.get(f"/dashboard/payments/{payment.reference}/").content.decode()
    assert "<dt>Items</dt><dd>5</dd>" in detail and "<dt>Keys</dt><dd>x</dd>" in detail
    assert_everything_still_renders(staff, payment)


def test_it_renders_a_row_stored_before_the_rules(staff):
    """Rows written before these rules (a lone surrogate stored on SQLite) still render."""
    payment = make_payment()
    Payment.objects.filter(pk=payment.pk).update(
        booking_details={"item": "bad\ud800", "items": 5, "deep": [[[]]]}, external_id="ext\u202e\x07"
    )
    assert_everything_still_renders(staff, payment)
    api = Client().get(f"/api/payments/{payment.reference}/").json()
    assert api["booking_details"] == {} and api["external_id"] == "ext\ufffd\ufffd"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("item", "Safari\u202e", "bidirectional control"),
        ("item", "Safari\x00", "Null characters are not allowed"),
        ("item", "Safari\x07", "control character"),
        ("amount", "١٠٠", "ASCII digits"),
        ("amount", "1_000.00", "ASCII digits"),
        ("phone_number", "٤٦٧٣٣١٢٣٤٩٩", "Use the digits 0-9."),
        ("guests", "٣", "Enter a whole number"),
        ("guests", "1_0", "Enter a whole number"),
        ("date", "٢٠٢٦-١٢-٢٤", "Enter a valid date"),
    ],
)
def test_it_refuses_unsafe_form_input_next_to_the_field(staff, existing, field, value, words):
    form = {"item": "Safari", "guests": "2", "amount": "10.00", "currency": "EUR", "phone_number": "46733123499"}
    response = Client().post("/", {**form, field: value})
    assert response.status_code == 200
    assert words in response.content.decode()
    assert Payment.objects.count() == 1
    assert_everything_still_renders(staff, existing)


@pytest.mark.parametrize("value", ["١٠", "1_0", "1e1", "３０", "10\u202e"])
def test_it_refuses_non_ascii_numbers_in_the_dashboard_settings(staff, existing, value):
    from payments.selectors import simulator_settings

    before = simulator_settings().timeout_seconds
    for field in ("timeout_seconds", "expiry_seconds", "success_rate"):
        form = {"timeout_seconds": "5", "success_rate": "0.5", "expiry_seconds": "60", field: value}
        response = staff.post("/dashboard/settings/", form)
        assert response.status_code == 422, (field, value)
    assert simulator_settings().timeout_seconds == before
    assert_everything_still_renders(staff, existing)


def test_it_ignores_unsafe_characters_in_the_dashboard_search(staff, existing):
    response = staff.get("/dashboard/?q=467%00%E2%80%AE33")
    assert response.status_code == 200
    assert str(existing.reference) in response.content.decode()


def test_it_scopes_idempotency_keys_to_the_caller(customer_api, operator_api, outsider_api):
    first = outsider_api.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    # Another caller, same key and body: its own payment, not the first caller's.
    other = customer_api.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    anonymous_elsewhere = APIClientAt("10.9.9.9").post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == other.status_code == anonymous_elsewhere.status_code == 201
    references = {first.json()["reference"], other.json()["reference"], anonymous_elsewhere.json()["reference"]}
    assert len(references) == 3 and Payment.objects.count() == 3
    # The same caller again: the first response, replayed.
    replay = outsider_api.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert replay.json() == first.json()
    # A different body under the same caller's key: 409, nothing new.
    conflict = customer_api.post("/api/payments/", {**VALID, "amount": "5.00"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert conflict.status_code == 409
    assert Payment.objects.count() == 3
    assert set(IdempotencyKey.objects.values_list("scope", flat=True)) == {
        "client:127.0.0.1", "client:10.9.9.9", f"user:{Payment.objects.get(reference=other.json()['reference']).owner_id}",
    }


def APIClientAt(address: str):
    from rest_framework.test import APIClient

    return APIClient(REMOTE_ADDR=address)


@pytest.mark.parametrize("key", ["has space", "tab\tkey", "é-key", "k" * 256])
def test_it_refuses_a_malformed_idempotency_key(outsider_api, key):
    response = outsider_api.post("/api/payments/", VALID, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["detail"]
    assert Payment.objects.count() == 0


def test_it_masks_the_phone_number_for_readers_who_only_hold_the_reference(operator_api, customer_api, outsider_api):
    own = customer_api.post("/api/payments/", VALID, format="json")
    assert own.json()["phone_number"] == "46733123499"  # the creator gets back what it sent
    url = f"/api/payments/{own.json()['reference']}/"
    assert outsider_api.get(url).json()["phone_number"] == "467•••••499"
    assert customer_api.get(url).json()["phone_number"] == "46733123499"  # its owner
    assert operator_api.get(url).json()["phone_number"] == "46733123499"  # staff
    anonymous = outsider_api.post("/api/payments/", VALID, format="json").json()
    assert customer_api.get(f"/api/payments/{anonymous['reference']}/").json()["phone_number"] == "467•••••499"
    page = Client().get(f"/pay/{anonymous['reference']}/").content.decode()
    assert "467•••••499" in page and "46733123499" not in page  # the same mask as the page


# --- the MoMo API: the same rules, in MoMo's {"code", "message"} ---------------------------

MOMO_PROBES = [
    ("amount arabic-indic digits", {"amount": "١٠٠"}, "INVALID_AMOUNT"),
    ("amount with underscore", {"amount": "1_000.00"}, "INVALID_AMOUNT"),
    ("msisdn arabic-indic digits", {"payer": {"partyIdType": "MSISDN", "partyId": "٤٦٧٣٣١٢٣٤٩٩"}}, "INVALID_PAYER"),
    ("email with bidi override", {"payer": {"partyIdType": "EMAIL", "partyId": "a@b\u202ec.com"}}, "INVALID_PAYER"),
    ("payer message with NUL", {"payerMessage": "hi\u0000"}, "INVALID_BODY"),
    ("payee note with bidi", {"payeeNote": "\u202eevil"}, "INVALID_BODY"),
    ("external id with a lone surrogate", {"externalId": "x\ud800"}, "INVALID_BODY"),
    ("payer message with stacked combining marks", {"payerMessage": "Z" + "\u0301" * 40}, "INVALID_BODY"),
]


@pytest.fixture
def merchant(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_ENVIRONMENTS = {"sandbox": "EUR"}
    client = DjangoMomoClient(Client(enforce_csrf_checks=True)).provision("merchant.example")
    client.get_token()
    return client


@pytest.mark.parametrize(("case", "change", "code"), MOMO_PROBES, ids=[c[0] for c in MOMO_PROBES])
def test_it_applies_the_same_rules_to_a_momo_request_to_pay(staff, existing, merchant, case, change, code):
    raw = json.dumps({**RTP_BODY, **change}).encode()  # "\ud800" travels as its JSON escape
    answer = merchant.call(
        "POST", "/collection/v1_0/requesttopay", raw=raw,
        X_Reference_Id=str(uuid.uuid4()), X_Target_Environment="sandbox",
    )
    assert answer.status == 400, answer.body
    assert answer.json()["code"] == code and answer.json()["message"]
    assert Payment.objects.count() == 1
    assert_everything_still_renders(staff, existing)


def test_it_answers_a_deeply_nested_momo_body_in_momo_shape(merchant):
    nested = ("[" * 2000 + "]" * 2000).encode()
    answer = merchant.call(
        "POST", "/collection/v1_0/requesttopay", raw=nested,
        X_Reference_Id=str(uuid.uuid4()), X_Target_Environment="sandbox",
    )
    assert answer.status == 400 and answer.json()["code"] == "INVALID_BODY"
    assert Payment.objects.count() == 0


# --- scenario files: the same booking rule, as the scenario's one-line error ---------------

SCENARIO_BOOKINGS = [
    ("nested", "{item: {deeper: 1}}", "no lists or nested objects"),
    ("a list", "{items: [1, 2]}", "no lists or nested objects"),
    ("a YAML date", "{date: 2026-12-24}", "must be text, a number"),
    ("bidi override", '{item: "\\u202Eevil"}', "bidirectional control"),
    ("NUL", '{item: "a\\0b"}', "NUL"),
]


@pytest.mark.parametrize(("case", "booking", "words"), SCENARIO_BOOKINGS, ids=[c[0] for c in SCENARIO_BOOKINGS])
def test_it_applies_the_booking_rule_to_scenario_files(tmp_path, case, booking, words):
    from presenter import scenarios

    path = tmp_path / "bad.yaml"
    path.write_text(f"timeline:\n  - {{at: 0, create: {{booking: {booking}}}}}\n")
    with pytest.raises(scenarios.ScenarioError) as caught:
        scenarios.load(path)
    assert str(caught.value).startswith("bad.yaml: timeline[0].create.booking: ") and words in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("language", ["\x1b[31mred", "en\x07", "fr\x08\x08de", "e" + "\u0301" * 20, "english please!"])
def test_it_refuses_a_momo_language_header_outside_the_rules_and_records_nothing(merchant, language):
    from payments.models import PaymentLog

    reference, answer = merchant.request_to_pay()
    assert answer.status == 202
    before = PaymentLog.objects.count()
    refused = merchant.call(
        "POST", f"/collection/v1_0/requesttopay/{reference}/deliverynotification",
        json_body={"notificationMessage": "Your tour is booked"}, Language=language.encode("utf-8").decode("latin-1"),
    )
    assert refused.status == 400 and refused.json()["code"] == "INVALID_BODY"
    assert "Language" in refused.json()["message"] and "\n" not in refused.json()["message"]
    assert PaymentLog.objects.count() == before
    sent = merchant.call(
        "POST", f"/collection/v1_0/requesttopay/{reference}/deliverynotification",
        json_body={"notificationMessage": "Your tour is booked"}, Language="fr-CM",
    )
    assert sent.status == 200
    assert PaymentLog.objects.get(event=PaymentLog.Event.NOTIFIED).details["language"] == "fr-CM"


def test_it_refuses_stacked_combining_marks_but_keeps_real_scripts():
    from payments.validation import shown_text, text_problem

    for real in ("Tiếng Việt", "שָׁלוֹם", "नमस्ते", "Crème brûlée", "ḍ̣̄"):
        assert text_problem(real) is None, real
    assert text_problem("Z" + "\u0301" * 7) == "contains more than 6 combining marks in a row"
    assert shown_text("Z" + "\u0301" * 40 + "!") == "Z" + "\u0301" * 6 + "!"  # a row stored before the rule
