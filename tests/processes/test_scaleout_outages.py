"""Redis or PostgreSQL down: /healthz says which, the API answers 503 in words, the worker
waits, and once the service is back nothing is lost or settled twice.

PostgreSQL is taken away through a TCP proxy the test cuts (every connection dropped, new
ones refused), which is what an outage looks like from the app, without stopping the
PostgreSQL server other tests share. Redis is a private server, really shut down.
"""

import time

import pytest

from tests.support.scaleout import assert_each_settled_exactly_once, processing_count, TcpProxy
from tests.support import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

NEW = {"amount": "12.50", "currency": "EUR", "phone_number": "46733123499"}


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_it_says_redis_is_down_keeps_settling_and_recovers_when_it_is_back(pg_database, private_redis, stack_factory):
    stack = stack_factory(pg_database, private_redis.url)
    stack.settle_after(1)
    server = stack.server("daphne")
    worker = stack.worker("worker")
    wait_for(lambda: server.get("/healthz") == (200, {"database": "ok", "channel_layer": "ok", "worker": "ok"}),
             timeout=15, what="a healthy stack")

    private_redis.shutdown_nosave()
    try:
        status, health = server.get("/healthz")
        assert status == 503
        assert health["database"] == "ok" and health["channel_layer"].startswith("down")
        # The database is the truth: payments are still taken and settled, only pushes wait.
        created = [server.create_payment()["reference"] for _ in range(5)]
        wait_for(lambda: processing_count(stack) == 0, timeout=15, what="settlements without Redis")
    finally:
        private_redis.start()
    wait_for(lambda: server.get("/healthz")[0] == 200, timeout=15, what="/healthz to recover")
    assert_each_settled_exactly_once(stack, len(created))
    assert worker.alive(), worker.output()


def test_it_answers_503_while_postgres_is_down_and_the_worker_settles_everything_once_after(
    pg_database, private_redis, stack_factory
):
    proxy = TcpProxy(int(pg_database.rsplit(":", 1)[1].split("/")[0]))
    proxied = pg_database.replace(pg_database.rsplit("@", 1)[1].split("/")[0], f"127.0.0.1:{proxy.port}")
    stack = stack_factory(proxied, private_redis.url, check_url=pg_database)
    stack.settle_after(2)
    server = stack.server("daphne")
    worker = stack.worker("worker")
    references = [server.create_payment()["reference"] for _ in range(20)]
    wait_for(lambda: stack.sql("SELECT count(*) FROM payments_workerheartbeat")[0][0] == 1,
             timeout=20, what="the worker to be running")

    proxy.cut()
    try:
        (status, health), seconds = timed(lambda: server.get("/healthz"))
        assert status == 503 and health["database"].startswith("down") and health["channel_layer"] == "ok"
        assert seconds < 5, f"/healthz took {seconds:.1f} s to say the database is down"
        (status, body), seconds = timed(lambda: server.request("/api/payments/", NEW))
        assert status == 503 and "unavailable" in body["detail"], body
        assert seconds < 5, f"the API took {seconds:.1f} s to answer 503"
        status, text = server.get(f"/pay/{references[0]}/")
        assert status == 503 and "unavailable" in text and "Traceback" not in text
        # Everything falls due during the outage; the worker must wait, not die.
        wait_for(lambda: "database unavailable" in worker.output(), timeout=15, what="the worker to notice")
        assert worker.alive(), worker.output()
    finally:
        proxy.restore()
    back = time.monotonic()
    wait_for(lambda: processing_count(stack) == 0, timeout=20, interval=0.25, what="the backlog to settle")
    settled = time.monotonic() - back
    wait_for(lambda: server.get("/healthz")[0] == 200, timeout=20, interval=0.25, what="/healthz to recover")
    print(f"after PostgreSQL came back: backlog settled in {settled:.1f} s, /healthz 200 in {time.monotonic() - back:.1f} s")
    assert_each_settled_exactly_once(stack, 20)
    assert worker.alive()
