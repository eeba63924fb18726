"""Redis restarted under connected pages: every page converges to the database, no reload.

What each layer loses (see consumers/resync.py): the pub/sub layer drops what is published
while Redis is down (it resubscribes afterwards); the core layer also forgets every group
membership. Either way each server's probe notices and its pages resync from the database.
"""

import time

import pytest

from tests.support.scaleout import wait_until_all_show_the_truth
from tests.support import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]
PAUSE = "from payments.services import settings_update; settings_update(actor='test', paused={paused})"


@pytest.mark.parametrize("layer", ["pubsub", "core"])
def test_it_brings_every_page_back_to_the_database_state_after_a_redis_restart(
    layer, pg_database, private_redis, stack_factory, pages
):
    stack = stack_factory(pg_database, private_redis.url, CHANNEL_LAYER=layer)
    servers = [stack.server("daphne-a"), stack.server("daphne-b")]
    stack.worker("worker")
    session = stack.operator_session()

    # Ten payments settle while Redis is down, ten after it is back. Settlement stays paused
    # until Redis is down: on a loaded machine the pages may take longer to open than any
    # timeout, and a payment settled before the shutdown is (rightly) pushed.
    stack.script(PAUSE.format(paused=True))
    stack.settle_after(1)
    during = [servers[i % 2].create_payment()["reference"] for i in range(10)]
    stack.settle_after(9)
    after = [servers[i % 2].create_payment()["reference"] for i in range(10)]
    references = during + after
    checkouts = [pages.checkout(servers[i % 2], ref) for i, ref in enumerate(references)]
    dashboards = [pages.dashboard(server, session) for server in servers]
    pages.wait_open()
    watching = {**{page: [ref] for page, ref in zip(checkouts, references)}, **{d: references for d in dashboards}}
    wait_until_all_show_the_truth(stack, watching, timeout=10)

    private_redis.shutdown_nosave()
    try:
        stack.script(PAUSE.format(paused=False))  # the workers read the pause from the database
        wait_for(
            lambda: all(stack.truth()[ref][0] != "processing" for ref in during),
            timeout=15, interval=0.25, what="the worker to settle the first ten while Redis is down",
        )
        assert all(page.shown[ref][0] == "processing" for page, ref in zip(checkouts, during)), "pushed without Redis?"
    finally:
        private_redis.start()
    back = time.monotonic()
    seconds = wait_until_all_show_the_truth(stack, watching, timeout=15)
    print(f"{layer}: pages converged {seconds:.1f} s after Redis came back")

    wait_for(
        lambda: all(stack.truth()[ref][0] != "processing" for ref in after),
        timeout=20, interval=0.25, what="the last ten to settle after the restart",
    )
    wait_until_all_show_the_truth(stack, watching, timeout=15)
    assert time.monotonic() - back < 30
    assert all(page.shown[ref][1] == 2 for page, ref in zip(checkouts, references))
    print(f"{layer}: reconnects per page: {sorted(p.connects for p in pages.clients)}")
