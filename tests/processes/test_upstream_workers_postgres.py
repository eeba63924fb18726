"""Three worker processes on PostgreSQL share the upstream schedule: every payment is
requested upstream once and settled once (leases are a compare-and-set with SKIP LOCKED)."""

import json
import re
import threading
from collections import Counter

import pytest
from werkzeug import Response

from tests.support import wait_for
from tests.support.upstream import API_KEY, API_USER, SUBSCRIPTION_KEY

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RTP = "/collection/v1_0/requesttopay"


def test_three_workers_request_each_payment_upstream_once_and_settle_it_once(pg_database, stack_factory, httpserver):
    requested: Counter[str] = Counter()
    lock = threading.Lock()

    def request_to_pay(request):
        with lock:
            requested[request.headers["X-Reference-Id"]] += 1
        return Response("", 202)

    def status(request):
        reference = request.path.rsplit("/", 1)[1]
        body = {"status": "SUCCESSFUL", "financialTransactionId": str(int(reference[:7], 16))}
        return Response(json.dumps(body), 200, content_type="application/json")

    httpserver.expect_request("/collection/token/", method="POST").respond_with_json(
        {"access_token": "t", "token_type": "access_token", "expires_in": 3600}
    )
    httpserver.expect_request(RTP, method="POST").respond_with_handler(request_to_pay)
    httpserver.expect_request(re.compile(f"^{RTP}/[0-9a-f-]+$"), method="GET").respond_with_handler(status)
    stack = stack_factory(
        pg_database, "", PAYMENT_PROVIDER="momo", MOMO_UPSTREAM_URL=httpserver.url_for("").rstrip("/"),
        MOMO_UPSTREAM_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY, MOMO_UPSTREAM_API_USER=API_USER,
        MOMO_UPSTREAM_API_KEY=API_KEY, MOMO_CALLBACK_BASE="http://127.0.0.1:9",
    )
    workers = [stack.worker(f"worker-{i}") for i in range(3)]
    wait_for(lambda: stack.sql("SELECT count(*) FROM payments_workerheartbeat")[0][0] == 3,
             timeout=30, what="three workers to beat")

    stack.script(
        "from decimal import Decimal\n"
        "from payments.services import payment_create\n"
        "for _ in range(150): payment_create(amount=Decimal('5'), currency='EUR', phone_number='46733123499')\n"
    )
    wait_for(lambda: stack.sql("SELECT count(*) FROM payments_payment WHERE status = 'processing'")[0][0] == 0,
             timeout=40, interval=0.25, what="every upstream payment to settle")

    references = [r for (r,) in stack.sql("SELECT reference::text FROM payments_payment WHERE provider = 'momo'")]
    assert len(references) == 150
    assert set(requested) == set(references) and set(requested.values()) == {1}, "a payment was requested twice"
    settled = dict(stack.sql(
        "SELECT p.reference::text, count(l.id) FROM payments_payment p JOIN payments_paymentlog l"
        " ON l.payment_id = p.id AND l.event = 'settled' GROUP BY p.reference"
    ))
    assert set(settled.values()) == {1} and len(settled) == 150
    assert not stack.sql(
        "SELECT 1 FROM payments_payment WHERE status <> 'successful' OR financial_transaction_id = ''"
    )
    actors = {a for (a,) in stack.sql("SELECT DISTINCT actor FROM payments_paymentlog WHERE event = 'settled'")}
    assert len(actors) >= 2, f"the workers should share the schedule: {actors}"
    for worker in workers:
        assert worker.alive(), worker.output()
