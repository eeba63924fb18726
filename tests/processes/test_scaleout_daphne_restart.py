"""A Daphne process restarted under connected pages: they reconnect and resync.

The payments settle while the server is down, so their pushes reach nobody on it; the
pages must still show the result, from the snapshot every (re)connect sends first. A page
on the other Daphne process never notices.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.support.scaleout import wait_until_all_show_the_truth
from tests.support import port_open, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.browser, pytest.mark.slow]

RESULT = re.compile("Payment successful|Payment failed")


def test_it_reconnects_and_resyncs_pages_after_their_daphne_process_restarts(
    pg_database, private_redis, stack_factory, pages, page
):
    stack = stack_factory(pg_database, private_redis.url)
    restarted, other = stack.server("daphne-restarted"), stack.server("daphne-other")
    stack.worker("worker")
    session = stack.operator_session()
    stack.settle_after(4)
    references = [restarted.create_payment()["reference"] for _ in range(10)]

    checkouts = [pages.checkout(restarted, ref) for ref in references[1:]]
    dashboard = pages.dashboard(restarted, session)
    bystander = pages.checkout(other, references[0])
    page.goto(f"{restarted.base_url}/pay/{references[0]}/")  # a real browser on the restarted server
    page.evaluate("window.__sameDocument = true")
    expect(page.get_by_text("Waiting for payment authorization...")).to_be_visible()
    pages.wait_open()

    restarted.stop()
    wait_for(lambda: not port_open(restarted.port), timeout=10, what="the server to go down")
    wait_for(
        lambda: all(stack.truth()[ref][0] != "processing" for ref in references),
        timeout=15, interval=0.25, what="every payment to settle while the server is down",
    )
    assert all(c.shown[ref] == ("processing", 1) for c, ref in zip(checkouts, references[1:]))
    restarted.start()

    watching = {**{c: [ref] for c, ref in zip(checkouts, references[1:])}, dashboard: references, bystander: references[:1]}
    seconds = wait_until_all_show_the_truth(stack, watching, timeout=15)
    expect(page.locator(f"#payment-{references[0]}")).to_contain_text(RESULT, timeout=15_000)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert all(c.connects >= 2 for c in [*checkouts, dashboard]), "the restarted server's pages reconnected"
    assert bystander.connects == 1, "a page on the other server never noticed"
    print(f"pages resynced {seconds:.1f} s after the server came back")
