"""Log rows a client can repeat are bounded per payment: the first rows are kept, the rest
are counted on the last one (PAYMENT_LOG_ROWS_PER_KIND), from outside: the phone page, the
MoMo API and the upstream's callback URL."""

import pytest
from django.test import Client

from payments.models import Payment, PaymentLog
from payments.upstream import UpstreamWorker, callback_token
from tests.support.factories import make_payment
from tests.support.momo_client import SUBSCRIPTION_KEY, DjangoMomoClient
from tests.support.upstream import use_upstream

pytestmark = pytest.mark.django_db
CAP = 5
REPEATS = 40


@pytest.fixture(autouse=True)
def _small_cap(settings):
    settings.PAYMENT_LOG_ROWS_PER_KIND = CAP


def rows_of(payment: Payment, event: str) -> list[PaymentLog]:
    return list(PaymentLog.objects.filter(payment=payment, event=event).order_by("id"))


def assert_bounded(rows: list[PaymentLog]) -> None:
    assert len(rows) == CAP
    assert rows[-1].details["more"] == REPEATS - CAP and rows[-1].details["last_at"]
    assert all("more" not in row.details for row in rows[:-1])


def test_it_counts_wrong_pins_beyond_the_cap_and_still_tells_the_payer_the_attempt(operator):
    payment = make_payment()
    payer = Client()
    for attempt in range(1, REPEATS + 1):
        page = payer.post(f"/p/{payment.approval_token}/approve/", {"pin": "0000"}).content.decode()
        assert f"attempt {attempt})" in page
    assert_bounded(rows_of(payment, PaymentLog.Event.WRONG_PIN))
    staff = Client()
    staff.force_login(operator)
    timeline = staff.get(f"/dashboard/payments/{payment.reference}/").content.decode()
    assert timeline.count("Wrong PIN") >= CAP and f"more={REPEATS - CAP}" in timeline


def test_it_counts_delivery_notifications_beyond_the_cap(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    momo = DjangoMomoClient(Client()).provision("shop.example")
    momo.get_token()
    reference, answer = momo.request_to_pay()
    assert answer.status == 202
    for n in range(REPEATS):
        sent = momo.call(
            "POST", f"/collection/v1_0/requesttopay/{reference}/deliverynotification",
            json_body={"notificationMessage": f"reminder {n}"},
        )
        assert sent.status == 200
    rows = rows_of(Payment.objects.get(reference=reference), PaymentLog.Event.NOTIFIED)
    assert_bounded(rows)
    assert rows[-1].details["message"] == f"reminder {CAP - 1}"  # the stored rows are the first ones


def test_it_counts_replayed_upstream_callbacks_beyond_the_cap(settings, httpserver):
    use_upstream(settings, httpserver, callback_base="https://shop.example.com/base")
    httpserver.expect_request("/collection/token/", method="POST").respond_with_json(
        {"access_token": "tok-1", "token_type": "access_token", "expires_in": 3600}
    )
    httpserver.expect_request("/collection/v1_0/requesttopay", method="POST").respond_with_data("", 202)
    payment = make_payment()
    UpstreamWorker(actor="worker:test").handle_one()  # submitted upstream: now waiting for it
    url = f"/provider/momo/callback/{payment.reference}/{callback_token(payment.reference)}/"
    upstream = Client()
    for _ in range(REPEATS):
        assert upstream.post(url, data="{}", content_type="application/json").status_code == 200
    callbacks = [row for row in rows_of(payment, PaymentLog.Event.UPSTREAM) if "callback" in row.details]
    assert_bounded(callbacks)
    assert PaymentLog.objects.filter(payment=payment).count() < 2 * CAP + 2
