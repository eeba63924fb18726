"""A worker SIGKILLed in the middle of a burst on PostgreSQL: nothing is lost or settled twice.

Its open transaction dies with its connection, so PostgreSQL releases the rows it had
locked (`SKIP LOCKED` claims) and another worker, or itself restarted, settles them.
"""

import signal

import pytest

from tests.support.scaleout import assert_each_settled_exactly_once, create_due_backlog, processing_count, settled_by
from tests.support import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

TOTAL = 3000


def test_it_settles_every_payment_exactly_once_when_a_worker_is_sigkilled_mid_burst_and_restarted(
    pg_database, private_redis, stack_factory
):
    stack = stack_factory(pg_database, private_redis.url)
    stack.settle_after(0)
    create_due_backlog(stack, TOTAL)
    victim = stack.worker("victim")
    survivor = stack.worker("survivor")

    def victim_working() -> bool:
        actors = settled_by(stack)
        return any(str(victim.popen.pid) in actor and n >= 100 for actor, n in actors.items())

    wait_for(victim_working, timeout=30, interval=0.02, what="the victim to be settling")
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait(timeout=10)
    left = processing_count(stack)
    assert 0 < left < TOTAL, f"the kill should land mid-burst ({left} left)"

    restarted = stack.worker("victim-restarted")
    wait_for(lambda: processing_count(stack) == 0, timeout=60, interval=0.25, what="the burst to finish")
    assert_each_settled_exactly_once(stack, TOTAL)
    assert survivor.alive() and restarted.alive()
    print(f"killed with {left} of {TOTAL} left; settled by: {settled_by(stack)}")
