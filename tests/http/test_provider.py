"""The provider interface: each payment records its provider; only the simulator's settle by
the worker's draw; an upstream's payments are not forced; configuration and health."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import services
from payments.models import Payment
from payments.services import payment_settle_all as settle_all
from payments.worker import SettlementWorker
from tests.support.factories import make_payment
from tests.support import child_env, manage
from tests.support.upstream import API_USER, use_upstream

pytestmark = pytest.mark.django_db


def test_it_records_the_simulator_by_default():
    payment = make_payment()
    assert payment.provider == "simulator" and payment.settle_at is not None and payment.next_check_at is None


def test_it_schedules_an_upstream_payment_for_submission_not_for_the_draw(settings, httpserver):
    use_upstream(settings, httpserver)
    payment = make_payment()
    assert payment.provider == "momo"
    assert payment.settle_at is None and payment.next_check_at is not None
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(seconds=60))
    assert SettlementWorker(worker_id="w").handle_one() == 0
    payment.refresh_from_db()
    assert payment.status == "processing"


def test_the_simulator_worker_still_settles_simulator_payments_beside_upstream_ones(settings, httpserver):
    simulated = make_payment(due_in=-1)
    use_upstream(settings, httpserver)
    upstream = make_payment()
    assert SettlementWorker(worker_id="w", seed=1).handle_one() == 1
    simulated.refresh_from_db()
    upstream.refresh_from_db()
    assert simulated.status != "processing" and upstream.status == "processing"


def test_an_upstream_payment_that_stays_pending_expires_like_any_other(settings, httpserver):
    use_upstream(settings, httpserver)
    payment = make_payment(age=400)
    assert SettlementWorker(worker_id="w").handle_one() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", "EXPIRED")


def test_it_refuses_to_force_an_upstream_payment(settings, httpserver):
    use_upstream(settings, httpserver)
    payment = make_payment()
    with pytest.raises(services.PaymentError, match="decided by the MoMo upstream"):
        services.payment_force(payment=payment, outcome="successful", actor="operator:op")
    payment.refresh_from_db()
    assert payment.status == "processing" and payment.version == 1


def test_the_test_override_lets_an_operator_force_it(settings, httpserver):
    use_upstream(settings, httpserver)
    settings.MOMO_ALLOW_FORCE = True
    payment = make_payment()
    assert services.payment_force(payment=payment, outcome="successful", actor="operator:op").status == "successful"


def test_the_dashboard_says_why_it_will_not_force_an_upstream_payment(settings, httpserver, client, operator):
    use_upstream(settings, httpserver)
    payment = make_payment()
    client.force_login(operator)
    response = client.post(f"/dashboard/payments/{payment.reference}/force/", {"outcome": "successful"})
    assert response.status_code == 409
    assert "cannot be forced. This payment is decided by the MoMo upstream" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == "processing"


def test_the_api_says_why_it_will_not_force_an_upstream_payment(settings, httpserver, operator_api):
    use_upstream(settings, httpserver)
    payment = make_payment()
    response = operator_api.post(f"/api/payments/{payment.reference}/complete/", {"outcome": "failed"}, format="json")
    assert response.status_code == 409 and "decided by the MoMo upstream" in response.json()["detail"]


def test_settle_all_leaves_upstream_payments_to_the_upstream(settings, httpserver):
    use_upstream(settings, httpserver)
    payment = make_payment()
    counts = settle_all(older_than=timedelta(0), success_rate=1.0, actor="op")
    assert counts == {"successful": 0, "failed": 0}
    payment.refresh_from_db()
    assert payment.status == "processing"


def test_healthz_says_provider_down_with_the_reason_when_the_upstream_refuses_the_credentials(settings, httpserver, client):
    use_upstream(settings, httpserver)
    httpserver.expect_request("/collection/token/", method="POST").respond_with_json(
        {"error": "invalid_client"}, status=401
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["provider"].startswith("down: the upstream refused the credentials (401)")
    assert "MOMO_UPSTREAM_API_USER" in body["provider"]


def test_healthz_says_provider_ok_when_the_upstream_hands_out_a_token(settings, httpserver, client):
    use_upstream(settings, httpserver)
    httpserver.expect_request("/collection/token/", method="POST").respond_with_json(
        {"access_token": "t1", "token_type": "access_token", "expires_in": 3600}
    )
    assert client.get("/healthz").json()["provider"] == "ok"
    assert client.get("/healthz").json()["provider"] == "ok"
    assert len([r for r, _ in httpserver.log if r.path == "/collection/token/"]) == 1  # fetched once


def test_healthz_says_provider_down_when_the_upstream_is_unreachable(settings, client):
    from tests.support import free_port

    settings.PAYMENT_PROVIDER = "momo"
    settings.MOMO_UPSTREAM_URL = f"http://127.0.0.1:{free_port()}"
    assert client.get("/healthz").json()["provider"].startswith("down: the upstream is unreachable")


def test_it_names_every_missing_variable_in_one_line_at_start():
    result = manage("check", env=child_env(PAYMENT_PROVIDER="momo", MOMO_UPSTREAM_URL="sandbox.example"), check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for words in ("MOMO_UPSTREAM_URL must be an http(s) URL", "MOMO_CALLBACK_BASE is not set",
                  "MOMO_UPSTREAM_SUBSCRIPTION_KEY is not set", "MOMO_UPSTREAM_API_USER is not set"):
        assert words in lines[0]


def test_it_refuses_an_unknown_provider_in_one_line():
    result = manage("check", env=child_env(PAYMENT_PROVIDER="stripe"), check=False)
    assert result.stderr.strip() == "configuration error: PAYMENT_PROVIDER must be 'simulator' or 'momo', not 'stripe'."


def test_a_complete_configuration_starts(tmp_path):
    env = child_env(
        PAYMENT_PROVIDER="momo", MOMO_UPSTREAM_URL="https://sandbox.momodeveloper.mtn.com",
        MOMO_UPSTREAM_SUBSCRIPTION_KEY="k" * 32, MOMO_UPSTREAM_API_USER=API_USER, MOMO_UPSTREAM_API_KEY="a" * 32,
        MOMO_CALLBACK_BASE="https://shop.example.com",
    )
    assert "no issues" in manage("check", env=env).stdout



def test_the_dashboard_shows_the_simulator(client, operator):
    client.force_login(operator)
    page = client.get("/dashboard/").content.decode()
    assert 'data-provider="simulator"' in page and "Settled by <strong>Simulator</strong>" in page


def test_the_dashboard_shows_the_upstream_and_its_health(settings, httpserver, client, operator):
    use_upstream(settings, httpserver)
    httpserver.expect_request("/collection/token/", method="POST").respond_with_json(
        {"statusCode": 401, "message": "Access denied due to invalid subscription key."}, status=401
    )
    client.force_login(operator)
    page = " ".join(client.get("/dashboard/").content.decode().split())
    assert f"Settled by <strong>MoMo upstream</strong> at <code>{httpserver.host}:{httpserver.port}</code>" in page
    assert "down: the upstream refused the credentials (401); check MOMO_UPSTREAM_SUBSCRIPTION_KEY" in page
    assert "cannot be forced here" in page
