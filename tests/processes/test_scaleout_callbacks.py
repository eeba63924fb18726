"""Callback deliveries across worker processes on PostgreSQL: none lost when a worker is
SIGKILLed mid-send (its leases run out and the attempts go again), none sent twice by
three workers sharing the outbox (SKIP LOCKED claims with a compare-and-set lease)."""

import signal
import threading

import pytest
from werkzeug import Response

from tests.support import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def create_due_momo_payments(stack, count: int, url: str) -> list[str]:
    """Setup only: an API user and `count` payments with its callback URL, due now."""
    return stack.script(
        "import uuid\n"
        "from datetime import timedelta\n"
        "from decimal import Decimal\n"
        "from django.utils import timezone\n"
        "from payments.models import MomoApiUser, Payment\n"
        "user = MomoApiUser.objects.create(id=uuid.uuid4(), provider_callback_host='127.0.0.1')\n"
        "now = timezone.now()\n"
        f"rows = [Payment(amount=Decimal('10'), currency='EUR', phone_number='46733123499', external_id=f'order-{{i}}',\n"
        f"                created_at=now, updated_at=now, settle_at=now - timedelta(seconds=1),\n"
        f"                momo_user=user, callback_url={url!r}) for i in range({count})]\n"
        "for payment in Payment.objects.bulk_create(rows):\n"
        "    print(payment.external_id)\n"
    ).split()


def delivery_counts(stack) -> dict[str, int]:
    return dict(stack.sql("SELECT status, count(*) FROM payments_callbackdelivery GROUP BY status"))


def test_it_delivers_every_callback_after_a_worker_is_sigkilled_mid_send(pg_database, private_redis, stack_factory, receiver):
    stack = stack_factory(pg_database, private_redis.url)
    stack.script("from payments.services import callback_settings_update; callback_settings_update(actor='test', timeout_seconds=3)")
    release = threading.Event()

    def slow(request, n):  # hold the first sends open so the kill finds them in flight
        release.wait(timeout=2.5)
        return Response("ok")

    receiver.answer = slow
    orders = create_due_momo_payments(stack, 200, receiver.url())
    victim = stack.worker("victim")
    wait_for(lambda: len(receiver.got) >= 50, timeout=30, what="the victim to have sends in flight")
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait(timeout=10)
    release.set()
    in_flight = stack.sql(
        "SELECT count(*) FROM payments_callbackdelivery WHERE status = 'pending' AND claimed_until IS NOT NULL"
    )[0][0]
    assert in_flight > 0, f"the kill should land mid-send: {delivery_counts(stack)}"

    stack.worker("restarted")
    wait_for(lambda: delivery_counts(stack).get("delivered") == 200, timeout=60, interval=0.25,
             what=f"all 200 delivered (now {delivery_counts(stack)})")
    seen = receiver.by_external_id()
    assert set(orders) <= set(seen), "some callback never reached the receiver"
    print(f"{in_flight} in flight at the kill; {len(receiver.got)} requests for 200 callbacks")


def test_it_never_sends_an_attempt_twice_with_three_workers(pg_database, private_redis, stack_factory, receiver):
    stack = stack_factory(pg_database, private_redis.url)
    workers = [stack.worker(f"worker-{i}") for i in range(3)]
    wait_for(lambda: stack.sql("SELECT count(*) FROM payments_workerheartbeat")[0][0] == 3,
             timeout=20, what="three workers to beat")
    receiver.answer = lambda request, n: Response("ok")
    orders = create_due_momo_payments(stack, 300, receiver.url())

    wait_for(lambda: delivery_counts(stack).get("delivered") == 300, timeout=60, interval=0.25,
             what=f"all 300 delivered (now {delivery_counts(stack)})")
    seen = receiver.by_external_id()
    assert sorted(seen) == sorted(orders)
    # Each attempt is sent once: the receiver saw exactly as many requests for a callback as
    # its timeline has attempts (a retry after a timeout would be a second attempt, logged).
    attempts = dict(stack.sql(
        "SELECT p.external_id, count(*) FROM payments_paymentlog l JOIN payments_payment p ON p.id = l.payment_id"
        " WHERE l.event = 'callback' GROUP BY p.external_id"
    ))
    sent_twice = {k: (len(v), attempts.get(k)) for k, v in seen.items() if len(v) != attempts.get(k)}
    assert not sent_twice, f"requests received vs attempts logged: {sent_twice}"
    retried = {k: n for k, n in attempts.items() if n > 1}
    by_worker = stack.sql("SELECT actor, count(*) FROM payments_paymentlog WHERE event = 'callback' GROUP BY actor")
    print(f"attempts by worker: {dict(by_worker)}; retried after a timeout: {retried}")
    for worker in workers:
        assert worker.alive(), worker.output()
