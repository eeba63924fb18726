"""Three worker processes on PostgreSQL split a burst: each payment settles once, on time."""

import pytest

from tests.support.scaleout import assert_each_settled_exactly_once, create_due_backlog, processing_count
from tests.support import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def test_it_settles_1000_payments_with_three_workers_each_once_within_a_second_of_its_due_time(
    pg_database, private_redis, stack_factory
):
    stack = stack_factory(pg_database, private_redis.url)
    workers = [stack.worker(f"worker-{i}") for i in range(3)]
    wait_for(
        lambda: stack.sql("SELECT count(*) FROM payments_workerheartbeat")[0][0] == 3,
        timeout=20, what="three workers to beat",
    )

    create_due_backlog(stack, 1000, due_in=3, spread=2)  # 500 falling due per second
    wait_for(lambda: processing_count(stack) == 0, timeout=30, interval=0.25, what="every payment to settle")

    assert_each_settled_exactly_once(stack, 1000)
    [(latest, p99, spread)] = stack.sql(
        "SELECT max(extract(epoch FROM settled_at - settle_at)),"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM settled_at - settle_at)),"
        " extract(epoch FROM max(settle_at) - min(settle_at)) FROM payments_payment"
    )
    print(f"1,000 due over {spread:.1f} s: p99 {p99 * 1000:.0f} ms, worst {latest * 1000:.0f} ms after settle_at")
    assert latest < 1.0, f"a payment settled {latest:.2f} s after its settle_at"
    assert not stack.sql("SELECT 1 FROM payments_payment WHERE settled_at < settle_at")
    actors = dict(stack.sql(
        "SELECT actor, count(*) FROM payments_paymentlog WHERE event = 'settled' GROUP BY actor"
    ))
    assert len(actors) == 3, f"the three workers should share the burst: {actors}"
    for worker in workers:
        assert worker.alive(), worker.output()
