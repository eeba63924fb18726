"""A settlement by a worker process reaches pages on other Daphne processes (Redis, PostgreSQL)."""

import pytest

from tests.support import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def test_it_pushes_a_worker_processs_settlement_to_a_page_and_a_dashboard_on_other_servers(
    pg_database, private_redis, stack_factory, pages
):
    stack = stack_factory(pg_database, private_redis.url)
    stack.settle_after(2)
    server_a, server_b = stack.server("daphne-a"), stack.server("daphne-b")
    stack.worker("worker")
    session = stack.operator_session()

    reference = server_a.create_payment()["reference"]  # created through server A's API
    page = pages.checkout(server_b, reference)  # the customer's page is on server B
    dashboard = pages.dashboard(server_a, session)  # the operator's dashboard: a third connection
    pages.wait_open()
    wait_for(lambda: page.shown.get(reference) == ("processing", 1), timeout=5, what="the page's snapshot")
    wait_for(lambda: dashboard.shown.get(reference) == ("processing", 1), timeout=5, what="the dashboard's snapshot")

    wait_for(lambda: page.shown[reference][1] == 2, timeout=10, what="the settlement on the page")
    wait_for(lambda: dashboard.shown[reference][1] == 2, timeout=5, what="the settlement on the dashboard")

    status, version = stack.truth()[reference]
    assert page.shown[reference] == dashboard.shown[reference] == (status, 2)
    assert status in {"successful", "failed"}
    [(actor, settled_at)] = stack.sql(
        "SELECT l.actor, extract(epoch FROM p.settled_at) FROM payments_paymentlog l"
        " JOIN payments_payment p ON p.id = l.payment_id WHERE p.reference = %s AND l.event = 'settled'",
        reference,
    )
    assert actor.startswith("worker:"), actor
    # Pushed, not picked up by a reconnect: each socket stayed open, and it arrived at once.
    assert page.connects == dashboard.connects == 1
    assert page.received_at[reference] - float(settled_at) < 1.0
    assert dashboard.received_at[reference] - float(settled_at) < 1.0
