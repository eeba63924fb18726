"""The inspector records every MoMo call, accepted or refused, explained, redacted, capped,
and never in the way of the answer."""

import json
import logging
import threading
import uuid

import pytest
from django.db import OperationalError
from django.utils import timezone
from django.test import Client
from werkzeug import Response

from inspector import recorder
from inspector.models import ApiCall
from payments.models import Payment
from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, DjangoMomoClient, basic
from tests.support import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _momo_settings(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_ENVIRONMENTS = {"sandbox": "EUR", "mtnuganda": "UGX"}


def new_client() -> DjangoMomoClient:
    return DjangoMomoClient(Client())


@pytest.fixture
def merchant() -> DjangoMomoClient:
    client = new_client().provision("merchant.example")
    client.get_token()
    return client


def one_call(action) -> ApiCall:
    """Runs `action`; exactly one call must have been recorded: that one."""
    before = ApiCall.objects.order_by("-id").values_list("id", flat=True).first() or 0
    action()
    made = list(ApiCall.objects.filter(id__gt=before))
    assert len(made) == 1, [(c.method, c.path, c.status) for c in made]
    return made[0]


def rtp(client: DjangoMomoClient, body=None, **headers):
    return lambda: client.request_to_pay(body, **headers)


def raw(client: DjangoMomoClient, method: str, path: str, **kwargs):
    return lambda: client.call(method, path, **kwargs)


REFUSALS = [
    # (name, action(merchant, settings), status, code, words the reason or fix must hold)
    ("no subscription key", lambda m, s: setattr(m, "subscription_key", "") or rtp(m), 401, "SUBSCRIPTION_KEY_MISSING", "Ocp-Apim-Subscription-Key"),
    ("wrong subscription key", lambda m, s: setattr(m, "subscription_key", "nope-" + "x" * 20) or rtp(m), 401, "SUBSCRIPTION_KEY_INVALID", "MOMO_SUBSCRIPTION_KEY"),
    ("wrong API key", lambda m, s: raw(m, "POST", "/collection/token/", raw=b"", Authorization=basic(m.user_id, "wrong-key")), 401, "invalid_client", "base64(apiUserId:apiKey)"),
    ("no token", lambda m, s: setattr(m, "token", "") or rtp(m), 401, "UNAUTHORIZED", "POST /collection/token/"),
    ("forged token", lambda m, s: setattr(m, "token", "forged") or rtp(m), 401, "UNAUTHORIZED", "access_token exactly"),
    ("reference v1", lambda m, s: rtp(m, reference=str(uuid.uuid1())), 400, "INVALID_REFERENCE_ID", "this one is version 1"),
    ("reference not a UUID", lambda m, s: rtp(m, reference="order-42"), 400, "INVALID_REFERENCE_ID", "uuid4()"),
    ("wrong environment", lambda m, s: rtp(m, X_Target_Environment="moon"), 500, "NOT_ALLOWED_TARGET_ENVIRONMENT", "X-Target-Environment: sandbox"),
    ("callback host", lambda m, s: rtp(m, X_Callback_Url="https://evil.example/cb"), 500, "INVALID_CALLBACK_URL_HOST", "providerCallbackHost"),
    ("currency", lambda m, s: rtp(m, {**RTP_BODY, "currency": "USD"}), 500, "INVALID_CURRENCY", "EUR"),
    ("payer", lambda m, s: rtp(m, {**RTP_BODY, "payer": "0772"}), 400, "INVALID_PAYER", "partyIdType"),
    ("amount", lambda m, s: rtp(m, {**RTP_BODY, "amount": "-3"}), 400, "INVALID_AMOUNT", "positive number in a string"),
    ("body", lambda m, s: raw(m, "POST", "/collection/v1_0/requesttopay", raw=b"{not json", X_Reference_Id=str(uuid.uuid4())), 400, "INVALID_BODY", "JSON object"),
    ("unknown payment", lambda m, s: (lambda: m.status(str(uuid.uuid4()))), 404, "RESOURCE_NOT_FOUND", "X-Reference-Id of a request to pay"),
    ("method", lambda m, s: raw(m, "DELETE", "/collection/v1_0/requesttopay"), 405, "METHOD_NOT_ALLOWED", "use POST"),
    ("too large", lambda m, s: rtp(m, {**RTP_BODY, "payeeNote": "x" * 5000}), 413, "BODY_TOO_LARGE", "4096 bytes"),
    ("path MTN does not serve", lambda m, s: raw(m, "GET", "/collection/v1_0/payments"), 404, "ROUTE_NOT_FOUND", "MTN does not serve"),
    ("product not served", lambda m, s: raw(m, "GET", "/remittance/v9_9/nothing-here"), 404, "ROUTE_NOT_FOUND", "MTN does not serve"),
    ("callback host at provisioning", lambda m, s: raw(m, "POST", "/v1_0/apiuser", json_body={"providerCallbackHost": "not a host!"}, X_Reference_Id=str(uuid.uuid4())), 400, "INVALID_CALLBACK_HOST", "host name only"),
    ("API key of no user", lambda m, s: raw(m, "POST", f"/v1_0/apiuser/{uuid.uuid4()}/apikey", raw=b""), 404, "RESOURCE_NOT_FOUND", "API user"),
]


@pytest.mark.parametrize("name,make,status,code,words", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refusal_records_one_call_with_its_code_and_a_reason_naming_the_fix(merchant, settings, name, make, status, code, words):
    call = one_call(make(merchant, settings))
    assert (call.status, call.code) == (status, code)
    assert words in f"{call.reason} — {call.fix}"
    assert call.reason and call.fix
    assert call.direction == "in" and call.latency_ms > 0


def test_a_v1_reference_is_explained_with_its_version_and_the_way_to_make_a_v4(merchant):
    call = one_call(rtp(merchant, reference=str(uuid.uuid1())))
    assert call.reason == "X-Reference-Id must be a UUID version 4; this one is version 1"
    assert "uuid4()" in call.fix
    assert call.api_user == uuid.UUID(merchant.user_id)
    assert (call.product, call.operation) == ("collection", "requesttopay")


def test_an_expired_token_is_refused_and_recorded_against_its_api_user(merchant, settings):
    settings.MOMO_TOKEN_EXPIRES_IN = 0
    merchant.get_token()
    call = one_call(rtp(merchant))
    assert (call.status, call.code) == (401, "UNAUTHORIZED")
    assert "expires_in" in call.fix
    assert call.api_user == uuid.UUID(merchant.user_id)


def test_too_many_status_reads_are_recorded_as_rate_limited(merchant, settings):
    settings.MOMO_STATUS_RATE = 1
    reference, _ = merchant.request_to_pay()
    merchant.status(reference)
    # The limit counts per clock second: a read may fall into the next one; the third cannot.
    call = one_call(lambda: merchant.status(reference))
    if call.status == 200:
        call = one_call(lambda: merchant.status(reference))
    assert (call.status, call.code) == (429, "RATE_LIMITED")
    assert "Retry-After" in call.fix and call.reference == reference


def test_a_reused_reference_is_recorded_as_a_duplicate_with_the_safe_retry_explained(merchant):
    reference, _ = merchant.request_to_pay()
    call = one_call(rtp(merchant, reference=reference))
    assert (call.status, call.code) == (409, "RESOURCE_ALREADY_EXIST")
    assert "new X-Reference-Id" in call.fix and call.reference == reference


def test_accepted_calls_name_their_payment_api_user_product_and_operation(merchant):
    reference = str(uuid.uuid4())
    created = one_call(rtp(merchant, reference=reference, User_Agent="shop-app/2.1"))
    read = one_call(lambda: merchant.status(reference))
    assert Payment.objects.filter(reference=reference).exists()
    for call, operation, status in ((created, "requesttopay", 202), (read, "status", 200)):
        assert (call.status, call.code, call.reason) == (status, "", "")
        assert (call.product, call.operation, call.reference) == ("collection", operation, reference)
        assert call.api_user == uuid.UUID(merchant.user_id)
    assert created.user_agent == "shop-app/2.1"
    assert json.loads(created.request_body)["payer"] == RTP_BODY["payer"]
    assert json.loads(read.response_body)["status"] == "PENDING"
    token_calls = ApiCall.objects.filter(operation="token")
    assert [c.api_user for c in token_calls] == [uuid.UUID(merchant.user_id)]


def test_a_failed_recording_changes_nothing_of_the_answer(merchant, monkeypatch, caplog):
    def locked(*args, **kwargs):
        raise OperationalError("database table is locked: inspector_apicall")

    monkeypatch.setattr(ApiCall.objects, "bulk_create", locked)
    with caplog.at_level(logging.WARNING, logger="payments.inspector"):
        reference, answer = merchant.request_to_pay()
        refused = merchant.request_to_pay(reference="order-1")[1]
    assert answer.status == 202 and answer.body == b""
    assert Payment.objects.filter(reference=reference).exists()
    assert refused.status == 400 and refused.json()["code"] == "INVALID_REFERENCE_ID"
    assert "not recorded" in caplog.text and "locked" in caplog.text


def test_a_full_buffer_drops_the_call_not_the_answer(merchant, settings, caplog):
    settings.INSPECTOR_FLUSH_SECONDS = 30
    settings.INSPECTOR_BUFFER_MAX = 0
    with caplog.at_level(logging.WARNING, logger="payments.inspector"):
        reference, answer = merchant.request_to_pay()
    assert answer.status == 202 and Payment.objects.filter(reference=reference).exists()
    assert recorder.flush() == 0
    assert "buffer full" in caplog.text


def test_after_n_plus_100_calls_only_the_newest_n_are_kept_per_api_user(merchant, settings):
    settings.INSPECTOR_MAX_PER_USER = 30
    other = new_client().provision("other.example")
    other.get_token()
    other_rows = set(ApiCall.objects.filter(api_user=other.user_id).values_list("id", flat=True))
    reference, _ = merchant.request_to_pay()
    for _ in range(130):
        merchant.status(reference)
    kept = list(ApiCall.objects.filter(api_user=merchant.user_id).order_by("id"))
    assert len(kept) == 30
    assert all(c.operation == "status" for c in kept)  # the oldest went first
    assert set(ApiCall.objects.filter(api_user=other.user_id).values_list("id", flat=True)) == other_rows


def test_the_total_cap_keeps_the_newest_rows_of_everyone(merchant, settings):
    settings.INSPECTOR_MAX_TOTAL = 10
    reference, _ = merchant.request_to_pay()
    for _ in range(25):
        merchant.status(reference)
    assert ApiCall.objects.count() == 10
    assert set(ApiCall.objects.values_list("operation", flat=True)) == {"status"}


def test_no_secret_is_stored(merchant):
    reference, _ = merchant.request_to_pay(X_Callback_Url="https://merchant.example/cb")
    merchant.status(reference)
    merchant.call("POST", "/collection/token/", raw=b"", Authorization=basic(merchant.user_id, "wrong-key-0000"))
    stored = json.dumps(list(ApiCall.objects.values()), default=str, ensure_ascii=False)
    for secret in secrets_of(merchant):
        assert secret not in stored
    assert "…" + SUBSCRIPTION_KEY[-4:] in stored and "…" + merchant.token[-4:] in stored
    assert f"Basic [redacted; API user {merchant.user_id}]" in stored


def test_a_secret_in_the_query_string_is_not_stored(merchant):
    call = one_call(raw(merchant, "GET", f"/collection/v1_0/account/balance?subscription-key={SUBSCRIPTION_KEY}&x=1"))
    assert SUBSCRIPTION_KEY not in call.path and call.path.endswith(f"?subscription-key=…{SUBSCRIPTION_KEY[-4:]}&x=1")


def secrets_of(client: DjangoMomoClient) -> list[str]:
    encoded = basic(client.user_id, client.api_key).split()[1]
    return [SUBSCRIPTION_KEY, client.api_key, client.token, encoded, client.token[:-4], client.api_key[:-4]]


def test_recording_off_records_nothing(merchant, settings):
    settings.INSPECTOR_ENABLED = False
    before = ApiCall.objects.count()
    merchant.request_to_pay()
    assert ApiCall.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_the_flushing_thread_writes_a_batch_soon_after_the_calls(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.INSPECTOR_FLUSH_SECONDS = 0.05
    client = new_client().provision("merchant.example")
    client.get_token()
    for _ in range(5):
        client.request_to_pay()
    wait_for(lambda: ApiCall.objects.filter(direction="in", operation="requesttopay").count() == 5, timeout=15, what="5 calls flushed")


def test_a_flush_returns_only_once_the_flush_the_thread_is_writing_is_written(transactional_db, monkeypatch):
    """A flush that finds the buffer just emptied by another flush (the flushing thread's,
    still writing) waits for that write: what was recorded before it is in the table when
    it returns (a callback attempt was once missing right after `recorder.flush()`)."""
    writing, release = threading.Event(), threading.Event()
    real_write = recorder.write

    def held_write(rows, push=None):
        writing.set()
        release.wait(10)
        return real_write(rows, push)

    monkeypatch.setattr(recorder, "write", held_write)
    recorder.record({"at": timezone.now(), "direction": "callback", "method": "POST", "path": "/momo/callback",
                     "reference": "held"}, inline=False)
    first = threading.Thread(target=recorder.flush)
    first.start()
    assert writing.wait(10)
    second = threading.Thread(target=recorder.flush)
    second.start()
    second.join(0.5)
    assert second.is_alive(), "a flush returned while the rows before it were still being written"
    release.set()
    second.join(10)
    first.join(10)
    assert ApiCall.objects.filter(reference="held").count() == 1


def test_a_callback_attempt_is_recorded_in_the_same_stream_with_its_signature_redacted(transactional_db, receiver):
    from payments import services
    from tests.support.callback_receiver import api_user, momo_payment
    from tests.support.callback_receiver import send_callback_of

    user = api_user()
    secret = services.callback_settings_update(actor="operator:alice", momo_user=user, signing=True)["signing_secret"]
    receiver.answer = lambda request, n: Response('{"ok": false}', status=500)
    payment = momo_payment(user, receiver.url(), external_id="cb-1")
    send_callback_of(payment)
    recorder.flush()
    [call] = ApiCall.objects.filter(direction="callback", reference=payment.reference)
    assert (call.status, call.code, call.reference) == (500, "HTTP_500", str(payment.reference))
    assert call.api_user == user.pk and call.path == "/momo/callback" and call.host.startswith("http://127.0.0.1")
    assert "answer a callback with 200" in call.fix and call.response_body == '{"ok": false}'
    signature = [request.headers for request in receiver.got][0]["Webhook-Signature"]
    stored = json.dumps(list(ApiCall.objects.values()), default=str, ensure_ascii=False)
    assert signature not in stored and secret not in stored


def test_calls_of_every_product_are_recorded_by_their_path(merchant):
    """Disbursements and Remittances too: recorded by path prefix, no list of views."""
    for product in ("disbursement", "remittance"):
        call = one_call(raw(merchant, "POST", f"/{product}/token/", raw=b"", Authorization=basic(merchant.user_id, "wrong")))
        assert (call.product, call.operation, call.status, call.code) == (product, "token", 401, "invalid_client")
        assert call.api_user == uuid.UUID(merchant.user_id)
    call = one_call(raw(merchant, "GET", "/disbursement/v1_0/nothing"))
    assert (call.product, call.operation, call.code) == ("disbursement", "unknown", "ROUTE_NOT_FOUND")


def test_upstream_calls_are_recorded_in_the_same_stream_with_their_secrets_redacted(settings, httpserver):
    from payments.providers import momo as upstream
    from tests.support.factories import make_payment
    from tests.support.upstream import API_KEY, API_USER, use_upstream
    from tests.support.upstream import SUBSCRIPTION_KEY as UPSTREAM_KEY

    use_upstream(settings, httpserver, callback_base="https://shop.example.com/base")
    httpserver.expect_request("/collection/token/", method="POST").respond_with_json(
        {"access_token": "upstream-token-0123456789", "token_type": "access_token", "expires_in": 3600})
    httpserver.expect_request("/collection/v1_0/requesttopay", method="POST").respond_with_data("", status=503)
    payment = make_payment()
    with pytest.raises(upstream.UpstreamUnavailable):
        upstream.request_to_pay(reference=str(payment.reference), amount=payment.amount, currency="EUR",
                                phone_number=payment.phone_number, external_id="x", callback_url="https://shop.example.com/cb")
    recorder.flush()
    made = {c.operation: c for c in ApiCall.objects.filter(direction="upstream")}
    assert made["requesttopay"].status == 503 and made["requesttopay"].reference == str(payment.reference)
    assert made["requesttopay"].code == "HTTP_503" and "same X-Reference-Id" in made["requesttopay"].fix
    stored = json.dumps(list(ApiCall.objects.filter(direction="upstream").values()), default=str, ensure_ascii=False)
    for secret in (UPSTREAM_KEY, API_KEY, "upstream-token-0123456789"):
        assert secret not in stored
    assert API_USER in stored  # the Basic header names its user, never its key
