"""Two real LiveSettle processes: B, a simulator serving the MoMo Collections API (with its
callbacks and fault injection), and A, `PAYMENT_PROVIDER=momo` pointed at B over loopback.
A customer pays on A; B decides; A's page flips, pushed, from B's callback or A's status
schedule. The same client code talks to MTN by changing MOMO_UPSTREAM_URL."""

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment, PaymentLog
from payments.upstream import backoff
from tests.support import sqlite_url_of_test_db
from tests.support import wait_for
from tests.support.pages import expect_live, pay
from tests.support.upstream import Client, Upstream, http_json

pytestmark = pytest.mark.slow

FLIP_OBSERVER = """
window.__finalAt = null;
new MutationObserver(() => {
  if (window.__finalAt === null && document.querySelector('[data-status="successful"], [data-status="failed"]')) {
    window.__finalAt = performance.timeOrigin + performance.now();
  }
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


@pytest.fixture
def world(transactional_db, tmp_path):
    """`world.upstream(timeout=2)` starts B, `world.client(b)` starts A on the pytest database."""
    started: list = []

    def upstream(**kwargs) -> Upstream:
        started.append(Upstream(tmp_path, **kwargs))
        return started[-1]

    def client(b: Upstream, **kwargs) -> Client:
        started.append(Client(tmp_path, b, database_url=sqlite_url_of_test_db(), **kwargs))
        return started[-1]

    yield SimpleNamespace(upstream=upstream, client=client)
    for server in reversed(started):
        server.stop()


def watch_flip(page: Page) -> None:
    page.add_init_script(FLIP_OBSERVER)


def flipped_at(page: Page, timeout_s: float) -> float:
    """When the page showed a final status (wall clock, seconds), waiting up to `timeout_s`."""
    return page.wait_for_function("() => window.__finalAt", timeout=timeout_s * 1000).json_value() / 1000


def create_on(a: Client, phone: str, currency: str = "EUR") -> str:
    body = {"amount": "25", "currency": currency, "phone_number": phone}
    status, body = http_json("POST", f"{a.base_url}/api/payments/", body)
    assert status == 201, (status, body)
    return body["reference"]


def submitted(reference: str) -> bool:
    return Payment.objects.filter(reference=reference, upstream_submitted_at__isnull=False).exists()


def callbacks_received(reference: str) -> int:
    return PaymentLog.objects.filter(payment__reference=reference, details__callback="received").count()


@pytest.mark.browser
def test_the_page_flips_within_1_s_of_the_upstream_settling_for_a_success_and_two_failures(world, browser):
    """B settles 3 s after the request to pay, between A's status checks at 2 s and 6 s:
    only B's callback can get the page there within the second."""
    b = world.upstream(timeout=3)
    a = world.client(b)
    context = browser.new_context()
    cases = {"46733123499": ("Payment successful", ""),
             "46733123451": ("Payment failed", "The payment was declined on the phone."),
             "46733123455": ("Payment failed", "The mobile money account for this number was not found.")}
    pages = {}
    polls: list[str] = []
    context.on("request", lambda request: polls.append(request.url) if "/status/" in request.url else None)
    for phone in cases:  # three customers paying at once, each on a tab of their own
        page = context.new_page()
        watch_flip(page)
        pages[phone] = (page, pay(page, a.base_url, phone=phone))
        expect_live(page)
        page.evaluate("window.__sameDocument = true")
    for phone, (page, payment) in pages.items():
        heading, words = cases[phone]
        flipped = flipped_at(page, 15)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        if words:
            expect(page.get_by_text(words)).to_be_visible()
        assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
        on_b = b.payment(payment.reference)
        lateness = flipped - b.settled_at(payment.reference)
        assert 0 < lateness < 1.0, (phone, lateness)
        payment.refresh_from_db()
        assert (payment.status, payment.reason) == (on_b["status"], on_b["reason"])
        assert callbacks_received(payment.reference) >= 1  # B's callback, not the schedule, said when
        print(f"\n{phone}: A's page flipped {lateness * 1000:.0f} ms after B settled")
    assert polls == [], "a page polled: the result should have been pushed"
    context.close()


@pytest.mark.browser
def test_with_every_callback_dropped_the_page_still_flips_by_the_status_schedule(world, browser):
    """B drops every callback (its fault injection): A learns the result from its status
    checks, 2 s then 4 s apart, so the page flips at most one backoff step after B settles."""
    b = world.upstream(timeout=3)
    b.faults(drop_rate=1)
    a = world.client(b)
    context = browser.new_context()
    page = context.new_page()
    watch_flip(page)
    payment = pay(page, a.base_url, phone="46733123499")
    expect_live(page)
    flipped = flipped_at(page, 15)
    expect(page.get_by_role("heading", name="Payment successful")).to_be_visible()
    lateness = flipped - b.settled_at(payment.reference)
    print(f"\ncallbacks dropped: A's page flipped {lateness * 1000:.0f} ms after B settled")
    assert 0 < lateness <= backoff(1) + 1.0, lateness
    payment.refresh_from_db()
    assert payment.financial_transaction_id == b.payment(payment.reference)["financial_transaction_id"]
    assert callbacks_received(payment.reference) == 0
    context.close()


def test_503s_on_the_first_requests_to_pay_make_one_payment_upstream_that_settles(world):
    b = world.upstream(timeout=2)
    b.faults(api_error_rate=1)  # every request to pay refused with 503 or 500
    a = world.client(b)
    reference = create_on(a, "46733123499")
    errors = lambda: PaymentLog.objects.filter(payment__reference=reference, details__has_key="error")  # noqa: E731
    wait_for(lambda: errors().count() >= 2, timeout=15, what="two refused requests to pay")
    assert b.payments_with(reference) == 0
    b.faults(api_error_rate=0)
    wait_for(lambda: Payment.objects.get(reference=reference).status != "processing", timeout=20, what="the settlement")
    assert b.payments_with(reference) == 1
    payment = Payment.objects.get(reference=reference)
    assert (payment.status, payment.financial_transaction_id) == ("successful", b.payment(reference)["financial_transaction_id"])
    first = errors().first().details["error"]
    assert "503 SERVICE_UNAVAILABLE" in first or "500 INTERNAL_PROCESSING_ERROR" in first


def callback_url_on_b(b: Upstream, reference: str) -> str:
    """The X-Callback-Url A sent (B keeps it): what an eavesdropper on the callback would know."""
    [(url,)] = b.rows("SELECT callback_url FROM payments_payment WHERE reference = ?", reference.replace("-", ""))
    return url


def test_forged_and_duplicate_callbacks_settle_nothing_wrongly(world):
    b = world.upstream(timeout=3)
    a = world.client(b)
    assert f"settled by the MoMo upstream at 127.0.0.1:{b.port} (ok)" in a.log.read_text()
    pending = create_on(a, "46733123454")  # B: PENDING until it expires
    declined = create_on(a, "46733123451")  # B: FAILED, APPROVAL_REJECTED after 3 s
    wait_for(lambda: submitted(pending) and submitted(declined), timeout=10, what="the requests to pay")
    forged = {"status": "SUCCESSFUL", "financialTransactionId": "1", "amount": "25", "currency": "EUR"}

    url = callback_url_on_b(b, pending)
    assert url.startswith(f"{a.base_url}/provider/momo/callback/{pending}/")
    for wrong in (re.sub(r"/[0-9a-f]{64}/$", "/" + "0" * 64 + "/", url), url.replace(pending, declined)):
        assert http_json("POST", wrong, forged)[0] == 404
    # The right URL with a lying body: A asks B, B says PENDING, nothing settles.
    checks = Payment.objects.get(reference=pending).upstream_attempts
    assert http_json("POST", url, forged)[0] == 200
    wait_for(lambda: Payment.objects.get(reference=pending).upstream_attempts > checks, timeout=5, what="A's status check")
    assert Payment.objects.get(reference=pending).status == "processing"
    assert callbacks_received(pending) == 1

    # B has FAILED it; a callback claiming SUCCESSFUL cannot make it so.
    wait_for(lambda: b.payment(declined)["status"] == "failed", timeout=10, what="B to decline")
    assert http_json("POST", callback_url_on_b(b, declined), forged)[0] == 200
    wait_for(lambda: Payment.objects.get(reference=declined).status != "processing", timeout=10, what="A to settle")
    payment = Payment.objects.get(reference=declined)
    assert (payment.status, payment.reason, payment.financial_transaction_id) == ("failed", "APPROVAL_REJECTED", "")
    for _ in range(3):  # duplicates and late copies, lying or not
        assert http_json("PUT", callback_url_on_b(b, declined), forged)[0] == 200
    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.version) == ("failed", payment.version)
    assert PaymentLog.objects.filter(payment=payment, event="settled").count() == 1
    assert Payment.objects.get(reference=pending).status == "processing"


def test_payments_pending_upstream_while_a_is_killed_settle_from_the_schedule_after_restart(world):
    b = world.upstream(timeout=5)  # A checks at 2 s and 6 s: killed well before it could settle any
    a = world.client(b)
    phones = ["46733123499", "46733123451", "46733123452", "46733123499", "46733123455"]
    references = [create_on(a, phone) for phone in phones]
    wait_for(lambda: all(submitted(r) for r in references), timeout=15, what="every request to pay")
    a.process.kill()  # SIGKILL: nothing in memory survives
    wait_for(lambda: all(b.payment(r)["status"] != "processing" for r in references), timeout=20, what="B to settle all")
    assert Payment.objects.filter(reference__in=references, status="processing").count() == len(references)

    a.start()
    wait_for(lambda: not Payment.objects.filter(reference__in=references, status="processing").exists(),
             timeout=15, what="A to settle every one from its schedule")
    for reference in references:
        on_a, on_b = Payment.objects.get(reference=reference), b.payment(reference)
        assert (on_a.status, on_a.reason) == (on_b["status"], on_b["reason"]), reference
        assert b.payments_with(reference) == 1


def test_refused_credentials_are_one_line_at_start_and_provider_down_on_healthz(world):
    b = world.upstream(timeout=3)
    user, _ = b.provision()
    a = world.client(b, credentials=(user, "0" * 32))
    banner = [line for line in a.log.read_text().splitlines() if "settled by the MoMo upstream" in line]
    assert banner == [
        f"  settled by the MoMo upstream at 127.0.0.1:{b.port} (down: the upstream refused the credentials "
        "(401); check MOMO_UPSTREAM_API_USER / MOMO_UPSTREAM_API_KEY); Ctrl+C stops"
    ]
    status, health = http_json("GET", f"{a.base_url}/healthz")
    assert status == 200 and health["provider"].startswith("down: the upstream refused the credentials (401)")
    reference = create_on(a, "46733123499")  # taken, and kept processing until the credentials work
    wait_for(lambda: PaymentLog.objects.filter(payment__reference=reference, details__has_key="error").exists(),
             timeout=10, what="the refused attempt to be logged")
    assert Payment.objects.get(reference=reference).status == "processing"
    assert "Traceback" not in a.log.read_text()


def test_a_refusal_fails_at_once_in_words_and_a_payment_pending_upstream_expires(world):
    b = world.upstream(timeout=2)
    a = world.client(b, PAYMENT_EXPIRY_SECONDS="6")
    refused = create_on(a, "46733123499", currency="USD")  # B's sandbox takes EUR only
    pending = create_on(a, "46733123454")  # B keeps it PENDING
    wait_for(lambda: Payment.objects.get(reference=refused).status != "processing", timeout=10, what="the refusal")
    payment = Payment.objects.get(reference=refused)
    assert (payment.status, payment.reason) == ("failed", "INVALID_CURRENCY") and b.payments_with(refused) == 0
    status, page = http_json("GET", f"{a.base_url}/pay/{refused}/")
    assert status == 200 and "Payment failed" in page and "This currency is not supported for the account." in page
    wait_for(lambda: Payment.objects.get(reference=pending).status != "processing", timeout=15, what="the expiry")
    payment = Payment.objects.get(reference=pending)
    assert (payment.status, payment.reason) == ("failed", "EXPIRED")
    assert b.payment(pending)["status"] == "processing"


def test_a_refund_of_an_upstream_payment_goes_upstream_as_a_disbursement_refund(world):
    from decimal import Decimal

    from payments import services

    b = world.upstream(timeout=1)
    a = world.client(b)
    reference = create_on(a, "46733123499")  # 25 EUR, successful on B after 1 s
    wait_for(lambda: Payment.objects.get(reference=reference).status == "successful", timeout=20, what="the payment")
    paid = Payment.objects.get(reference=reference)
    refund = services.payment_refund(payment=paid, amount=Decimal("10"), actor="operator:t", strict=True)
    assert refund.provider == "momo"  # B decides it, like the payment it refunds
    wait_for(lambda: Payment.objects.get(pk=refund.pk).status != "processing", timeout=30, what="the refund")
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert (refund.status, paid.refunded_amount) == ("successful", Decimal("10.00"))
    [(kind, status, amount, refunded)] = b.rows(
        "SELECT r.kind, r.status, r.amount, o.refunded_amount FROM payments_payment r"
        " JOIN payments_payment o ON o.id = r.refund_of_id WHERE r.reference = ?", refund.reference.hex,
    )
    assert (kind, status, str(amount), str(refunded)) == ("refund", "successful", "10", "10")
    logged = PaymentLog.objects.filter(payment=refund, event="upstream").values_list("details", flat=True)
    assert any(d.get("request_to_pay") == "accepted" for d in logged)
