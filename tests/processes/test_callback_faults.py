"""Injected callback faults, as the receiver observes them, set per API user while the demo runs."""

import time
import uuid

import pytest
from django.utils import timezone
from werkzeug import Response

from payments import callbacks, services
from payments.models import CallbackDelivery, MomoApiUser, Payment, PaymentLog
from tests.support.callback_receiver import HOST, api_user, momo_payment
from tests.support.momo_client import SUBSCRIPTION_KEY, DjangoMomoClient, HttpMomoClient
from tests.support import wait_for


@pytest.mark.slow
def test_it_delays_drops_and_duplicates_callbacks_per_api_user(start_demo, receiver):
    start_demo(timeout=0.5)
    delayed, dropped, duplicated, plain = api_user(), api_user(), api_user(), api_user()
    services.callback_settings_update(actor="operator:alice", momo_user=delayed, delay_seconds=1.5)
    services.callback_settings_update(actor="operator:alice", momo_user=dropped, drop_rate=1)
    services.callback_settings_update(actor="operator:alice", momo_user=duplicated, duplicates=3, duplicate_spread_seconds=1)
    payments = {
        user: momo_payment(user, receiver.url(f"/{name}"), external_id=name)
        for user, name in ((delayed, "delayed"), (dropped, "dropped"), (duplicated, "duplicated"), (plain, "plain"))
    }

    wait_for(lambda: CallbackDelivery.objects.filter(status="delivered").count() == 5, timeout=15,
             what="the delayed, the plain and three duplicate callbacks")
    got = receiver.by_external_id()
    assert "dropped" not in got
    assert CallbackDelivery.objects.get(payment=payments[dropped]).status == CallbackDelivery.Status.DROPPED
    settled = {user: Payment.objects.get(pk=p.pk).settled_at.timestamp() for user, p in payments.items()}

    [late] = got["delayed"]
    assert 1.5 <= late.at - settled[delayed] < 2.5
    [prompt] = got["plain"]
    assert prompt.at - settled[plain] < 1.0
    copies = got["duplicated"]
    assert len(copies) == 3 and len({c.raw for c in copies}) == 1  # the same body, three times
    offsets = [c.at - settled[duplicated] for c in copies]
    # Spread evenly over 1 s: none before its time (0, 0.5, 1 s), none much after it.
    assert all(i * 0.5 - 0.05 <= offset < i * 0.5 + 1.0 for i, offset in enumerate(offsets)), offsets
    changes = PaymentLog.objects.filter(event=PaymentLog.Event.CONFIG, details__has_key="callbacks")
    assert changes.count() == 3 and {c.actor for c in changes} == {"operator:alice"}


def test_drops_are_reproducible_with_the_seed(db):
    user = api_user()
    services.callback_settings_update(actor="test", seed=7)
    services.callback_settings_update(actor="test", momo_user=user, drop_rate=0.5)
    payments = [momo_payment(user, "http://127.0.0.1/cb", external_id=str(i)) for i in range(200)]

    def dropped() -> set[str]:
        rows = callbacks.outbox_rows(payments, now=timezone.now(), body_of=lambda p: {})
        return {str(r.payment.reference) for r in rows if r.status == CallbackDelivery.Status.DROPPED}

    first = dropped()
    assert first == dropped()  # same seed, same payments: the same drops
    assert 70 <= len(first) <= 130  # about half (binomial, 200 draws: +-4.3 sigma)
    services.callback_settings_update(actor="test", seed=8)
    assert dropped() != first


def test_bad_callback_settings_are_refused_in_words_and_change_nothing(db):
    user = api_user()
    for changes, words in (
        ({"schedule": "soon"}, "schedule must be 'momo', 'once', or a comma-separated list"),
        ({"drop_rate": 2}, "drop_rate must be a number from 0 to 1"),
        ({"duplicates": 1.5}, "duplicates must be a whole number from 1 to 20"),
        ({"method": "GET"}, "method must be POST or PUT"),
        ({"colour": "red"}, "Unknown callback setting 'colour'"),
    ):
        with pytest.raises(callbacks.SettingError, match=words):
            services.callback_settings_update(actor="test", momo_user=user, **changes)
    with pytest.raises(callbacks.SettingError, match="seed is global only"):
        services.callback_settings_update(actor="test", momo_user=user, seed=1)
    assert callbacks.effective(user.pk)["schedule"] == "momo"
    assert not PaymentLog.objects.filter(event=PaymentLog.Event.CONFIG).exists()


def test_it_retries_on_the_momo_once_and_custom_schedules():
    momo = [callbacks.retry_delay("momo", n) for n in range(1, 60)]
    assert momo[:20] == [1.0] * 20 and momo[20:50] == [120.0] * 30 and set(momo[50:]) == {3600.0}
    assert callbacks.retry_delay("once", 1) is None
    assert [callbacks.retry_delay("1,5,30", n) for n in (1, 2, 3, 4)] == [1.0, 5.0, 30.0, None]


@pytest.mark.slow
def test_it_sends_the_callback_while_the_status_call_still_says_pending(start_demo, receiver):
    # Success rate 1: the outcome is decided, not drawn (a 10 % failure draw once made it FAILED).
    server = start_demo(1, "--success-rate", "1", MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    client = HttpMomoClient(server.base_url).provision(callback_host=HOST)
    client.get_token()
    services.callback_settings_update(actor="test", momo_user=MomoApiUser.objects.get(pk=client.user_id), status_lag_seconds=3)
    reference, created = client.request_to_pay(X_Callback_Url=receiver.url())
    assert created.status == 202

    wait_for(lambda: receiver.got, timeout=10, what="the callback")
    assert client.status(reference).json()["status"] == "PENDING"  # asked the moment it landed
    [callback] = receiver.got
    assert callback.body["status"] == "SUCCESSFUL"
    final = wait_for(lambda: (s := client.status(reference).json())["status"] != "PENDING" and (s, time.time()),
                     timeout=10, interval=0.2, what="the status call to catch up")  # under 10 status calls/s
    assert final[0] == callback.body  # then it says what the callback said
    assert 2.8 <= final[1] - callback.at < 4.5


def test_api_faults_refuse_at_the_configured_rate_and_a_refused_request_to_pay_creates_nothing(db, client, settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_STATUS_RATE = settings.MOMO_REQUEST_RATE = 100_000
    momo = DjangoMomoClient(client).provision(callback_host=HOST)
    momo.get_token()
    reference, _ = momo.request_to_pay()
    services.callback_settings_update(actor="test", seed=12)
    services.callback_settings_update(actor="test", momo_user=MomoApiUser.objects.get(pk=momo.user_id), api_error_rate=0.3)

    answers = [momo.status(reference) for _ in range(1000)]
    refused = [a for a in answers if a.status != 200]
    # Binomial(1000, 0.3): mean 300, sd 14.5; this interval is +-4.5 sd.
    assert 235 <= len(refused) <= 365, len(refused)
    assert {(a.status, a.json()["code"]) for a in refused} == {(503, "SERVICE_UNAVAILABLE"), (500, "INTERNAL_PROCESSING_ERROR")}
    assert all(a.json()["status"] == "PENDING" for a in answers if a.status == 200)

    tries = [momo.request_to_pay() for _ in range(100)]
    accepted = {ref for ref, a in tries if a.status == 202}
    assert 0 < len(accepted) < 100
    assert set(Payment.objects.exclude(reference=reference).values_list("reference", flat=True)) == {
        uuid.UUID(ref) for ref in accepted
    }  # nothing written for a refused request


def test_api_latency_is_added_to_each_call(db, client, settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    momo = DjangoMomoClient(client).provision(callback_host=HOST)
    momo.get_token()
    services.callback_settings_update(actor="test", api_latency_ms=300)
    started = time.monotonic()
    reference, created = momo.request_to_pay()
    assert created.status == 202 and momo.status(reference).status == 200
    assert time.monotonic() - started >= 0.6


def test_an_operator_sets_faults_from_the_dashboard_globally_and_per_api_user(client, operator, customer):
    user = api_user()
    client.force_login(operator)
    page = client.get("/dashboard/").content.decode()
    assert 'id="callback-setting"' in page and f'value="{user.pk}"' in page and ">duplicates<" in page

    answer = client.post("/dashboard/callbacks/settings/", {"api_user": str(user.pk), "name": "duplicates", "value": "3"})
    assert answer.status_code == 200 and "duplicates is now 3" in answer.content.decode()
    assert callbacks.effective(user.pk)["duplicates"] == 3 and callbacks.effective()["duplicates"] == 1
    answer = client.post("/dashboard/callbacks/settings/", {"name": "schedule", "value": "once"})
    assert answer.status_code == 200 and callbacks.effective(user.pk)["schedule"] == "once"
    logged = PaymentLog.objects.filter(event=PaymentLog.Event.CONFIG, details__has_key="callbacks")
    assert {(log.actor, log.details["callbacks"]) for log in logged} == {
        ("operator:operator", str(user.pk)), ("operator:operator", "global")
    }

    bad = client.post("/dashboard/callbacks/settings/", {"name": "drop_rate", "value": "lots"})
    assert bad.status_code == 422 and "The callback setting drop_rate must be a number from 0 to 1." in bad.content.decode()
    assert client.post("/dashboard/callbacks/settings/", {"api_user": "nobody", "name": "duplicates", "value": "2"}).status_code == 404
    assert callbacks.effective()["drop_rate"] == 0 and logged.count() == 2
    reset = client.post("/dashboard/callbacks/settings/", {"api_user": str(user.pk), "name": "duplicates", "value": ""})
    assert reset.status_code == 200 and callbacks.effective(user.pk)["duplicates"] == 1

    client.force_login(customer)
    assert client.post("/dashboard/callbacks/settings/", {"name": "drop_rate", "value": "1"}).status_code == 403
    assert callbacks.effective()["drop_rate"] == 0
