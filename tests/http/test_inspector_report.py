"""Report cards: a client that misbehaves on purpose fails exactly the checks it breaks; a
well-behaved one passes all. The same card on the page, as JSON and from momo_report."""

import json
import time
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from werkzeug import Response

from inspector import recorder, report
from payments import services
from payments.models import MomoApiUser, Payment
from tests.support.callback_receiver import HOST
from tests.support.clients import logged_in
from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, DjangoMomoClient
from tests.support.callback_receiver import send_callback_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BREAKS = {"token_reuse", "status_polling", "retry_reference", "callbacks"}


@pytest.fixture(autouse=True)
def _momo_settings(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_ENVIRONMENTS = {"sandbox": "EUR"}
    settings.MOMO_STATUS_RATE = 10


def injected_errors(client: DjangoMomoClient, rate: float) -> None:
    user = MomoApiUser.objects.get(id=client.user_id)
    services.callback_settings_update(actor="operator:test", momo_user=user, api_error_rate=rate)


def run_client(receiver, *, well_behaved: bool) -> str:
    """One integration, scripted: returns its API user id."""
    client = DjangoMomoClient(Client()).provision(HOST)
    client.get_token()

    def token() -> None:
        if not well_behaved:
            client.get_token()  # a new token for every call

    token()
    reference, created = client.request_to_pay(X_Callback_Url=receiver.url())
    assert created.status == 202
    # The client's own pace is what is judged: backing off from 20 to 1.25 reads a second,
    # or 25 a second (faster only if the machine is too slow to keep that pace).
    gaps = [0.05, 0.1, 0.2, 0.4, 0.8, 0] if well_behaved else [0.04] * 25
    due = time.monotonic()
    for gap in gaps:
        token()
        client.status(reference)
        due += gap
        time.sleep(max(0.0, due - time.monotonic()))
    body = {**RTP_BODY, "externalId": "order-77"}
    injected_errors(client, 1.0)
    token()
    failed_reference, failed = client.request_to_pay(body)
    assert failed.status >= 500
    injected_errors(client, 0.0)
    token()
    retried = client.request_to_pay(body, reference=failed_reference if well_behaved else None)[1]
    assert retried.status == 202
    receiver.answer = lambda request, n: Response("ok", status=200 if well_behaved else 500)
    send_callback_of(Payment.objects.get(reference=reference))
    recorder.flush()
    return client.user_id


def verdicts(card: dict) -> dict[str, str]:
    return {check["id"]: check["verdict"] for check in card["checks"]}


def test_a_misbehaving_client_fails_exactly_the_checks_it_breaks(receiver):
    card = report.card(run_client(receiver, well_behaved=False))
    failed = {check for check, verdict in verdicts(card).items() if verdict == "fail"}
    assert failed == BREAKS, card["checks"]
    evidence = {check["id"]: check["evidence"] for check in card["checks"]}
    assert "29 token(s) fetched for 28 product call(s)" in evidence["token_reuse"]
    assert "MTN allows 10" in evidence["status_polling"]
    assert "with a new X-Reference-Id" in evidence["retry_reference"]
    assert "500" in evidence["callbacks"]


def test_a_well_behaved_client_passes_all(receiver, operator):
    user = run_client(receiver, well_behaved=True)
    card = report.card(user)
    assert set(verdicts(card).values()) == {"pass"}, card
    assert "1 retry(ies) after a 5xx reused the X-Reference-Id" in card["checks"][2]["evidence"]

    staff = logged_in(operator)
    assert staff.get(f"/dashboard/inspector/report.json?api_user={user}").json()["cards"] == [card]
    page = staff.get(f"/dashboard/inspector/report/?api_user={user}").content.decode()
    assert page.count('data-verdict="pass"') == len(report.CHECKS)
    out = StringIO()
    call_command("momo_report", user, stdout=out)
    assert out.getvalue().count("PASS") == len(report.CHECKS) and "FAIL" not in out.getvalue()
    out = StringIO()
    call_command("momo_report", user, "--json", stdout=out)
    assert json.loads(out.getvalue())["cards"] == [card]
    with pytest.raises(CommandError, match="No calls recorded"):
        call_command("momo_report", str(uuid.uuid4()))
