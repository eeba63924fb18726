"""The `momo` client against a fake upstream (pytest-httpserver): token, request to pay with
retries, refusals, status schedule and the callback receiver. The two-process tests with a
real LiveSettle upstream are in test_upstream_e2e.py."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from payments import services
from payments.models import Payment, PaymentLog
from payments.providers import momo
from payments.upstream import UpstreamWorker, backoff, callback_token, callback_url
from tests.support.factories import make_payment
from tests.support import wait_for
from tests.support.upstream import API_USER, SUBSCRIPTION_KEY, use_upstream

pytestmark = pytest.mark.django_db

RTP = "/collection/v1_0/requesttopay"


@pytest.fixture
def upstream(settings, httpserver):
    use_upstream(settings, httpserver, callback_base="https://shop.example.com/base")
    settings.MOMO_UPSTREAM_TIMEOUT = 0.5
    httpserver.expect_request("/collection/token/", method="POST").respond_with_json(
        {"access_token": "tok-1", "token_type": "access_token", "expires_in": 3600}
    )
    return httpserver


def calls(httpserver, path: str, method: str = "POST") -> list:
    return [request for request, _ in httpserver.log if request.path == path and request.method == method]


def worker() -> UpstreamWorker:
    return UpstreamWorker(actor="worker:test")


def due_now(payment: Payment) -> None:
    Payment.objects.filter(pk=payment.pk).update(next_check_at=timezone.now())


def status_json(status: str, **extra) -> dict:
    return {"amount": "100", "currency": "EUR", "externalId": "x", "payer": {"partyIdType": "MSISDN", "partyId": "1"},
            "status": status, **extra}


def test_it_sends_request_to_pay_with_the_reference_external_id_token_and_callback(upstream):
    upstream.expect_request(RTP, method="POST").respond_with_data("", status=202)
    payment = make_payment()
    Payment.objects.filter(pk=payment.pk).update(external_id="order-7", payer_message="Permit 42")
    before = timezone.now()
    worker().handle_one()
    [request] = calls(upstream, RTP)
    assert request.headers["X-Reference-Id"] == str(payment.reference)
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
    assert request.headers["X-Target-Environment"] == "sandbox"
    token = callback_token(payment.reference)
    assert request.headers["X-Callback-Url"] == f"https://shop.example.com/base/provider/momo/callback/{payment.reference}/{token}/"
    body = json.loads(request.data)
    assert body["externalId"] == "order-7" and body["amount"] == "100" and body["currency"] == "EUR"
    assert body["payer"] == {"partyIdType": "MSISDN", "partyId": "46733123499"}
    assert body["payerMessage"] == "Permit 42" and body["payeeNote"] == f"LiveSettle {payment.reference}"
    [token_call] = calls(upstream, "/collection/token/")
    assert token_call.authorization.username == API_USER
    payment.refresh_from_db()
    assert payment.upstream_submitted_at is not None and payment.status == "processing"
    assert before + timedelta(seconds=2) <= payment.next_check_at <= timezone.now() + timedelta(seconds=2)  # first check


def test_one_token_serves_every_thread_until_shortly_before_it_expires(settings, httpserver):
    use_upstream(settings, httpserver)
    fetched = []

    def token(request):
        fetched.append(time.monotonic())
        time.sleep(0.05)  # slow enough for the threads to pile up on it
        return Response(json.dumps({"access_token": f"t{len(fetched)}", "expires_in": 1.2}), 200,
                        content_type="application/json")

    httpserver.expect_request("/collection/token/", method="POST").respond_with_handler(token)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(momo.tokens.get())) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["t1"] * 20 and len(fetched) == 1
    # Refreshed at 5/6 of its 1.2 s.
    wait_for(lambda: momo.tokens.get() != "t1", timeout=3, interval=0.02, what="the token's refresh")
    assert fetched[1] - fetched[0] < 1.2  # before it expired


def test_a_refused_token_is_replaced_once_and_the_call_retried(settings, httpserver):
    use_upstream(settings, httpserver)
    tokens = iter(["old", "new"])
    httpserver.expect_request("/collection/token/", method="POST").respond_with_handler(
        lambda r: Response(json.dumps({"access_token": next(tokens), "expires_in": 3600}), 200)
    )
    httpserver.expect_request(RTP, method="POST", headers={"Authorization": "Bearer old"}).respond_with_json(
        {"statusCode": 401, "message": "Access denied due to invalid token."}, status=401
    )
    httpserver.expect_request(RTP, method="POST", headers={"Authorization": "Bearer new"}).respond_with_data("", 202)
    payment = make_payment()
    worker().handle_one()
    payment.refresh_from_db()
    assert payment.upstream_submitted_at is not None
    assert len(calls(httpserver, RTP)) == 2


def test_a_503_is_retried_with_the_same_reference_and_a_409_on_the_retry_means_accepted(upstream):
    answers = iter([(503, {"code": "SERVICE_UNAVAILABLE", "message": "x"}), (409, {"code": "RESOURCE_ALREADY_EXIST"})])

    def handler(request):
        status, body = next(answers)
        return Response(json.dumps(body), status, content_type="application/json")

    upstream.expect_request(RTP, method="POST").respond_with_handler(handler)
    payment = make_payment()
    before = timezone.now()
    worker().handle_one()
    payment.refresh_from_db()
    assert payment.upstream_submitted_at is None and payment.upstream_attempts == 1
    assert before + timedelta(seconds=1) <= payment.next_check_at <= timezone.now() + timedelta(seconds=1)  # retry in 1 s
    due_now(payment)
    worker().handle_one()
    payment.refresh_from_db()
    assert payment.upstream_submitted_at is not None and payment.status == "processing"
    references = {r.headers["X-Reference-Id"] for r in calls(upstream, RTP)}
    assert references == {str(payment.reference)} and len(calls(upstream, RTP)) == 2
    events = list(PaymentLog.objects.filter(payment=payment, event="upstream").values_list("details", flat=True))
    assert "503 SERVICE_UNAVAILABLE" in events[0]["error"] and events[1]["request_to_pay"] == "accepted"


def test_a_timeout_is_retried_not_failed(upstream):
    upstream.expect_request(RTP, method="POST").respond_with_handler(lambda r: (time.sleep(1.0), Response("", 202))[1])
    payment = make_payment()
    worker().handle_one()
    payment.refresh_from_db()
    assert payment.status == "processing" and payment.upstream_submitted_at is None
    assert "did not answer within 0.5 s" in PaymentLog.objects.get(payment=payment, event="upstream").details["error"]


@pytest.mark.parametrize(
    ("status", "body", "reason", "words"),
    [
        (500, {"code": "INVALID_CURRENCY", "message": "Currency not supported."}, "INVALID_CURRENCY",
         "This currency is not supported for the account."),
        (500, {"code": "PAYER_NOT_FOUND", "message": "Payer not found"}, "PAYER_NOT_FOUND",
         "The mobile money account for this number was not found."),
        (400, {"code": "INVALID_PARAMETER", "message": "bad"}, "INVALID_PARAMETER", "Invalid parameter"),
    ],
)
def test_a_definite_refusal_fails_the_payment_with_the_upstream_reason_in_words(upstream, client, status, body, reason, words):
    upstream.expect_request(RTP, method="POST").respond_with_json(body, status=status)
    payment = make_payment()
    assert worker().handle_one() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", reason)
    page = client.get(f"/pay/{payment.reference}/").content.decode()
    assert "Payment failed" in page and words in page


def test_the_status_settles_it_with_the_upstream_transaction_id(upstream):
    upstream.expect_request(RTP, method="POST").respond_with_data("", 202)
    payment = make_payment()
    worker().handle_one()
    upstream.expect_request(f"{RTP}/{payment.reference}", method="GET").respond_with_json(
        status_json("SUCCESSFUL", financialTransactionId="600198217")
    )
    due_now(payment)
    assert worker().handle_one() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.financial_transaction_id) == ("successful", "600198217")


def test_a_failed_status_with_an_object_reason_is_read_too(upstream):
    upstream.expect_request(RTP, method="POST").respond_with_data("", 202)
    payment = make_payment()
    worker().handle_one()
    upstream.expect_request(f"{RTP}/{payment.reference}", method="GET").respond_with_json(
        status_json("FAILED", reason={"code": "APPROVAL_REJECTED", "message": "no"})
    )
    due_now(payment)
    worker().handle_one()
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", "APPROVAL_REJECTED")


def test_pending_backs_off_from_2_s_to_a_minute(upstream):
    assert [backoff(n) for n in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    upstream.expect_request(RTP, method="POST").respond_with_data("", 202)
    payment = make_payment()
    worker().handle_one()
    upstream.expect_request(f"{RTP}/{payment.reference}", method="GET").respond_with_json(status_json("PENDING"))
    for expected in (2, 4, 8):
        due_now(payment)
        before = timezone.now()
        worker().handle_one()
        payment.refresh_from_db()
        after = timezone.now()
        # next_check_at = (when the answer was recorded) + the step
        assert before + timedelta(seconds=expected) <= payment.next_check_at <= after + timedelta(seconds=expected)
    assert payment.status == "processing"
    assert not PaymentLog.objects.filter(payment=payment, event="upstream", details__has_key="error").exists()


def test_simulator_payments_are_never_leased():
    make_payment()
    assert worker().lease(10) == []


def test_a_leased_payment_is_not_leased_again(upstream):
    make_payment()
    first, second = worker().lease(10), worker().lease(10)
    assert len(first) == 1 and second == []


def test_a_callback_with_the_right_token_moves_the_check_to_now_and_the_status_decides(upstream, client):
    upstream.expect_request(RTP, method="POST").respond_with_data("", 202)
    payment = make_payment()
    worker().handle_one()
    upstream.expect_request(f"{RTP}/{payment.reference}", method="GET").respond_with_json(
        status_json("FAILED", reason="APPROVAL_REJECTED")
    )
    # A body claiming success: never trusted, the upstream's status says FAILED.
    url = f"/provider/momo/callback/{payment.reference}/{callback_token(payment.reference)}/"
    response = client.post(url, data=json.dumps(status_json("SUCCESSFUL", financialTransactionId="1")),
                           content_type="application/json")
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.next_check_at <= timezone.now() and payment.status == "processing"
    worker().handle_one()
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", "APPROVAL_REJECTED")
    version = payment.version
    for method in (client.post, client.put):  # duplicates and late ones change nothing
        assert method(url, data="{}", content_type="application/json").status_code == 200
    assert worker().handle_one() == 0
    payment.refresh_from_db()
    assert (payment.status, payment.version) == ("failed", version)
    assert len(calls(upstream, f"{RTP}/{payment.reference}", "GET")) == 1


def test_a_callback_with_a_wrong_token_changes_nothing(upstream, client):
    payment = make_payment()
    Payment.objects.filter(pk=payment.pk).update(next_check_at=timezone.now() + timedelta(seconds=30))
    other = make_payment()
    for url in (
        f"/provider/momo/callback/{payment.reference}/{'0' * 64}/",
        f"/provider/momo/callback/{payment.reference}/{callback_token(other.reference)}/",
    ):
        response = client.post(url, data=json.dumps(status_json("SUCCESSFUL")), content_type="application/json")
        assert response.status_code == 404 and response.json()["code"] == "RESOURCE_NOT_FOUND"
    payment.refresh_from_db()
    assert (payment.next_check_at - timezone.now()).total_seconds() > 20
    assert not PaymentLog.objects.filter(payment=payment, event="upstream").exists()
    assert client.get(f"/provider/momo/callback/{payment.reference}/{callback_token(payment.reference)}/").status_code == 405


def test_a_callback_during_a_status_call_is_not_lost(upstream):
    """The lease: a PENDING answer recorded after a callback must not push the check away."""
    upstream.expect_request(RTP, method="POST").respond_with_data("", 202)
    payment = make_payment()
    worker().handle_one()
    due_now(payment)
    [leased] = worker().lease(10)
    services.payment_check_now(reference=payment.reference, actor="momo:callback")  # arrives mid-call
    from payments.upstream import Answer, record

    record(leased, Answer("status", status=momo.UpstreamStatus("PENDING")), actor="worker:test")
    payment.refresh_from_db()
    assert payment.next_check_at <= timezone.now()  # still due now


def test_the_callback_url_is_under_the_callback_base(upstream):
    payment = make_payment()
    assert callback_url(payment.reference).startswith("https://shop.example.com/base/provider/momo/callback/")
    assert callback_token(payment.reference) != callback_token(make_payment().reference)


def test_a_callback_while_the_status_still_says_pending_restarts_the_backoff(upstream):
    """MoMo has been seen to call back before its status call says final."""
    upstream.expect_request(RTP, method="POST").respond_with_data("", 202)
    payment = make_payment()
    worker().handle_one()
    upstream.expect_request(f"{RTP}/{payment.reference}", method="GET").respond_with_json(status_json("PENDING"))
    Payment.objects.filter(pk=payment.pk).update(upstream_attempts=5)  # checked a while: next step 60 s
    services.payment_check_now(reference=payment.reference, actor="momo:callback")
    before = timezone.now()
    worker().handle_one()
    payment.refresh_from_db()
    assert before + timedelta(seconds=2) <= payment.next_check_at <= timezone.now() + timedelta(seconds=2)
