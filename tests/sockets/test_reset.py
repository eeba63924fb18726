"""Reset demo: one service clears payments and logs in one transaction, leaves one row of
who reset, and tells every open page (dashboards resync, checkout and phone pages say so)."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from payments import services
from payments.models import IdempotencyKey, Payment, PaymentLog
from tests.support.clients import ORIGIN, is_json_type, open_dashboard, receive_until
from tests.support import child_env, manage




def create(n: int = 3) -> list[Payment]:
    return [services.payment_create(amount=Decimal("5.00"), currency="EUR", phone_number="46733123499") for _ in range(n)]


@pytest.mark.django_db
def test_it_clears_everything_and_leaves_one_row_of_who_reset():
    payments = create(3)
    services.payment_force(payment=payments[0], outcome="successful", actor="operator:alice")
    services.settings_update(actor="operator:alice", timeout_seconds=7)
    assert services.demo_reset(actor="operator:bob") == 3
    assert Payment.objects.count() == 0 and IdempotencyKey.objects.count() == 0
    (row,) = PaymentLog.objects.all()
    assert (row.event, row.actor, row.payment_id, row.details) == ("reset", "operator:bob", None, {"payments_removed": 3})
    from payments.selectors import simulator_settings

    assert simulator_settings().timeout_seconds == 7  # settings stay


@pytest.mark.django_db
def test_the_dashboard_button_is_staff_only_and_csrf_checked(operator, customer):
    create(2)
    outsider = Client(enforce_csrf_checks=True)
    assert outsider.post("/dashboard/reset/").status_code == 403
    nonstaff = Client()
    nonstaff.force_login(customer)
    assert nonstaff.post("/dashboard/reset/").status_code == 403
    staff_no_csrf = Client(enforce_csrf_checks=True)
    staff_no_csrf.force_login(operator)
    assert staff_no_csrf.post("/dashboard/reset/").status_code == 403
    assert Payment.objects.count() == 2

    staff = Client()
    staff.force_login(operator)
    answer = staff.post("/dashboard/reset/")
    assert answer.status_code == 200 and "Demo reset: 2 payments removed." in answer.content.decode()
    assert Payment.objects.count() == 0
    assert PaymentLog.objects.get().actor == "operator:operator"


@pytest.mark.django_db(transaction=True)
def test_the_command_asks_for_yes_and_resets(tmp_path):
    from tests.support import sqlite_url_of_test_db

    create(2)
    env = child_env(DATABASE_URL=sqlite_url_of_test_db())
    refused = manage("reset_demo", env=env, check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == ["CommandError: reset_demo removes every payment: pass --yes to confirm"]
    assert Payment.objects.count() == 2
    done = manage("reset_demo", "--yes", env=env)
    assert done.stdout.strip() == "demo reset: 2 payments removed"
    assert Payment.objects.count() == 0 and PaymentLog.objects.get().actor == "command"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_open_pages_are_told(operator):
    (payment,) = await sync_to_async(create)(1)
    checkout = WebsocketCommunicator(application, f"/ws/payments/{payment.reference}/", headers=ORIGIN)
    phone = WebsocketCommunicator(application, f"/ws/phone/{payment.approval_token}/", headers=ORIGIN)
    assert (await checkout.connect())[0] and (await phone.connect())[0]
    await checkout.receive_from(timeout=5)
    await phone.receive_from(timeout=5)
    client = Client()
    await sync_to_async(client.force_login)(operator)
    dashboard, connected, _ = await open_dashboard(client, "?format=json")
    first = json.loads(await dashboard.receive_from(timeout=5))
    assert connected and len(first["payments"]) == 1

    await sync_to_async(services.demo_reset)(actor="operator:operator")
    told = await checkout.receive_from(timeout=5)
    assert "The demo was reset" in told and f'id="payment-{payment.reference}"' in told and 'data-status="reset"' in told
    assert "The demo was reset" in await phone.receive_from(timeout=5)
    snapshot = json.loads((await receive_until(dashboard, is_json_type("snapshot"), timeout=5))[0])
    assert snapshot["payments"] == [] and snapshot["stats"]["processing"] == 0
    for socket in (checkout, phone, dashboard):
        await socket.disconnect()
