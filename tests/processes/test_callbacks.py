"""MoMo callbacks as a receiver gets them from the running demo (Daphne + worker, one process)."""

from datetime import timedelta

import pytest
from werkzeug import Response

from payments import services
from payments.models import CallbackDelivery, MomoApiUser, Payment, PaymentLog
from tests.support.callback_receiver import HOST, api_user, momo_payment
from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, HttpMomoClient
from tests.support import wait_for

pytestmark = pytest.mark.slow


def delivered(count: int):
    return lambda: CallbackDelivery.objects.filter(status=CallbackDelivery.Status.DELIVERED).count() >= count


def test_it_sends_exactly_one_callback_per_final_payment_with_its_status_body_within_a_second(
    start_demo, receiver
):
    server = start_demo(1, MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    posting, putting = (HttpMomoClient(server.base_url).provision(callback_host=HOST) for _ in range(2))
    services.callback_settings_update(actor="test", momo_user=MomoApiUser.objects.get(pk=putting.user_id), method="PUT")
    phones = {"ok": "46733123499", "rejected": "46733123451", "not-found": "46733123455"}
    references = {}
    for client in (posting, putting):
        client.get_token()
        for name, phone in phones.items():
            body = {**RTP_BODY, "externalId": f"{client.user_id}-{name}", "payer": {"partyIdType": "MSISDN", "partyId": phone}}
            reference, answer = client.request_to_pay(body, X_Callback_Url=receiver.url(f"/cb/{client.user_id}"))
            assert answer.status == 202, answer.body
            references[body["externalId"]] = (client, reference)

    wait_for(delivered(6), timeout=15, what="six callbacks delivered")
    got = receiver.by_external_id()
    assert set(got) == set(references)
    for external_id, (client, reference) in references.items():
        payment = Payment.objects.get(reference=reference)
        [request] = got[external_id]  # exactly one
        assert request.method == ("PUT" if client is putting else "POST")
        assert request.path == f"/cb/{client.user_id}"
        assert request.headers["Content-Type"] == "application/json; charset=utf-8"
        assert not any(h.lower().startswith("webhook-") for h in request.headers)
        status = client.status(reference)
        assert status.status == 200 and request.body == status.json()  # the status JSON, as the status call says
        assert request.body["status"] in ("SUCCESSFUL", "FAILED") and reference not in request.raw.decode()
        lag = request.at - payment.settled_at.timestamp()
        assert 0 <= lag < 1.0, f"callback {lag:.2f} s after settlement"
    assert got[f"{posting.user_id}-rejected"][0].body["reason"] == "APPROVAL_REJECTED"
    assert CallbackDelivery.objects.filter(attempts=1).count() == 6
    assert len(receiver.got) == 6


def test_it_retries_a_failing_receiver_until_it_answers_200_and_then_stops(start_demo, receiver, client, operator):
    start_demo(timeout=0.5)
    receiver.answer = lambda request, n: Response("busy", status=500 if n <= 3 else 200)
    payment = momo_payment(api_user(), receiver.url())

    wait_for(delivered(1), timeout=15, what="the callback delivered on the 4th attempt")
    delivery = CallbackDelivery.objects.get(payment=payment)
    assert (delivery.attempts, delivery.last_status_code) == (4, 200)
    attempts = PaymentLog.objects.filter(payment=payment, event=PaymentLog.Event.CALLBACK).order_by("id")
    assert [a.details["status_code"] for a in attempts] == [500, 500, 500, 200]
    # MoMo's schedule: 1 s between the first retries.
    times = [r.at for r in receiver.got]
    assert all(0.8 < b - a < 2.0 for a, b in zip(times, times[1:])), times
    client.force_login(operator)
    page = client.get(f"/dashboard/payments/{payment.reference}/").content.decode()
    assert page.count("Callback attempt") == 4 and "status_code=500" in page
    assert delivery.next_attempt_at < delivery.delivered_at + timedelta(seconds=1)
    assert len(receiver.got) == 4  # delivered: nothing more is scheduled


def test_it_gives_up_after_the_schedule_and_keeps_healthz_green_while_receivers_fail(start_demo, receiver, client):
    server = start_demo(timeout=0.5)
    services.callback_settings_update(actor="test", schedule="0.2,0.2")
    receiver.answer = lambda request, n: Response(status=302, headers={"Location": "/elsewhere"})
    payment = momo_payment(api_user(), receiver.url())
    elsewhere = momo_payment(api_user(host="example.com"), receiver.url())  # not its callback host

    wait_for(
        lambda: CallbackDelivery.objects.filter(status=CallbackDelivery.Status.FAILED).count() == 2,
        timeout=15, what="both callbacks given up",
    )
    assert CallbackDelivery.objects.get(payment=payment).attempts == 3  # the first + 2 retries
    assert [r.path for r in receiver.got] == ["/momo/callback"] * 3  # the redirect is not followed
    refused = CallbackDelivery.objects.get(payment=elsewhere)
    assert refused.last_status_code is None and "providerCallbackHost" in refused.last_error
    import urllib.request

    with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=5) as response:
        assert response.status == 200 and b'"worker": "ok"' in response.read()
    assert Payment.objects.filter(status=Payment.Status.PROCESSING).count() == 0
