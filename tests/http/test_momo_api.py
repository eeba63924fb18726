"""The MoMo Collections API's contract: every path, every error, as a MoMo client sees it."""

import re
import uuid
from decimal import Decimal

import pytest
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from payments import services
from payments.models import MomoApiUser, Payment, PaymentLog
from payments.wire import status_json
from momo import auth
from tests.support.momo_client import PRODUCT_KEYS, RTP_BODY, SUBSCRIPTION_KEY, DjangoMomoClient, basic

pytestmark = pytest.mark.django_db

SUBSCRIPTION_INVALID = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."


@pytest.fixture(autouse=True)
def _momo_settings(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY, "second-key"]
    settings.MOMO_PRODUCT_SUBSCRIPTION_KEYS = PRODUCT_KEYS
    settings.MOMO_ENVIRONMENTS = {"sandbox": "EUR", "mtnuganda": "UGX"}


def new_client() -> DjangoMomoClient:
    # Like a real integration: no CSRF token, no session.
    return DjangoMomoClient(Client(enforce_csrf_checks=True))


@pytest.fixture
def merchant() -> DjangoMomoClient:
    client = new_client().provision("merchant.example")
    client.get_token()
    return client


@pytest.fixture
def rival() -> DjangoMomoClient:
    client = new_client().provision("rival.example")
    client.get_token()
    return client


def written() -> tuple[int, int, int]:
    return Payment.objects.count(), PaymentLog.objects.count(), MomoApiUser.objects.count()


def assert_error(answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.json()["code"] == code
    assert answer.json()["message"]


# --- sandbox provisioning -------------------------------------------------------------------


def test_it_provisions_an_api_user_and_key_like_the_sandbox():
    client = new_client()
    user_id = str(uuid.uuid4())
    created = client.call("POST", "/v1_0/apiuser", json_body={"providerCallbackHost": "clinic.com"}, X_Reference_Id=user_id)
    assert created.status == 201 and created.body == b""
    shown = client.call("GET", f"/v1_0/apiuser/{user_id}", json_body={})  # a body on a GET is tolerated
    assert shown.status == 200 and shown.json() == {"providerCallbackHost": "clinic.com", "targetEnvironment": "sandbox"}
    keyed = client.call("POST", f"/v1_0/apiuser/{user_id}/apikey", raw=b"")
    assert keyed.status == 201 and re.fullmatch(r"[0-9a-f]{32}", keyed.json()["apiKey"])
    user = MomoApiUser.objects.get(id=user_id)
    assert keyed.json()["apiKey"] not in user.api_key_hash  # only a hash is kept
    assert PaymentLog.objects.filter(event="momo_user", details__api_user=user_id).count() == 2


def test_it_lets_only_the_provisioning_subscription_key_re_key_an_api_user(merchant, tmp_path, settings):
    """MOMO_SUBSCRIPTION_KEY=<ours>,second-key: `merchant` was provisioned with ours."""
    settings.BASE_DIR = tmp_path  # the demo's kept credentials file, for this test only
    intruder = DjangoMomoClient(Client(enforce_csrf_checks=True), subscription_key="second-key")
    operator_made, operator_key = services.momo_credentials_create(provider_callback_host="localhost", actor="command")
    demo_user, demo_key = services.momo_demo_credentials()
    for user_id, client in [(merchant.user_id, intruder), (operator_made.pk, merchant), (demo_user.pk, merchant), (demo_user.pk, intruder)]:
        before = written(), MomoApiUser.objects.get(pk=user_id).api_key_hash
        answer = client.call("POST", f"/v1_0/apiuser/{user_id}/apikey", raw=b"")
        assert_error(answer, 403, "NOT_ALLOWED")
        assert (written(), MomoApiUser.objects.get(pk=user_id).api_key_hash) == before
    assert "made by the operator" in merchant.call("POST", f"/v1_0/apiuser/{demo_user.pk}/apikey", raw=b"").json()["message"]
    # Every key still works: the merchant's, the operator's, the demo's printed one.
    for user_id, api_key in [(merchant.user_id, merchant.api_key), (operator_made.pk, operator_key), (demo_user.pk, demo_key)]:
        owner = new_client()
        owner.user_id, owner.api_key = str(user_id), api_key
        assert owner.get_token()
    assert services.momo_demo_credentials() == (demo_user, demo_key)  # the printed ones survive
    # Its own subscription key still re-keys the merchant's user; the operator any user.
    assert merchant.call("POST", f"/v1_0/apiuser/{merchant.user_id}/apikey", raw=b"").status == 201
    from django.core.management import call_command
    from io import StringIO

    out = StringIO()
    call_command("momo_credentials", "--new-key", str(operator_made.pk), stdout=out)
    assert str(operator_made.pk) in out.getvalue()
    assert MomoApiUser.objects.get(pk=operator_made.pk).api_key_hash != operator_made.api_key_hash


def test_it_refuses_a_reused_api_user_id_and_bad_provisioning_input():
    client = new_client()
    user_id = str(uuid.uuid4())
    assert client.call("POST", "/v1_0/apiuser", json_body={"providerCallbackHost": "a.com"}, X_Reference_Id=user_id).status == 201
    before = written()
    again = client.call("POST", "/v1_0/apiuser", json_body={"providerCallbackHost": "b.com"}, X_Reference_Id=user_id)
    assert_error(again, 409, "RESOURCE_ALREADY_EXIST")
    assert_error(client.call("POST", "/v1_0/apiuser", json_body={"providerCallbackHost": "a.com"}, X_Reference_Id="nope"), 400, "INVALID_REFERENCE_ID")
    assert_error(client.call("POST", "/v1_0/apiuser", json_body={}, X_Reference_Id=str(uuid.uuid4())), 400, "INVALID_CALLBACK_HOST")
    assert_error(client.call("POST", "/v1_0/apiuser", raw=b"{", X_Reference_Id=str(uuid.uuid4())), 400, "INVALID_BODY")
    assert_error(client.call("POST", f"/v1_0/apiuser/{uuid.uuid4()}/apikey", raw=b""), 404, "RESOURCE_NOT_FOUND")
    assert_error(client.call("GET", "/v1_0/apiuser/not-a-uuid"), 404, "RESOURCE_NOT_FOUND")
    assert written() == before
    assert MomoApiUser.objects.get(id=user_id).provider_callback_host == "a.com"


@pytest.mark.parametrize("path", ["/v1_0/apiuser", "/collection/token/", "/collection/v1_0/requesttopay", "/collection/v1_0/account/balance"])
@pytest.mark.parametrize(("key", "words"), [("", "missing subscription key"), ("wrong", "invalid subscription key")])
def test_it_answers_a_missing_or_wrong_subscription_key_like_the_gateway(merchant, path, key, words):
    merchant.subscription_key = key
    before = written()
    method = "GET" if path.endswith("balance") else "POST"
    answer = merchant.call(method, path, json_body=RTP_BODY, X_Reference_Id=str(uuid.uuid4()))
    assert answer.status == 401
    assert answer.json()["statusCode"] == 401 and words in answer.json()["message"]
    assert written() == before


def test_it_takes_any_of_several_subscription_keys(merchant):
    merchant.subscription_key = "second-key"
    assert merchant.call("GET", "/collection/v1_0/account/balance").status == 200


# --- the token ----------------------------------------------------------------------------------


def test_it_issues_a_bearer_token_for_basic_credentials(merchant):
    merchant.token = ""
    answer = merchant.call("POST", "/collection/token/", raw=b"", Authorization=basic(merchant.user_id, merchant.api_key))
    assert answer.status == 200
    body = answer.json()
    assert body["token_type"] == "access_token" and body["expires_in"] == 3600 and body["access_token"]


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer something",
        "Basic !!!not-base64",
        "wrong-key",  # the right user, a wrong key
        "unknown-user",
    ],
)
def test_it_refuses_bad_credentials_on_the_token_call(merchant, authorization):
    merchant.token = ""
    if authorization == "wrong-key":
        authorization = basic(merchant.user_id, "0" * 32)
    elif authorization == "unknown-user":
        authorization = basic(str(uuid.uuid4()), merchant.api_key)
    answer = merchant.call("POST", "/collection/token/", raw=b"", Authorization=authorization)
    assert answer.status == 401 and answer.json() == {"error": "invalid_client"}


def test_it_serves_the_token_path_without_a_slash_redirect_or_csrf(merchant):
    merchant.token = ""
    answer = merchant.call("POST", "/collection/token", raw=b"", Authorization=basic(merchant.user_id, merchant.api_key))
    assert answer.status == 200 and answer.json()["access_token"]


def test_it_refuses_a_missing_forged_or_retired_token(merchant):
    ok = merchant.token
    cases = {
        "missing": "",
        "garbage": "not-a-token",
        "forged": ok[:-4] + ("AAAA" if not ok.endswith("AAAA") else "BBBB"),
        "other salt": signing.dumps({"u": merchant.user_id, "k": "x", "e": 9e12}, salt="elsewhere"),
    }
    for name, token in cases.items():
        merchant.token = token
        answer = merchant.call("GET", "/collection/v1_0/account/balance")
        assert answer.status == 401, name
        assert answer.json()["code"] == "UNAUTHORIZED" and "token" in answer.json()["message"], name
    merchant.token = ok
    assert merchant.call("GET", "/collection/v1_0/account/balance").status == 200
    # A new API key retires the tokens of the old one.
    merchant.call("POST", f"/v1_0/apiuser/{merchant.user_id}/apikey", raw=b"")
    assert merchant.call("GET", "/collection/v1_0/account/balance").status == 401


def test_it_lets_a_token_expire_after_expires_in(merchant, settings):
    from tests.support import wait_for

    settings.MOMO_TOKEN_EXPIRES_IN = 1
    merchant.get_token()
    assert merchant.call("GET", "/collection/v1_0/account/balance").status == 200
    expired = wait_for(
        lambda: (a := merchant.call("GET", "/collection/v1_0/account/balance")).status == 401 and a,
        timeout=5, interval=0.1, what="the token to expire",
    )
    assert "expired" in expired.json()["message"]


# --- request to pay -------------------------------------------------------------------------------


def test_it_creates_the_payment_a_request_to_pay_describes(merchant):
    body = {**RTP_BODY, "amount": 250, "payer": {"partyIdType": "msisdn", "partyId": "46733123499"}}
    reference, answer = merchant.request_to_pay(body, X_Callback_Url="https://merchant.example/momo/callback")
    assert answer.status == 202 and answer.body == b""
    payment = Payment.objects.get(reference=reference)
    assert payment.amount == Decimal("250") and payment.currency == "EUR"
    assert payment.phone_number == "46733123499" and payment.party_id_type == "MSISDN"
    assert payment.external_id == "order-1"
    assert payment.payer_message == "Gorilla trekking permit" and payment.payee_note == "booking 42"
    assert payment.callback_url == "https://merchant.example/momo/callback"
    assert str(payment.momo_user_id) == merchant.user_id
    assert payment.status == "processing" and payment.settle_at is not None
    log = PaymentLog.objects.get(payment=payment)
    assert log.event == "created" and log.actor == f"momo:{merchant.user_id}"
    # The same payment on LiveSettle's own API and page.
    assert Client().get(f"/api/payments/{reference}/").json()["status"] == "processing"
    assert Client().get(f"/pay/{reference}/").status_code == 200


def test_it_takes_email_and_party_code_payers_and_other_environments(merchant):
    email = {**RTP_BODY, "payer": {"partyIdType": "EMAIL", "partyId": "payer@example.com"}}
    code = {**RTP_BODY, "payer": {"partyIdType": "PARTY_CODE", "partyId": "AB-123"}}
    uganda = {**RTP_BODY, "currency": "UGX"}
    for body, env in [(email, "sandbox"), (code, "sandbox"), (uganda, "mtnuganda")]:
        reference, answer = merchant.request_to_pay(body, X_Target_Environment=env)
        assert answer.status == 202, answer.body
    assert Payment.objects.filter(currency="UGX").count() == 1
    assert set(Payment.objects.values_list("party_id_type", flat=True)) == {"EMAIL", "PARTY_CODE", "MSISDN"}


def test_it_answers_a_reused_reference_with_409_and_keeps_one_payment(merchant, rival):
    reference, first = merchant.request_to_pay()
    assert first.status == 202
    _, again = merchant.request_to_pay({**RTP_BODY, "amount": "5"}, reference=reference)
    assert_error(again, 409, "RESOURCE_ALREADY_EXIST")
    _, other = rival.request_to_pay(reference=reference)
    assert_error(other, 409, "RESOURCE_ALREADY_EXIST")
    assert Payment.objects.filter(reference=reference).count() == 1
    assert Payment.objects.get(reference=reference).amount == Decimal("100")


# A malformed call is a 400; what MTN answers with a 500 and its code (a target environment
# not allowed, a currency not the account's, a callback host that does not match) is a 500.
BAD_REQUESTS = [
    ("reference not a uuid", {"reference": "order-1"}, 400, "INVALID_REFERENCE_ID"),
    ("reference a uuid1", {"reference": str(uuid.uuid1())}, 400, "INVALID_REFERENCE_ID"),
    ("unknown environment", {"X_Target_Environment": "mars"}, 500, "NOT_ALLOWED_TARGET_ENVIRONMENT"),
    ("currency of another environment", {"body": {**RTP_BODY, "currency": "UGX"}}, 500, "INVALID_CURRENCY"),
    ("no currency", {"body": {k: v for k, v in RTP_BODY.items() if k != "currency"}}, 500, "INVALID_CURRENCY"),
    ("zero amount", {"body": {**RTP_BODY, "amount": "0"}}, 400, "INVALID_AMOUNT"),
    ("amount true", {"body": {**RTP_BODY, "amount": True}}, 400, "INVALID_AMOUNT"),
    ("amount three decimals", {"body": {**RTP_BODY, "amount": "1.005"}}, 400, "INVALID_AMOUNT"),
    ("no payer", {"body": {k: v for k, v in RTP_BODY.items() if k != "payer"}}, 400, "INVALID_PAYER"),
    ("party id type", {"body": {**RTP_BODY, "payer": {"partyIdType": "IBAN", "partyId": "46733123499"}}}, 400, "INVALID_PAYER"),
    ("msisdn letters", {"body": {**RTP_BODY, "payer": {"partyIdType": "MSISDN", "partyId": "4673abc"}}}, 400, "INVALID_PAYER"),
    ("bad email", {"body": {**RTP_BODY, "payer": {"partyIdType": "EMAIL", "partyId": "nobody"}}}, 400, "INVALID_PAYER"),
    ("payer message 161", {"body": {**RTP_BODY, "payerMessage": "x" * 161}}, 400, "INVALID_BODY"),
    ("payee note 161", {"body": {**RTP_BODY, "payeeNote": "x" * 161}}, 400, "INVALID_BODY"),
    ("NUL in a message", {"body": {**RTP_BODY, "payerMessage": "a\x00b"}}, 400, "INVALID_BODY"),
    ("external id object", {"body": {**RTP_BODY, "externalId": {"a": 1}}}, 400, "INVALID_BODY"),
    ("body a list", {"body": [RTP_BODY]}, 400, "INVALID_BODY"),
    ("body null", {"raw": b"null"}, 400, "INVALID_BODY"),
    ("body empty", {"raw": b""}, 400, "INVALID_BODY"),
    ("body not json", {"raw": b"amount=100"}, 400, "INVALID_BODY"),
    ("callback on another host", {"X_Callback_Url": "https://evil.example/cb"}, 500, "INVALID_CALLBACK_URL_HOST"),
    ("callback not http", {"X_Callback_Url": "ftp://merchant.example/cb"}, 500, "INVALID_CALLBACK_URL_HOST"),
]


@pytest.mark.parametrize(("case", "change", "status", "code"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_it_refuses_a_bad_request_to_pay_with_a_code_and_writes_nothing(merchant, case, change, status, code):
    change = dict(change)
    before = written()
    reference = change.pop("reference", str(uuid.uuid4()))
    body = change.pop("body", None)
    raw = change.pop("raw", None)
    headers = {"X_Target_Environment": "sandbox", "X_Reference_Id": reference, **change}
    if raw is not None:
        answer = merchant.call("POST", "/collection/v1_0/requesttopay", raw=raw, **headers)
    else:
        answer = merchant.call("POST", "/collection/v1_0/requesttopay", json_body=RTP_BODY if body is None else body, **headers)
    assert_error(answer, status, code)
    assert written() == before


def test_it_bounds_the_body(merchant):
    before = written()
    _, answer = merchant.request_to_pay({**RTP_BODY, "padding": "x" * 5000})
    assert answer.status == 413 and answer.json()["statusCode"] == 413
    assert written() == before


def test_it_refuses_a_request_to_pay_without_a_valid_token(merchant):
    for token in ["", "forged"]:
        merchant.token = token
        _, answer = merchant.request_to_pay()
        assert_error(answer, 401, "UNAUTHORIZED")
    assert Payment.objects.count() == 0


def test_it_answers_a_database_outage_with_momos_503_and_writes_nothing(merchant, monkeypatch):
    from django.db import OperationalError

    def down(**_):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "payment_create", down)
    _, answer = merchant.request_to_pay()
    assert_error(answer, 503, "SERVICE_UNAVAILABLE")
    assert answer.headers["Retry-After"] == "5"
    assert Payment.objects.count() == 0


def test_it_answers_a_wrong_method_and_an_unknown_path_in_json(merchant):
    wrong = merchant.call("GET", "/collection/v1_0/requesttopay")
    assert wrong.status == 405 and wrong.json()["statusCode"] == 405
    unknown = merchant.call("GET", "/collection/v1_0/preapproval")
    assert unknown.status == 404 and unknown.json() == {"statusCode": 404, "message": "Resource not found"}


# --- status ---------------------------------------------------------------------------------------


def test_it_reports_status_with_the_fields_of_each_state(merchant):
    reference, _ = merchant.request_to_pay()
    pending = merchant.status(reference).json()
    assert pending == {
        "amount": "100", "currency": "EUR", "externalId": "order-1",
        "payer": {"partyIdType": "MSISDN", "partyId": "46733123499"},
        "payerMessage": "Gorilla trekking permit", "payeeNote": "booking 42", "status": "PENDING",
    }
    services.payment_force(payment=Payment.objects.get(reference=reference), outcome="successful", actor="operator:t")
    done = merchant.status(reference).json()
    assert done["status"] == "SUCCESSFUL" and "reason" not in done
    assert re.fullmatch(r"\d{6,}", done["financialTransactionId"])

    failed_ref, _ = merchant.request_to_pay()
    services.payment_force(payment=Payment.objects.get(reference=failed_ref), outcome="failed", reason="APPROVAL_REJECTED", actor="operator:t")
    failed = merchant.status(failed_ref).json()
    assert failed["status"] == "FAILED" and failed["reason"] == "APPROVAL_REJECTED"
    assert "financialTransactionId" not in failed


def test_a_status_read_loads_its_payment_once_and_answers_as_the_whole_row_would(merchant):
    """The status call loads only the columns its answer needs (payments.wire.STATUS_FIELDS):
    one query on the payments table, in every state, and the body the whole row gives; a
    settled payment with a callback URL reads the fault settings once, not again for the
    callback-before-status fault."""
    pending, _ = merchant.request_to_pay()
    successful, _ = merchant.request_to_pay(X_Callback_Url="https://merchant.example/momo/callback")
    failed, _ = merchant.request_to_pay()
    services.payment_force(payment=Payment.objects.get(reference=successful), outcome="successful", actor="operator:t")
    services.payment_force(payment=Payment.objects.get(reference=failed), outcome="failed", reason="EXPIRED", actor="operator:t")
    user = MomoApiUser.objects.get(id=merchant.user_id)
    for reference in (pending, successful, failed):
        with CaptureQueriesContext(connection) as queries:
            answer = merchant.status(reference)
        assert answer.status == 200
        whole = status_json(Payment.objects.get(reference=reference), user.reason_format, user.readings)
        assert answer.json() == whole
        reads = [q["sql"] for q in queries.captured_queries if 'FROM "payments_payment"' in q["sql"]]
        assert len(reads) == 1, reads
        # Nor what it never shows: the booking, the approval capability, the timestamps.
        for column in ("booking_details", "approval_token", "settled_at", "created_at"):
            assert f'"{column}"' not in reads[0]
        settings_reads = [q["sql"] for q in queries.captured_queries if 'FROM "payments_callbacksettings"' in q["sql"]]
        assert len(settings_reads) <= 1, settings_reads


def test_it_sends_reason_as_an_object_for_api_users_configured_so(merchant):
    reference, _ = merchant.request_to_pay()
    services.payment_force(payment=Payment.objects.get(reference=reference), outcome="failed", reason="EXPIRED", actor="operator:t")
    MomoApiUser.objects.filter(id=merchant.user_id).update(reason_format="object")
    reason = merchant.status(reference).json()["reason"]
    assert reason["code"] == "EXPIRED" and reason["message"]


def test_it_hides_another_api_users_payment_and_unknown_references(merchant, rival):
    reference, _ = merchant.request_to_pay()
    assert_error(rival.status(reference), 404, "RESOURCE_NOT_FOUND")
    assert_error(merchant.status(str(uuid.uuid4())), 404, "RESOURCE_NOT_FOUND")
    assert_error(merchant.status("not-a-reference"), 404, "RESOURCE_NOT_FOUND")
    # Nor a payment made on the checkout page.
    checkout = services.payment_create(amount=Decimal("5"), currency="EUR", phone_number="46733123499")
    assert_error(merchant.status(str(checkout.reference)), 404, "RESOURCE_NOT_FOUND")
    assert merchant.status(reference).status == 200


def test_it_limits_status_queries_per_api_user_per_second(merchant, rival, settings, monkeypatch):
    settings.MOMO_STATUS_RATE = 3
    monkeypatch.setattr(auth.time, "time", lambda: 1_900_000_000.5)  # one second, frozen
    merchant.get_token()
    rival.get_token()
    reference, _ = merchant.request_to_pay()
    assert [merchant.status(reference).status for _ in range(3)] == [200, 200, 200]
    limited = merchant.status(reference)
    assert limited.status == 429 and limited.json()["statusCode"] == 429
    assert limited.headers["Retry-After"] == "1"
    assert rival.status(str(uuid.uuid4())).status == 404  # another API user has its own budget
    monkeypatch.setattr(auth.time, "time", lambda: 1_900_000_001.5)
    assert merchant.status(reference).status == 200


# --- delivery notification ------------------------------------------------------------------------


def test_it_records_a_delivery_notification_from_header_or_body(merchant, rival):
    reference, _ = merchant.request_to_pay()
    path = f"/collection/v1_0/requesttopay/{reference}/deliverynotification"
    assert merchant.call("POST", path, json_body={"notificationMessage": "Thanks!"}, Language="en").status == 200
    assert merchant.call("POST", path, raw=b"", notificationMessage="Your permit is booked").status == 200
    notes = PaymentLog.objects.filter(payment__reference=reference, event="notified").order_by("id")
    assert [n.details["message"] for n in notes] == ["Thanks!", "Your permit is booked"]
    assert notes[0].details["language"] == "en" and notes[0].actor == f"momo:{merchant.user_id}"
    before = written()
    assert_error(merchant.call("POST", path, raw=b""), 400, "INVALID_BODY")
    assert_error(merchant.call("POST", path, json_body={"notificationMessage": "x" * 161}), 400, "INVALID_BODY")
    assert_error(rival.call("POST", path, json_body={"notificationMessage": "hi"}), 404, "RESOURCE_NOT_FOUND")
    assert written() == before


# --- balance and account holders -------------------------------------------------------------------


def test_it_reports_the_balance_of_the_api_users_successful_payments(merchant, rival):
    for amount, outcome in [("100", "successful"), ("20.50", "successful"), ("7", "failed")]:
        reference, _ = merchant.request_to_pay({**RTP_BODY, "amount": amount})
        services.payment_force(payment=Payment.objects.get(reference=reference), outcome=outcome, actor="operator:t")
    merchant.request_to_pay({**RTP_BODY, "amount": "1000"})  # still pending
    reference, _ = rival.request_to_pay({**RTP_BODY, "amount": "999"})
    services.payment_force(payment=Payment.objects.get(reference=reference), outcome="successful", actor="operator:t")

    balance = merchant.call("GET", "/collection/v1_0/account/balance", X_Target_Environment="sandbox")
    assert balance.json() == {"availableBalance": "120.5", "currency": "EUR"}
    assert merchant.call("GET", "/collection/v1_0/account/balance/EUR").json()["availableBalance"] == "120.5"
    assert merchant.call("GET", "/collection/v1_0/account/balance/UGX").json() == {"availableBalance": "0", "currency": "UGX"}
    assert merchant.call("GET", "/collection/v1_0/account/balance", X_Target_Environment="mtnuganda").json()["currency"] == "UGX"
    assert_error(merchant.call("GET", "/collection/v1_0/account/balance/XYZ"), 500, "INVALID_CURRENCY")


@pytest.mark.parametrize(
    ("number", "status", "expected"),
    [
        ("46733123499", 200, {"result": True}),
        ("46733123451", 200, {"result": False}),
        ("46733123450", 404, "PAYER_NOT_FOUND"),
        ("46733123452", 500, "NOT_ALLOWED"),
        ("46733123453", 500, "NOT_ALLOWED_TARGET_ENVIRONMENT"),
        ("46733123454", 500, "INTERNAL_PROCESSING_ERROR"),
        ("46733123455", 503, "SERVICE_UNAVAILABLE"),
    ],
)
def test_it_answers_account_holder_active_by_the_test_number_table(merchant, number, status, expected):
    answer = merchant.call("GET", f"/collection/v1_0/accountholder/msisdn/{number}/active", X_Target_Environment="sandbox")
    assert answer.status == status
    if isinstance(expected, dict):
        assert answer.json() == expected
    else:
        assert answer.json()["code"] == expected


def test_it_answers_basic_user_info_and_account_holder_types(merchant):
    person = merchant.call("GET", "/collection/v1_0/accountholder/msisdn/46733123499/basicuserinfo").json()
    assert set(person) == {"sub", "name", "given_name", "family_name", "birthdate", "locale", "gender", "updated_at"}
    assert_error(merchant.call("GET", "/collection/v1_0/accountholder/msisdn/46733123450/basicuserinfo"), 404, "PAYER_NOT_FOUND")
    assert merchant.call("GET", "/collection/v1_0/accountholder/EMAIL/a@b.com/active").json() == {"result": True}
    assert_error(merchant.call("GET", "/collection/v1_0/accountholder/iban/x/active"), 400, "INVALID_PARTY_ID_TYPE")


# --- credentials, admin, schema --------------------------------------------------------------------


def test_it_generates_the_subscription_key_once_and_keeps_it(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    settings.MOMO_SUBSCRIPTION_KEYS = []
    first = services.momo_subscription_keys()
    assert first == services.momo_subscription_keys()
    assert re.fullmatch(r"[0-9a-f]{32}", first[0])
    assert (tmp_path / ".momo-subscription-key").stat().st_mode & 0o777 == 0o600


def test_it_prints_working_credentials_from_momo_credentials():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("momo_credentials", "--callback-host", "shop.example", stdout=out)
    values = dict(re.findall(r"^(subscription key|API user|API key)\b.*:\s+(\S+)$", out.getvalue(), re.M))
    assert values["subscription key"] == SUBSCRIPTION_KEY
    client = new_client()
    client.user_id, client.api_key = values["API user"], values["API key"]
    client.get_token()
    assert client.call("GET", "/collection/v1_0/account/balance").status == 200
    assert MomoApiUser.objects.get(id=values["API user"]).provider_callback_host == "shop.example"


def test_it_lists_api_users_read_only_in_the_admin(merchant, operator):
    operator.is_superuser = True
    operator.save()
    browser = Client()
    browser.force_login(operator)
    listing = browser.get("/admin/payments/momoapiuser/")
    assert listing.status_code == 200 and merchant.user_id in listing.content.decode()
    assert browser.get("/admin/payments/momoapiuser/add/").status_code == 403
    detail = browser.get(f"/admin/payments/momoapiuser/{merchant.user_id}/change/").content.decode()
    assert merchant.api_key not in detail and "api_key_hash" not in detail
    browser.post(f"/admin/payments/momoapiuser/{merchant.user_id}/delete/", {"post": "yes"})
    assert MomoApiUser.objects.filter(id=merchant.user_id).exists()


def test_it_documents_the_momo_paths_under_their_own_tag():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    momo = {
        path: ops for path, ops in schema["paths"].items()
        if any("MoMo Collections" in op.get("tags", []) for op in ops.values())
    }
    assert set(momo) == {
        "/v1_0/apiuser", "/v1_0/apiuser/{referenceId}/apikey", "/v1_0/apiuser/{referenceId}",
        "/collection/token/", "/collection/v1_0/requesttopay", "/collection/v1_0/requesttopay/{referenceId}",
        "/collection/v1_0/requesttopay/{referenceId}/deliverynotification",
        "/collection/v1_0/account/balance", "/collection/v1_0/account/balance/{currency}",
        "/collection/v1_0/accountholder/{accountHolderIdType}/{accountHolderId}/active",
        "/collection/v1_0/accountholder/msisdn/{accountHolderMSISDN}/basicuserinfo",
        "/collection/v1_0/requesttowithdraw", "/collection/v2_0/requesttowithdraw",
        "/collection/v1_0/requesttowithdraw/{referenceId}",
    }
    assert {"MomoSubscriptionKey", "MomoBasic", "MomoBearer"} <= set(schema["components"]["securitySchemes"])
