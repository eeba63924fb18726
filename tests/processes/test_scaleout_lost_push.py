"""A push lost while Redis is up (the settling process could not publish): the page still
shows the result, without a reload or reconnect, once the payment is overdue on it."""

import time

import pytest

from consumers.resync import OVERDUE_AFTER
from tests.support import free_port, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def test_it_resyncs_a_page_whose_settlement_push_was_lost(pg_database, private_redis, stack_factory, pages):
    stack = stack_factory(pg_database, private_redis.url)
    stack.settle_after(1)
    server = stack.server("daphne")
    reference = server.create_payment()["reference"]
    page = pages.checkout(server, reference)
    wait_for(lambda: page.shown.get(reference) == ("processing", 1), timeout=10, what="the page's snapshot")

    # Settled by a process whose Redis is unreachable: committed, never pushed.
    stack.script(
        "from payments.models import Payment\n"
        "from payments import outcomes, services\n"
        f"payment = Payment.objects.get(reference='{reference}')\n"
        "services.payment_settle(payment_id=payment.pk, outcome=outcomes.Outcome('successful'), actor='test')\n",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    settled = time.monotonic()
    assert stack.truth()[reference] == ("successful", 2)

    wait_for(lambda: page.shown[reference] == ("successful", 2), timeout=OVERDUE_AFTER + 10, what="the page to resync")
    print(f"the page showed the lost settlement {time.monotonic() - settled:.1f} s after it")
    assert page.connects == 1, "resynced in place, not by reconnecting"
